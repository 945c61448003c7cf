"""Step times and the share of step time spent waiting for input.

A Keras step (``train_function`` and its kin) takes the next batch and runs
the model on it; the time from the hook just before it to the hook just
after it is the step's time: the wait for input plus the compute. The same
steps fed one cached batch take the compute alone (the *ceiling*: input then
costs nothing). The share of step time spent waiting for input is therefore

    input_bound = 1 - ceiling_step / step = (step - ceiling_step) / step,

clamped to [0, 1]. It is measured on steady steps: the first ``warmup``
batches of a call (tracing the step, starting the pipeline's threads and
workers, draining what they prepared meanwhile) are left out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Execution:
    """One call of the step function: the batches it covered and when it ran."""

    first_batch: int
    last_batch: int
    started: float
    ended: float

    @property
    def batches(self) -> int:
        """How many batches the call took (``steps_per_execution``)."""
        return self.last_batch - self.first_batch + 1


@dataclass
class StepTimes:
    """What the step clocks saw in one ``fit``/``evaluate``/``predict`` call."""

    executions: list[Execution] = field(default_factory=list)
    _open: tuple[int, float] | None = field(default=None, init=False, repr=False)

    def begin(self, batch: int) -> None:
        """The hook just before a step: remember its first batch and the time."""
        self._open = (batch, time.perf_counter())

    def end(self, batch: int) -> None:
        """The hook just after a step: close the execution opened by :meth:`begin`."""
        ended = time.perf_counter()
        if self._open is None:
            return
        first, started = self._open
        self._open = None
        self.executions.append(Execution(first, max(batch, first), started, ended))


@dataclass(frozen=True)
class Window:
    """The steady part of a call: per-batch step time and throughput."""

    batches: int
    warmup: int
    step_seconds: float  # inside the step function, per batch
    wall_seconds: float  # from the first step's start to the last one's end, per batch

    @property
    def steps_per_second(self) -> float:
        """Batches per second over the window, hooks and callbacks included."""
        return 1.0 / self.wall_seconds if self.wall_seconds > 0 else math.inf


#: Fewest batches a window may hold; fewer give no figure.
MIN_BATCHES = 3


def steady_window(times: StepTimes, warmup: int, limit: int) -> Window | None:
    """The window of at most ``limit`` batches after ``warmup`` warm-up batches.

    A call that ran too few batches for that (a dataset shorter than the
    warm-up) is measured from its second batch on: only tracing is left out.
    ``None`` when even that leaves fewer than :data:`MIN_BATCHES` batches.
    """
    for skip in (warmup, 1):
        chosen: list[Execution] = []
        for execution in times.executions:
            if execution.first_batch < skip:
                continue
            if sum(e.batches for e in chosen) >= limit:
                break
            chosen.append(execution)
        batches = sum(e.batches for e in chosen)
        if batches >= MIN_BATCHES:
            inside = sum(e.ended - e.started for e in chosen)
            wall = chosen[-1].ended - chosen[0].started
            return Window(batches, skip, inside / batches, wall / batches)
    return None


def input_bound_share(step_seconds: float, ceiling_seconds: float) -> float:
    """``1 - ceiling / step``, clamped to [0, 1]: the share of a step spent waiting."""
    if step_seconds <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - ceiling_seconds / step_seconds))


@dataclass(frozen=True)
class InputAlone:
    """The input's own cost per batch, and how it was measured."""

    seconds_per_batch: float
    how: str  # e.g. "next() on the generator during the run, one thread"


@dataclass
class Measurement:
    """Everything measured at one call site (its first call)."""

    window: Window | None = None
    ceiling_seconds: float | None = None
    input_alone: InputAlone | None = None
    not_measured: str | None = None  # why input_bound is missing, when it is

    @property
    def input_bound(self) -> float | None:
        """The share of step time waiting for input; ``None`` when not measured."""
        if self.window is None or self.ceiling_seconds is None:
            return None
        return input_bound_share(self.window.step_seconds, self.ceiling_seconds)
