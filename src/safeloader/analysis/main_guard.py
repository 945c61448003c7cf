"""What runs when a module is executed or imported, and which datasets start processes (SLD103).

Module-level code outside an ``if __name__ == "__main__":`` block runs again
in every worker process under the ``spawn`` start method; so does a
module-level function that such code calls. A ``PyDataset`` built with
``use_multiprocessing=True`` starts processes when Keras iterates it.
"""

from __future__ import annotations

import ast

from safeloader.analysis.generators import Classifier, ClassRef, InstanceRef, dotted_name
from safeloader.analysis.scopes import Reference, position

_MAX_BASE_DEPTH = 8
_PYDATASET = frozenset({"PyDataset"})
#: the base classes of a Keras 3 dataset (``Sequence`` is an alias of ``PyDataset`` there)
#: the bases of a Keras dataset whose loader settings Keras 3 reads (tf.keras's
#: ``Sequence`` is Keras 3's ``PyDataset`` there)
KERAS_DATASET_BASES = frozenset({"Sequence", "PyDataset"})


def is_main_guard(stmt: ast.stmt) -> bool:
    """Whether ``stmt`` is ``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    test = stmt.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    operands = (test.left, test.comparators[0])
    names = [n.id for n in operands if isinstance(n, ast.Name)]
    texts = [n.value for n in operands if isinstance(n, ast.Constant)]
    return names == ["__name__"] and texts == ["__main__"]


def names_called_on_import(tree: ast.Module) -> frozenset[str]:
    """Return the names module-level code calls outside the ``__main__`` guard.

    Class bodies, decorators and default values run on import; function
    bodies do not, except those of the module's functions called on import,
    whose calls count too (transitively: ``main()`` calls ``train()``).
    """
    names: set[str] = set()
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.If) and is_main_guard(stmt):
            pending.extend(stmt.orelse)
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(stmt.name, []).append(stmt)
            # decorators and defaults run on import; the body does not
            children: list[ast.AST] = [*stmt.decorator_list, stmt.args]
        else:
            children = list(ast.iter_child_nodes(stmt))
        for child in children:
            if isinstance(child, ast.stmt):
                pending.append(child)
            elif isinstance(child, (ast.excepthandler, ast.match_case)):
                pending.extend(child.body)
            else:
                names.update(_called_names(child))
    unread = [name for name in names if name in functions]
    while unread:
        for function in functions.pop(unread.pop(), []):
            for stmt in function.body:
                called = _called_names(stmt) - names
                names |= called
                unread += [name for name in called if name in functions]
    return frozenset(names)


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def starts_processes(instance: InstanceRef, classifier: Classifier, *, keras3: bool) -> bool:
    """Whether ``instance`` is a ``PyDataset`` built with ``use_multiprocessing=True``.

    ``keras3``: the module targets Keras 3, whose ``keras.utils.Sequence`` is
    ``PyDataset`` (a Keras 2 ``Sequence`` takes no such setting). A literal
    ``workers`` of 0 or less in the same call starts no process.
    """
    construction = instance.construction
    bases = KERAS_DATASET_BASES if keras3 else _PYDATASET
    if construction is None or not derives_from_pydataset(instance.cls, classifier,
                                                          bases=bases):
        return False
    keywords = {k.arg: k.value for k in construction.keywords}
    flag = keywords.get("use_multiprocessing")
    workers = keywords.get("workers")
    if not (isinstance(flag, ast.Constant) and flag.value is True):
        return False
    if isinstance(workers, ast.UnaryOp) and isinstance(workers.op, ast.USub):
        return not isinstance(workers.operand, ast.Constant)
    return not (isinstance(workers, ast.Constant) and isinstance(workers.value, int)
                and workers.value <= 0)


def derives_from_pydataset(
    cls: ClassRef, classifier: Classifier, depth: int = 0,
    bases: frozenset[str] = _PYDATASET,
) -> bool:
    """Whether ``cls`` subclasses ``PyDataset`` (or a class named in ``bases``),
    directly or through project classes."""
    if depth > _MAX_BASE_DEPTH:
        return False
    for base in cls.definition.bases:
        name = dotted_name(base)
        if name is not None and name.rsplit(".", 1)[-1] in bases:
            return True
        reference = Reference(cls.scope, position(cls.definition), ())
        resolved = classifier.classify(base, reference)
        if isinstance(resolved, ClassRef) and derives_from_pydataset(
            resolved, classifier, depth + 1, bases
        ):
            return True
    return False
