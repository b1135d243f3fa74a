"""Reporting: the audit report, the model card and their figures, from what the core produced."""

from ._figures import calibration_figure, close_figure
from ._html import build_report, write_report
from ._model_card import model_card
from ._tables import accuracy_table

__all__ = ["accuracy_table", "build_report", "calibration_figure", "close_figure", "model_card", "write_report"]
