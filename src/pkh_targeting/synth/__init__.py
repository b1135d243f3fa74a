"""Synthetic DTSEN-like registries with known targeting errors."""

from ._identity import DEFECTS
from ._registry import Registry, generate_registry

__all__ = ["DEFECTS", "Registry", "generate_registry"]
