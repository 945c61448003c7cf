"""The step clocks: two Keras callbacks that stamp the start and end of every step.

Keras calls a call's callbacks in list order. The clock that stamps the
start of a step goes last in the list, so its ``on_*_batch_begin`` runs right
before the step function; the one that stamps the end goes first, so its
``on_*_batch_end`` runs right after it. The time between is the step itself
(waiting for the batch, then the model), without the other callbacks' work.
Keras adds its own ``History`` and progress bar after the user's list; their
``on_*_batch_begin`` hooks do nothing.

Both clocks define ``on_*_batch_end`` hooks, which makes Keras 3 call the
batch-end hooks in order on the training thread (it dispatches them to a
thread only when every callback leaves them alone): the end stamp must be
taken when the step returns, not later.
"""

from __future__ import annotations

from typing import Any

from safeloader.doctor.measurement import StepTimes

#: Keras' names for the three loops, by the method that runs them.
MODES = {"fit": "train", "evaluate": "test", "predict": "predict"}


def step_clocks(callback_base: type, mode: str, times: StepTimes) -> tuple[Any, Any]:
    """Return ``(end_clock, begin_clock)``: put the first first and the second last.

    ``callback_base`` is the flavour's ``Callback`` class (Keras 3's or
    tf_keras's); ``mode`` is ``"train"``, ``"test"`` or ``"predict"``. In
    ``fit`` the validation steps run the ``test`` hooks and are not timed.
    """

    class StepBeginClock(callback_base):  # type: ignore[misc, valid-type]
        """Stamps the start of each ``mode`` step (placed last)."""

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if mode == "train":
                times.begin(batch)

        def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
            if mode == "test":
                times.begin(batch)

        def on_predict_batch_begin(self, batch: int, logs: Any = None) -> None:
            if mode == "predict":
                times.begin(batch)

    class StepEndClock(callback_base):  # type: ignore[misc, valid-type]
        """Stamps the end of each ``mode`` step (placed first)."""

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if mode == "train":
                times.end(batch)

        def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
            if mode == "test":
                times.end(batch)

        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            if mode == "predict":
                times.end(batch)

    return StepEndClock(), StepBeginClock()


def with_clocks(callbacks: Any, clocks: tuple[Any, Any]) -> list[Any] | None:
    """The call's ``callbacks`` with the clocks around them; ``None`` when they cannot go in.

    A list, a tuple or ``None`` is extended; anything else (a ready-made
    ``CallbackList``) is left alone and the call is not timed.
    """
    end_clock, begin_clock = clocks
    if callbacks is None:
        return [end_clock, begin_clock]
    if isinstance(callbacks, (list, tuple)):
        return [end_clock, *callbacks, begin_clock]
    return None
