"""The doctor's settings for one run."""

from __future__ import annotations

from dataclasses import dataclass

#: Steps measured per call, after the warm-up (``--steps``).
DEFAULT_STEPS = 20
#: Steps left out at the start of each call (``--warmup``), before any queue allowance.
DEFAULT_WARMUP = 5
#: Below this share of step time waiting for input, the report raises no alarm.
ADVICE_THRESHOLD = 0.2
#: ... and below this wait per step (seconds), however large its share of a tiny step.
ALARM_MIN_WAIT = 0.001


@dataclass(frozen=True)
class DoctorOptions:
    """How the doctor runs ``script``."""

    script: str
    steps: int = DEFAULT_STEPS
    warmup: int = DEFAULT_WARMUP
    spawn: bool = True  # spawn parity: check_spawn_safe and SLD103
    max_input_bound: float | None = None  # exit 1 above this (for CI)
