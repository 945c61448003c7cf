"""A Keras method call's arguments, by name, whatever way they were passed.

``fit_generator(gen, 100, 5, workers=3)`` and ``fit_generator(generator=gen,
steps_per_epoch=100, epochs=5, workers=3)`` read the same here: the call is
bound to the method's real signature, so a setting given by position is
found by its name, and an absent one reads as the signature's default.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable


class CallArguments:
    """The bound arguments of one call of ``method`` on ``model``; editable by name."""

    def __init__(self, method: Callable[..., Any], model: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self.signature = inspect.signature(method)
        self.bound = self.signature.bind(model, *args, **kwargs)

    def get(self, name: str) -> Any:
        """The value of parameter ``name``: as passed, else its default (``None`` if none)."""
        if name in self.bound.arguments:
            return self.bound.arguments[name]
        parameter = self.signature.parameters.get(name)
        if parameter is None or parameter.default is inspect.Parameter.empty:
            return None
        return parameter.default

    def has(self, name: str) -> bool:
        """Whether the method takes a parameter ``name``."""
        return name in self.signature.parameters

    def set(self, name: str, value: Any) -> None:
        """Pass ``value`` for parameter ``name`` (which the method must take)."""
        if name not in self.signature.parameters:
            raise KeyError(f"{name!r} is not a parameter of this method")
        self.bound.arguments[name] = value

    def call(self, method: Callable[..., Any]) -> Any:
        """Call ``method`` (the model first) with the arguments as they now stand."""
        return method(*self.bound.args, **self.bound.kwargs)
