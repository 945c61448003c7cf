"""The step clocks: two Keras callbacks that bracket the user's callbacks at every step.

Keras calls a call's callbacks in list order, at the start of each step
(``on_*_batch_begin``) and at its end (``on_*_batch_end``). The doctor puts
one clock first in the list and one last, so that at every step it knows:

- when the step cycle began (the first clock's begin stamp) and when the next
  one began: the whole cycle, which is the loop's own work, the wait for the
  batch (inside the step function on TensorFlow; before the begin hooks on
  JAX, which pulls batches in Python) and the model's compute;
- how long the user's callbacks took, between the two clocks' stamps, at the
  start and at the end: that is not the loop's doing and is left out.

Keras adds its own ``History`` and progress bar after the user's list; they
are counted as part of the loop, in the call and in its ceiling alike.

The clocks define ``on_*_batch_end`` hooks, which makes Keras 3 run the
batch-end hooks in order on the training thread (it moves them to a thread
only when every callback leaves them alone): the stamps must be taken when
the step ends, not later.
"""

from __future__ import annotations

from functools import partialmethod
from typing import Any

from safeloader.doctor.measurement import StepTimes

#: Keras' names for the three loops, by the method that runs them.
MODES = {"fit": "train", "evaluate": "test", "predict": "predict"}


def step_clocks(callback_base: type, mode: str, times: StepTimes) -> tuple[Any, Any]:
    """Return ``(first_clock, last_clock)``: put the first first and the last last.

    ``callback_base`` is the flavour's ``Callback`` class (Keras 3's or
    tf_keras'); ``mode`` is ``"train"``, ``"test"`` or ``"predict"``. In
    ``fit`` the validation steps run the ``test`` hooks and are not timed.
    """

    class StepClock(callback_base):  # type: ignore[misc, valid-type]
        """Stamps the start and end of each ``mode`` step for the doctor."""

        def __init__(self, first: bool) -> None:
            super().__init__()
            self.first = first

        def _begin(self, hook_mode: str, batch: int, logs: Any = None) -> None:
            if hook_mode == mode:
                times.stamp_begin(batch, self.first)

        def _end(self, hook_mode: str, batch: int, logs: Any = None) -> None:
            if hook_mode == mode:
                times.stamp_end(batch, self.first)

        # every loop's hooks, ``mode``'s or not: Keras 3 runs a loop's batch-end hooks
        # on a thread of their own unless some callback defines them (module docstring)
        on_train_batch_begin = partialmethod(_begin, "train")
        on_train_batch_end = partialmethod(_end, "train")
        on_test_batch_begin = partialmethod(_begin, "test")
        on_test_batch_end = partialmethod(_end, "test")
        on_predict_batch_begin = partialmethod(_begin, "predict")
        on_predict_batch_end = partialmethod(_end, "predict")

    return StepClock(first=True), StepClock(first=False)


def with_clocks(callbacks: Any, clocks: tuple[Any, Any]) -> list[Any] | None:
    """The call's ``callbacks`` between the clocks; ``None`` when they cannot go in.

    A list, a tuple or ``None`` is extended; anything else (a ready-made
    ``CallbackList``) is left alone and the call is not timed.
    """
    first, last = clocks
    if callbacks is None:
        return [first, last]
    if isinstance(callbacks, (list, tuple)):
        return [first, *callbacks, last]
    return None
