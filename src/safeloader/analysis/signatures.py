"""How Keras' loader methods read their arguments: positions and defaults.

``fit``, ``evaluate``, ``predict`` and their ``*_generator`` forms take the
data, ``validation_data``, ``workers`` and ``use_multiprocessing`` by keyword
or by position. :func:`bind_loader_call` reads a call by the signature it was
written for: Keras 1's when the call uses a Keras 1 keyword (``nb_worker``,
``pickle_safe``, ``samples_per_epoch``, ...), otherwise Keras 2's (tf_keras
2.21, checked against its source). Keras 3's ``fit`` has no loader settings
(SLD302 reports them).
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass

#: Keras 2 (tf_keras) positional parameters, ``self`` left out.
KERAS2_SIGNATURES: dict[str, tuple[str, ...]] = {
    "fit": (
        "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
        "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
        "steps_per_epoch", "validation_steps", "validation_batch_size", "validation_freq",
        "max_queue_size", "workers", "use_multiprocessing",
    ),
    "evaluate": (
        "x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks",
        "max_queue_size", "workers", "use_multiprocessing", "return_dict",
    ),
    "predict": (
        "x", "batch_size", "verbose", "steps", "callbacks", "max_queue_size", "workers",
        "use_multiprocessing",
    ),
    "fit_generator": (
        "generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
        "validation_steps", "validation_freq", "class_weight", "max_queue_size", "workers",
        "use_multiprocessing", "shuffle", "initial_epoch",
    ),
    "evaluate_generator": (
        "generator", "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing",
        "verbose",
    ),
    "predict_generator": (
        "generator", "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing",
        "verbose",
    ),
}

#: Keras 1 positional parameters of the ``*_generator`` methods (Keras 1.2).
KERAS1_SIGNATURES: dict[str, tuple[str, ...]] = {
    "fit_generator": (
        "generator", "samples_per_epoch", "nb_epoch", "verbose", "callbacks",
        "validation_data", "nb_val_samples", "class_weight", "max_q_size", "nb_worker",
        "pickle_safe", "initial_epoch",
    ),
    "evaluate_generator": ("generator", "val_samples", "max_q_size", "nb_worker", "pickle_safe"),
    "predict_generator": ("generator", "val_samples", "max_q_size", "nb_worker", "pickle_safe"),
}

#: Keywords only Keras 1 used; one of them makes a call read by Keras 1's signature.
KERAS1_KEYWORDS = frozenset(
    {"nb_worker", "pickle_safe", "samples_per_epoch", "nb_epoch", "nb_val_samples",
     "max_q_size", "val_samples"}
)

#: The methods whose arguments this module reads.
LOADER_METHODS = frozenset(KERAS2_SIGNATURES)

#: Deprecated methods and what replaces them (SLD301).
GENERATOR_METHODS = {
    "fit_generator": "fit",
    "evaluate_generator": "evaluate",
    "predict_generator": "predict",
}

#: Loader settings that Keras 3's ``fit``/``evaluate``/``predict`` reject (SLD302).
KERAS3_REJECTED_KEYWORDS = (
    "workers", "use_multiprocessing", "max_queue_size", "nb_worker", "pickle_safe", "max_q_size",
)

_DATA_PARAMS = ("x", "generator", "validation_data")
_WORKERS_PARAMS = ("workers", "nb_worker")
_MULTIPROCESSING_PARAMS = ("use_multiprocessing", "pickle_safe")
_QUEUE_PARAMS = ("max_queue_size", "max_q_size")


class Given(enum.Enum):
    """How a call supplies a parameter, when not by an expression."""

    #: not passed at all: the method's default applies
    DEFAULT = "default"
    #: possibly passed through ``*args`` or ``**kwargs``: unknowable
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Argument:
    """A parameter passed as an expression; ``spelling`` is the parameter's name."""

    value: ast.expr
    spelling: str


@dataclass(frozen=True)
class LoaderArguments:
    """The arguments of one loader call that the call-site rules read."""

    method: str
    data: tuple[ast.expr, ...]
    workers: Argument | Given
    use_multiprocessing: Argument | Given
    max_queue_size: Argument | Given

    def settings(self) -> tuple[Argument | Given, ...]:
        """The loader settings Keras 3 moved to ``PyDataset``, as passed."""
        return (self.workers, self.use_multiprocessing, self.max_queue_size)


def _signature(call: ast.Call, method: str) -> tuple[str, ...]:
    """Return the positional parameters ``call`` was written against."""
    if method in KERAS1_SIGNATURES and any(
        keyword.arg in KERAS1_KEYWORDS for keyword in call.keywords
    ):
        return KERAS1_SIGNATURES[method]
    return KERAS2_SIGNATURES[method]


def _find(call: ast.Call, params: tuple[str, ...], signature: tuple[str, ...]) -> Argument | Given:
    """Return how ``call`` passes the first of ``params`` that it passes."""
    for keyword in call.keywords:
        if keyword.arg in params:
            return Argument(keyword.value, keyword.arg)
    for position, param in enumerate(signature):
        if param not in params:
            continue
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return Given.HIDDEN
            if index == position:
                return Argument(arg, param)
    if any(keyword.arg is None for keyword in call.keywords):
        return Given.HIDDEN
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        return Given.HIDDEN
    return Given.DEFAULT


def find_argument(call: ast.Call, method: str, params: tuple[str, ...]) -> Argument | Given:
    """How ``call`` of ``method`` passes the first of ``params`` that its signature has
    (by keyword or by position); ``Given.DEFAULT`` when the signature has none of them."""
    signature = _signature(call, method)
    present = tuple(param for param in params if param in signature)
    if not present:
        return Given.DEFAULT
    return _find(call, present, signature)


def bind_loader_call(call: ast.Call, method: str) -> LoaderArguments:
    """Read the data and the loader settings (``workers``, ``use_multiprocessing``,
    ``max_queue_size``) of ``call``.

    ``method`` must be one of :data:`LOADER_METHODS`. The data are the first
    argument (``x``/``generator``) and ``validation_data``, where given.
    """
    signature = _signature(call, method)
    data = []
    for param in _DATA_PARAMS:
        if param in signature:
            found = _find(call, (param,), signature)
            if isinstance(found, Argument):
                data.append(found.value)
    return LoaderArguments(
        method=method,
        data=tuple(data),
        workers=_find(call, _WORKERS_PARAMS, signature),
        use_multiprocessing=_find(call, _MULTIPROCESSING_PARAMS, signature),
        max_queue_size=_find(call, _QUEUE_PARAMS, signature),
    )
