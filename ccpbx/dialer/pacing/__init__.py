"""Predictive-dialer pacing: pure objects that decide how many calls to place now."""

from ccpbx.dialer.pacing.basic import ProgressivePacer, ReadyRatioPacer
from ccpbx.dialer.pacing.model import AbandonWindow, BasePacer, Pacer, PacingSnapshot
from ccpbx.dialer.pacing.predictive import PredictivePacer
from ccpbx.dialer.pacing.registry import PACER_NAMES, make_pacer
from ccpbx.dialer.pacing.vicidial import VicidialAdaptivePacer, VicidialRatioPacer
from ccpbx.dialer.pacing.window import RollingCounter

__all__ = [
    "PACER_NAMES",
    "AbandonWindow",
    "BasePacer",
    "Pacer",
    "PacingSnapshot",
    "PredictivePacer",
    "ProgressivePacer",
    "ReadyRatioPacer",
    "RollingCounter",
    "VicidialAdaptivePacer",
    "VicidialRatioPacer",
    "make_pacer",
]
