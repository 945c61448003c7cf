"""The class-based rules: SLD104, SLD105, SLD201, SLD202, SLD203 and SLD304.

Each class statement of the module, nested ones included, is judged on its
own; the rules share one :class:`~safeloader.analysis.class_index.ModuleIndex`
of the module's imports and classes. See :mod:`.class_dataset` (Keras
``Sequence`` / ``PyDataset`` subclasses), :mod:`.list_batches` (their list
batches under Keras 3) and :mod:`.class_iterator` (hand-written iterators and
thread-safe wrappers).
"""

from __future__ import annotations

import ast
from typing import Callable, Iterator

from safeloader.analysis.class_dataset import check_dataset_class, derives_from_dataset
from safeloader.analysis.class_index import ModuleIndex, defines_next
from safeloader.analysis.class_iterator import check_handwritten, check_iterator_class
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.list_batches import check_list_batches
from safeloader.findings import Finding


def check_classes(tree: ast.Module, target: Callable[[], KerasTarget],
                  text: str | None = None) -> Iterator[Finding]:
    """Yield the class rules' findings for ``tree``, in source order.

    ``target()`` gives the Keras the module targets (asked only when a rule needs it);
    ``text``: the module's source, when known (it spares walking blocks that hold
    neither class nor import).
    """
    index = ModuleIndex.of(tree, text)
    findings: list[Finding] = []
    # each rule judges only a Keras dataset class or an iterator class: the others
    # are told apart once, cheaply
    for defs in index.classes.values():
        for node in defs:
            if derives_from_dataset(index, node):
                findings.extend(check_dataset_class(index, node, target))
                findings.extend(check_list_batches(index, node, target))
            if defines_next(node):
                findings.extend(check_iterator_class(index, node))
    if any(isinstance(stmt, ast.ClassDef) and defines_next(stmt) for stmt in tree.body):
        findings.extend(check_handwritten(index, tree))  # module-level wrappers only
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return iter(findings)
