"""SLD301: ``fit_generator``/``evaluate_generator``/``predict_generator``
become ``fit``/``evaluate``/``predict``.

The new methods read their arguments differently: ``fit(gen, 100)`` would take
100 as the labels. So every positional argument after the first becomes a
keyword named by the old signature (``fit_generator(gen, 100, 5)`` becomes
``fit(gen, steps_per_epoch=100, epochs=5)``) and ``generator=`` becomes ``x=``.
Keras 1 keywords that Keras 2 itself renamed with the same meaning
(``nb_epoch``, ``nb_worker``, ``pickle_safe``, ``max_q_size``) get their Keras 2
names, since no Keras that has ``fit(generator)`` accepts them. Calls whose
arguments cannot be mapped safely are left alone with a warning: ``*args`` or
``**kwargs`` (the positions are unknown), more positional arguments than the
old signature has, a keyword given twice, and the Keras 1 ``samples_per_epoch``
and ``nb_val_samples``, which counted samples where the new names count steps.

Under Keras 3 the fix also lists in ``drop`` the loader settings
(``workers``, ``use_multiprocessing``, ``max_queue_size``) that Keras 3's
``fit`` rejects; they go once the arguments are keywords (the analysis moves
them to the data's ``PyDataset`` in a fix of its own, or drops them for
other data).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import libcst as cst

from safeloader.findings import Fix
from safeloader.fix.fixes import FixContext
from safeloader.fix.fixes.layout import keyword_in, remove_arguments

NODE_TYPE = cst.Call

#: the parameters of the deprecated methods, in order, after ``self``
OLD_SIGNATURES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "fit_generator": (
            "generator", "steps_per_epoch", "epochs", "verbose", "callbacks",
            "validation_data", "validation_steps", "validation_freq", "class_weight",
            "max_queue_size", "workers", "use_multiprocessing", "shuffle", "initial_epoch",
        ),
        "evaluate_generator": (
            "generator", "steps", "callbacks", "max_queue_size", "workers",
            "use_multiprocessing", "verbose",
        ),
        "predict_generator": (
            "generator", "steps", "callbacks", "max_queue_size", "workers",
            "use_multiprocessing", "verbose",
        ),
    }
)

#: keywords renamed with the same meaning (``generator`` by the new signature,
#: the rest by Keras 2's own conversion of Keras 1 calls)
RENAMED_KEYWORDS: Mapping[str, str] = MappingProxyType(
    {
        "generator": "x",
        "nb_epoch": "epochs",
        "nb_worker": "workers",
        "pickle_safe": "use_multiprocessing",
        "max_q_size": "max_queue_size",
    }
)

#: Keras 1 keywords whose unit changed from samples to steps
_SAMPLE_COUNTS = frozenset({"samples_per_epoch", "nb_val_samples", "val_samples"})

_NO_SPACE = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def apply(
    original: cst.CSTNode, updated: cst.CSTNode, fix: Fix, context: FixContext
) -> cst.CSTNode:
    """Return the call renamed, with its arguments in the new signature's terms."""
    assert isinstance(updated, cst.Call)
    old, new = fix.params["old"], fix.params["new"]
    func = _renamed(updated.func, old, new)
    signature = OLD_SIGNATURES.get(old)
    if func is None or signature is None:
        context.warn(f"expected a call of '{old}' here; left unchanged")
        return updated
    problem = _unmappable(updated.args, signature)
    if problem:
        context.warn(f"'{old}' call left unchanged: {problem}")
        return updated
    args = []
    for index, arg in enumerate(updated.args):
        if arg.keyword is None and index > 0:
            arg = arg.with_changes(keyword=cst.Name(signature[index]), equal=_NO_SPACE)
        elif arg.keyword is not None and arg.keyword.value in RENAMED_KEYWORDS:
            arg = arg.with_changes(keyword=cst.Name(RENAMED_KEYWORDS[arg.keyword.value]))
        args.append(arg)
    drop = frozenset(name for name in fix.params.get("drop", "").split(",") if name)
    return remove_arguments(updated.with_changes(func=func, args=args), keyword_in(drop))


def _renamed(func: cst.BaseExpression, old: str, new: str) -> cst.BaseExpression | None:
    """``func`` with its final name ``old`` replaced by ``new``, or ``None``."""
    if isinstance(func, cst.Attribute) and func.attr.value == old:
        return func.with_changes(attr=func.attr.with_changes(value=new))
    if isinstance(func, cst.Name) and func.value == old:
        return func.with_changes(value=new)
    return None


def _unmappable(args: tuple[cst.Arg, ...] | list[cst.Arg], signature: tuple[str, ...]) -> str:
    """Why the arguments cannot be carried over, or ``""`` when they can."""
    if any(arg.star for arg in args):
        return "it passes *args or **kwargs, whose positions are unknown"
    positional = [arg for arg in args if arg.keyword is None]
    if len(positional) > len(signature):
        return f"{len(positional)} positional arguments, the old signature has {len(signature)}"
    names = [signature[index] for index in range(len(positional))]
    for arg in args:
        if arg.keyword is None:
            continue
        name = arg.keyword.value
        if name in _SAMPLE_COUNTS:
            return f"Keras 1's '{name}' counts samples, not steps; convert it by hand"
        names.append(RENAMED_KEYWORDS.get(name, name))
    if names and names[0] == "generator":
        names[0] = "x"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        return f"'{duplicates[0]}' is given twice"
    return ""
