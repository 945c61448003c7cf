"""The ceiling: the same steps fed one cached batch, so that input costs nothing.

After a call has run on the user's data, the doctor runs the same method of
the same model again, for as many steps, on one batch of that data repeated
(``tf.data.Dataset.from_tensors(batch).repeat()``; on a Keras 3 backend other
than TensorFlow, a generator that yields the batch again and again). Its
step time is the model's compute alone; the call's own step time less that is
the wait for input.

The ceiling's steps must not change what the user's script sees afterwards:
the model's variables, the optimizer's (its step counter and slots), the
metrics' states, ``model.history`` and ``model.stop_training`` are saved
before and put back after.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import Any, Callable, Iterator

from safeloader.doctor.clocks import step_clocks
from safeloader.doctor.measurement import StepTimes, steady_window


def as_tuples(structure: Any) -> Any:
    """Lists become tuples, all the way down (tf.data would stack a list into one tensor)."""
    if isinstance(structure, (list, tuple)):
        return tuple(as_tuples(item) for item in structure)
    if isinstance(structure, dict):
        return {key: as_tuples(value) for key, value in structure.items()}
    return structure


def repeated_batch(batch: Any, use_tf_data: bool) -> Any:
    """Data that yields ``batch`` for ever, in the form the backend reads fastest."""
    batch = as_tuples(batch)
    if use_tf_data:
        import tensorflow as tf

        return tf.data.Dataset.from_tensors(batch).repeat()
    return _forever(batch)


def _forever(batch: Any) -> Iterator[Any]:
    yield from itertools.repeat(batch)


def _state_variables(model: Any) -> list[Any]:
    """The variables a training step may change: the model's, its optimizer's, its metrics'."""
    groups: list[Any] = [getattr(model, "variables", ())]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        variables = getattr(optimizer, "variables", ())
        groups.append(variables() if callable(variables) else variables)
    for metric in getattr(model, "metrics", ()):
        groups.append(getattr(metric, "variables", ()))
    unique: dict[int, Any] = {}
    for group in groups:
        for variable in group:
            unique.setdefault(id(variable), variable)
    return list(unique.values())


@contextlib.contextmanager
def preserved_state(model: Any) -> Iterator[None]:
    """Put the model's variables, ``history`` and ``stop_training`` back on leaving."""
    variables = _state_variables(model)
    values = [variable.numpy() for variable in variables]
    attributes = {name: getattr(model, name) for name in ("history", "stop_training")
                  if hasattr(model, name)}
    try:
        yield
    finally:
        for variable, value in zip(variables, values):
            variable.assign(value)
        for name, value in attributes.items():
            setattr(model, name, value)


def ceiling_step_seconds(
    method: Callable[..., Any], model: Any, mode: str, batch: Any, *,
    callback_base: type, use_tf_data: bool, verbose: Any, warmup: int, steps: int,
) -> float | None:
    """Run ``method`` (an unwrapped ``fit``/``evaluate``/``predict``) of ``model`` on
    ``batch`` repeated; return its mean step time (read as the call's), or ``None``
    if too few steps ran.

    ``verbose`` is the call's: Keras' progress bar is part of the loop in the
    call and in its ceiling alike; here it writes to ``os.devnull``.
    """
    times = StepTimes()
    options: dict[str, Any] = {"verbose": verbose,
                               "callbacks": list(step_clocks(callback_base, mode, times))}
    total = warmup + steps + 1  # the last step's cycle ends at none
    if mode == "train":
        options.update(epochs=1, steps_per_epoch=total, shuffle=False)
    else:
        options.update(steps=total)
    with preserved_state(model), open(os.devnull, "w") as nowhere, \
            contextlib.redirect_stdout(nowhere):
        method(model, repeated_batch(batch, use_tf_data), **options)
    window = steady_window(times, warmup, steps)
    return window.step_seconds if window is not None else None
