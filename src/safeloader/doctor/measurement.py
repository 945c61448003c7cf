"""Step times and the share of step time spent waiting for input.

A Keras step cycle takes the next batch and runs the model on it. Timed from
one step's start to the next one's (the user's callbacks left out, see
:mod:`~safeloader.doctor.clocks`), it is the wait for input plus the
compute. The same steps fed one cached batch take the compute alone (the
*ceiling*: input then costs nothing). The share of step time spent waiting
for input is therefore

    input_bound = 1 - ceiling_step / step = (step - ceiling_step) / step,

clamped to [0, 1]. It is measured on steady steps: the first ``warmup``
batches of a call (tracing the step, starting the pipeline's threads and
workers, draining what they prepared meanwhile) are left out.

Both step times are means over their windows, as throughput is: a
generator read by Keras' worker threads delivers in bursts (a long wait,
then a few batches at once), and only the mean counts those right; an input
that is slow one batch in ten counts too. A busy machine delays steps of
both runs alike, so its delays largely cancel in the comparison.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class Step:
    """The four stamps of one step (one call of the step function: ``batches``
    batches under ``steps_per_execution``), ``None`` until taken."""

    first_batch: int
    begin_first: float  # the first clock's begin hook: the cycle starts
    begin_last: float | None = None  # the last clock's: the step function comes next
    end_first: float | None = None  # the first clock's end hook: the function returned
    end_last: float | None = None  # the last clock's: the user's end hooks are done
    last_batch: int | None = None

    @property
    def batches(self) -> int:
        """How many batches the step took."""
        return (self.last_batch if self.last_batch is not None else self.first_batch) \
            - self.first_batch + 1

    @property
    def callbacks_seconds(self) -> float:
        """Time in the user's callbacks at this step (between the two clocks)."""
        begin = end = 0.0
        if self.begin_last is not None:
            begin = self.begin_last - self.begin_first
        if self.end_first is not None and self.end_last is not None:
            end = self.end_last - self.end_first
        return begin + end


@dataclass
class StepTimes:
    """What the step clocks saw in one ``fit``/``evaluate``/``predict`` call."""

    steps: list[Step] = field(default_factory=list)

    def stamp_begin(self, batch: int, first: bool) -> None:
        """A begin hook ran: the first clock opens a step, the last one stamps it."""
        now = time.perf_counter()
        if first:
            self.steps.append(Step(batch, now))
        elif self.steps:
            self.steps[-1].begin_last = now

    def stamp_end(self, batch: int, first: bool) -> None:
        """An end hook ran: stamp the open step."""
        now = time.perf_counter()
        if not self.steps:
            return
        step = self.steps[-1]
        if first:
            step.end_first, step.last_batch = now, max(batch, step.first_batch)
        else:
            step.end_last = now

    def batches(self) -> int:
        """Batches run in all."""
        return sum(step.batches for step in self.steps)


@dataclass(frozen=True)
class Window:
    """The steady part of a call: per-batch step time and throughput."""

    batches: int
    warmup: int
    step_seconds: float  # the mean step, per batch, the user's callbacks left out
    wall_seconds: float  # per batch, everything included

    @property
    def steps_per_second(self) -> float:
        """Batches per second over the window, callbacks included."""
        return 1.0 / self.wall_seconds if self.wall_seconds > 0 else math.inf


#: Fewest batches a window may hold; fewer give no figure.
MIN_BATCHES = 3


def steady_window(times: StepTimes, warmup: int, limit: int) -> Window | None:
    """The window of at most ``limit`` batches after ``warmup`` warm-up batches.

    A step's cycle runs from its start to the next step's start, so the last
    step of a call is never in a window. A call that ran too few batches for
    that (a dataset shorter than the warm-up) is measured from its second
    batch on: only tracing is left out. ``None`` when even that leaves fewer
    than :data:`MIN_BATCHES` batches.
    """
    cycles = list(zip(times.steps, times.steps[1:]))
    for skip in (warmup, 1):
        batches = 0
        wall = callbacks = 0.0
        for step, following in cycles:
            if step.first_batch < skip:
                continue
            if batches >= limit:
                break
            batches += step.batches
            wall += following.begin_first - step.begin_first
            callbacks += step.callbacks_seconds
        if batches >= MIN_BATCHES:
            return Window(batches, skip, (wall - callbacks) / batches, wall / batches)
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
    how: str  # e.g. "next() on it during the run, one thread"


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
