"""The two Keras the doctor instruments, and the methods it wraps in each.

- Keras 3 (``keras``, any backend): ``fit``, ``evaluate``, ``predict``.
  Steps are capped through its public debugging switch
  ``keras.config.set_max_steps_per_epoch`` (which ``fit``'s validation, and
  every data type, obey); loader settings live on the ``PyDataset``.
- Keras 2 (``tf_keras``): the same three plus ``fit_generator``,
  ``evaluate_generator`` and ``predict_generator``. Steps are capped by
  editing the call's ``steps_per_epoch``/``steps``/``validation_steps``;
  ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are arguments of
  the call.

Methods are wrapped on the public ``Model`` class (``keras.Model``,
``tf_keras.Model``), which every ``Sequential``, functional and subclassed
model inherits.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterator

from safeloader.doctor.arguments import CallArguments
from safeloader.doctor.callsite import package_root
from safeloader.doctor.feeds import dataset_length, is_keras_dataset, is_tf_dataset


@dataclass(frozen=True)
class MethodSpec:
    """One wrapped method: its name, the modern method it is, its parameter names."""

    name: str  # as called, e.g. "fit_generator"
    modern: str  # "fit", "evaluate" or "predict"
    data: str  # the data parameter: "x" or "generator"
    steps: str  # "steps_per_epoch" or "steps"


_MODERN = (
    MethodSpec("fit", "fit", "x", "steps_per_epoch"),
    MethodSpec("evaluate", "evaluate", "x", "steps"),
    MethodSpec("predict", "predict", "x", "steps"),
)
_LEGACY = (
    MethodSpec("fit_generator", "fit", "generator", "steps_per_epoch"),
    MethodSpec("evaluate_generator", "evaluate", "generator", "steps"),
    MethodSpec("predict_generator", "predict", "generator", "steps"),
)

#: Keras' default batch size for in-memory arrays.
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Flavour:
    """One Keras package, as the doctor instruments it."""

    package: str  # "keras" or "tf_keras"
    module: ModuleType

    @property
    def keras3(self) -> bool:
        """Keras 3 (settings on the PyDataset), as opposed to tf_keras."""
        return self.package == "keras"

    @property
    def model_class(self) -> type:
        """The public ``Model`` class whose methods are wrapped."""
        return self.module.Model  # type: ignore[no-any-return]

    @property
    def callback_base(self) -> type:
        """The package's ``Callback`` class."""
        return self.module.callbacks.Callback  # type: ignore[no-any-return]

    @property
    def methods(self) -> tuple[MethodSpec, ...]:
        """The methods wrapped: the ``*_generator`` ones only where they exist."""
        return _MODERN if self.keras3 else _MODERN + _LEGACY

    @property
    def backend(self) -> str:
        """The backend that runs the model (tf_keras: always TensorFlow)."""
        return str(self.module.backend.backend()) if self.keras3 else "tensorflow"

    @property
    def label(self) -> str:
        """How a report names it, e.g. ``3.15.1 (tensorflow)`` or ``2.21.0 (tf_keras)``."""
        version = getattr(self.module, "__version__", "?")
        return f"{version} ({self.backend})" if self.keras3 else f"{version} (tf_keras)"

    def library_roots(self) -> tuple[str, ...]:
        """Directories whose frames are Keras', not the user's."""
        root = package_root(getattr(self.module, "__file__", None))
        return (root,) if root else ()

    @contextlib.contextmanager
    def capped(self, spec: MethodSpec, call: CallArguments, cap: int) -> Iterator[None]:
        """Run the call within the cap: at most ``cap`` steps, one epoch."""
        if spec.modern == "fit":
            call.set("epochs", (call.get("initial_epoch") or 0) + 1)
        if not self.keras3:
            self._cap_arguments(spec, call, cap)
            yield
            return
        config = self.module.config
        before = config.max_steps_per_epoch()
        config.set_max_steps_per_epoch(cap)
        try:
            yield
        finally:
            config.set_max_steps_per_epoch(before)

    def _cap_arguments(self, spec: MethodSpec, call: CallArguments, cap: int) -> None:
        # get() is None for a parameter the method does not take
        batch_size = call.get("batch_size")
        size = known_batches(call.get(spec.data), call.get("y"), batch_size)
        call.set(spec.steps, _capped(call.get(spec.steps), size, cap))
        validation = call.get("validation_data") if spec.modern == "fit" else None
        if validation is not None:
            val_batch = call.get("validation_batch_size")
            val_size = known_batches(validation, None, val_batch or batch_size)
            call.set("validation_steps", _capped(call.get("validation_steps"), val_size, cap))

    def reads_in_threads(self, spec: MethodSpec, call: CallArguments) -> bool:
        """Whether Keras pulls the call's iterator from several threads at once."""
        if self.keras3:
            return False
        workers = call.get("workers") or 0
        return workers > 1 and not call.get("use_multiprocessing")


def _capped(given: int | None, size: int | None, cap: int) -> int | None:
    """``given`` steps capped at ``cap``; when none were given, ``cap`` unless the data
    is known to hold no more (asking for more makes Keras warn that it ran out)."""
    if given is not None and given > 0:
        return min(given, cap)
    if size is not None and size <= cap:
        return None if given is None else given
    return cap


def known_batches(data: Any, targets: Any, batch_size: int | None) -> int | None:
    """How many batches ``data`` holds, when that is known without reading it."""
    if data is None:
        return None
    if is_keras_dataset(data):
        return dataset_length(data)
    if is_tf_dataset(data):
        cardinality = int(data.cardinality())
        return cardinality if cardinality >= 0 else None
    if isinstance(data, tuple) and data and targets is None:  # validation_data=(x, y)
        data = data[0]
    rows = _rows(data)
    if rows is None:
        return None
    return math.ceil(rows / (batch_size or DEFAULT_BATCH_SIZE))


def _rows(data: Any) -> int | None:
    if isinstance(data, dict):
        data = next(iter(data.values()), None)
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    shape = getattr(data, "shape", None)
    if not shape:
        return None
    first = shape[0]
    return int(first) if first is not None else None


def loaded_flavour(package: str, module: ModuleType) -> Flavour | None:
    """The flavour for an imported ``keras``/``tf_keras`` module; ``None`` for a Keras 2
    installed as ``keras`` (the doctor instruments it through ``tf_keras`` only)."""
    if package == "keras" and not str(getattr(module, "__version__", "3")).startswith("3"):
        return None
    if not hasattr(module, "Model"):
        return None
    return Flavour(package, module)
