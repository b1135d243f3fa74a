"""A block of features: named numeric columns with their meaning, questionnaire items and concept."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Block:
    """Named feature columns with their documentation, in insertion order."""

    columns: dict = field(default_factory=dict)
    docs: dict = field(default_factory=dict)

    def add(self, name: str, values, meaning: str, items: str, concept: str) -> None:
        self.columns[name] = np.asarray(values, dtype=np.float32)
        self.docs[name] = (meaning, items, concept)

    def extend(self, other: Block) -> Block:
        """Add ``other``'s columns after these."""
        self.columns.update(other.columns)
        self.docs.update(other.docs)
        return self


def codes(fam: pd.DataFrame, col: str) -> np.ndarray:
    """A code column as floats, NaN where missing."""
    return fam[col].to_numpy(dtype="float64", na_value=np.nan)


def dummies(block: Block, fam: pd.DataFrame, col: str, labels: dict, item: str, concept: str, skip=()) -> None:
    """One 0/1 column per code of ``col``."""
    values = codes(fam, col)
    for code, label in labels.items():
        if code in skip:
            continue
        block.add(f"{col}_{code}", values == code, f"{concept}: {label}", item, concept)
