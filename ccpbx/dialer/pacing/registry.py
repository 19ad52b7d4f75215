"""Pacers by name: ``make_pacer("ratio:1.1")``, ``make_pacer("predictive", {...})``."""

from __future__ import annotations

from collections.abc import Mapping

from ccpbx.dialer.pacing.basic import ProgressivePacer, ReadyRatioPacer
from ccpbx.dialer.pacing.model import Pacer
from ccpbx.dialer.pacing.predictive import PREDICTIVE_OPTIONS, PredictivePacer
from ccpbx.dialer.pacing.vicidial import VicidialAdaptivePacer, VicidialRatioPacer

PACER_NAMES = (
    "progressive",
    "ratio:L",
    "ready_ratio:L",
    "vicidial_hard_limit",
    "vicidial_average",
    "vicidial_tapered",
    "predictive",
)

_FLOAT_PARAMS = {
    "predictive": {"horizons", *PREDICTIVE_OPTIONS},
    "vicidial": {"max_level", "start_level", "drop_target", "adapt_s"},
}


def _parse_options(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {part!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"option {key.strip()!r}: {value!r} is not a number") from None
    return out


def make_pacer(name: str, params: Mapping[str, float] | None = None) -> Pacer:
    """Build a fresh pacer from its name.

    Names: ``progressive``; ``ratio:L`` (VICIdial RATIO at dial level L);
    ``ready_ratio:L`` (L calls in flight per ready agent); ``vicidial_hard_limit``,
    ``vicidial_average``, ``vicidial_tapered``; ``predictive``. Options may follow the
    adaptive and predictive names as ``name:key=value,...`` or come in ``params``
    (e.g. ``vicidial_average:max_level=4``, ``predictive:margin=0.003``).
    Raises ValueError on an unknown name or option.
    """
    base, _, rest = name.strip().partition(":")
    if base in ("ratio", "ready_ratio"):
        if params:
            raise ValueError(f"{base} takes no params, only its level: {base}:L")
        try:
            level = float(rest)
        except ValueError:
            raise ValueError(f"{base} needs a numeric level, like {base}:1.5") from None
        return VicidialRatioPacer(level) if base == "ratio" else ReadyRatioPacer(level)
    options = dict(params or {})
    if rest:
        options.update(_parse_options(rest))
    if base == "progressive":
        if options:
            raise ValueError("progressive takes no options")
        return ProgressivePacer()
    if base == "predictive":
        _check(options, _FLOAT_PARAMS["predictive"], base)
        return PredictivePacer.from_options(options)
    if base.startswith("vicidial_"):
        mode = base.removeprefix("vicidial_")
        _check(options, _FLOAT_PARAMS["vicidial"], base)
        return VicidialAdaptivePacer(mode, **options)
    raise ValueError(f"unknown pacer {name!r}; known: {', '.join(PACER_NAMES)}")


def _check(options: Mapping[str, float], allowed: set[str], name: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"{name}: unknown options {sorted(unknown)}; known: {sorted(allowed)}")
