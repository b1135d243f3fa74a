"""Synthetic DTSEN-like registries with known targeting errors."""

from ._identity import DEFECTS
from ._programme import Mechanisms
from ._registry import Registry, generate_registry

__all__ = ["DEFECTS", "Mechanisms", "Registry", "generate_registry"]
