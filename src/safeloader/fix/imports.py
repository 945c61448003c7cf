"""Adding the imports fixes ask for, as LibCST's ``AddImportsVisitor`` adds them.

Handlers ask for imports through :class:`~safeloader.fix.fixes.FixContext`;
the codemod hands them to LibCST's ``AddImportsVisitor``, which LibCST's
``CodemodCommand`` runs over the module. That visitor only reads and edits
the module's head: the first statement (a docstring is skipped), the
``import`` lines after it and the leading lines of the statement after
those. But it is a matcher-decorated transformer, whose construction
inspects every method of its class (about 5 ms, twice per file with the
import gatherer it starts), it walks every node of the module, and importing
LibCST's codemod package costs a second of start-up under load: together
two thirds of ``safeloader-fix``'s time on a typical script. So the engine
calls :func:`add_imports`, which does the same edit on the module's head
directly, with the same rules, in the same order and with the same nodes;
the tests compare the two, and the engine's output with the codemod's, on
every case they have.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import libcst as cst
from libcst.helpers import get_absolute_module_from_package_for_import

#: an import a fix asks for: ``(module, name, asname)``, ``name`` ``None`` for
#: ``import <module>``
ImportRequest = tuple[str, "str | None", "str | None"]


def _is_import_line(statement: cst.BaseStatement) -> bool:
    """One ``import``/``from ... import`` alone on its line."""
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], (cst.Import, cst.ImportFrom)))


def _skips_first(body: Sequence[cst.BaseStatement]) -> bool:
    """Whether the first statement is a docstring or a ``__strict__ = ...`` flag,
    which stay above added imports."""
    if not body or not isinstance(body[0], cst.SimpleStatementLine):
        return False
    small = body[0].body
    if len(small) != 1:
        return False
    if isinstance(small[0], cst.Expr):
        return isinstance(small[0].value, cst.SimpleString)
    return (isinstance(small[0], cst.Assign) and len(small[0].targets) == 1
            and isinstance(small[0].targets[0].target, cst.Name)
            and small[0].targets[0].target.value == "__strict__")


def _import_lines(body: Sequence[cst.BaseStatement]) -> range:
    """Where the head's import lines are in ``body``: after a docstring (or
    ``__strict__`` flag), up to the first statement that is not one."""
    first = 1 if _skips_first(body) else 0
    end = first
    while end < len(body) and _is_import_line(body[end]):
        end += 1
    return range(first, end)


def head_length(body: Sequence[cst.BaseStatement]) -> int:
    """How many statements at the top of ``body`` :func:`add_imports` reads: the
    skipped first one, the import lines, and the statement after them."""
    return min(_import_lines(body).stop + 1, len(body))


class _Wanted:
    """The imports still to add, in ``AddImportsVisitor``'s four groups."""

    def __init__(self, requests: Iterable[ImportRequest]) -> None:
        requests = list(requests)
        self.modules = {module for module, name, asname in requests
                        if name is None and asname is None}
        self.objects: dict[str, set[str]] = {
            module: {name for wanted, name, asname in requests
                     if wanted == module and name is not None and asname is None}
            for module in sorted({module for module, name, asname in requests
                                  if name is not None and asname is None})
        }
        self.module_aliases = {module: asname for module, name, asname in requests
                               if name is None and asname is not None}
        self.object_aliases: dict[str, list[tuple[str, str]]] = {
            module: [(name, asname) for wanted, name, asname in requests
                     if wanted == module and name is not None and asname is not None]
            for module in sorted({module for module, name, asname in requests
                                  if name is not None and asname is not None})
        }

    def __bool__(self) -> bool:
        return bool(self.modules or self.objects or self.module_aliases or self.object_aliases)

    def drop_present(self, imports: Sequence[cst.Import | cst.ImportFrom]) -> None:
        """Forget what ``imports`` (the module's head imports) already import:
        gathered, then taken away, as ``AddImportsVisitor`` does (a module
        imported under two aliases counts with its last one)."""
        modules: set[str] = set()
        objects: dict[str, set[str]] = {}
        module_aliases: dict[str, str] = {}
        object_aliases: dict[str, list[tuple[str, str]]] = {}
        for node in imports:
            if isinstance(node, cst.Import):
                for alias in node.names:
                    if alias.evaluated_alias is None:
                        modules.add(alias.evaluated_name)
                    else:
                        module_aliases[alias.evaluated_name] = alias.evaluated_alias
                continue
            module = get_absolute_module_from_package_for_import(None, node)
            if module is None:
                continue
            if isinstance(node.names, cst.ImportStar):
                objects[module] = {"*"}
                continue
            pairs = [(alias.evaluated_name, alias.evaluated_alias) for alias in node.names
                     if alias.evaluated_alias is not None]
            if pairs:
                object_aliases.setdefault(module, []).extend(pairs)  # type: ignore[arg-type]
            names = {alias.evaluated_name for alias in node.names if alias.asname is None}
            if names:
                known = objects.setdefault(module, set())
                objects[module] = {"*"} if "*" in known else known | names
        self.modules -= modules
        for module, asname in module_aliases.items():
            if self.module_aliases.get(module) == asname:
                del self.module_aliases[module]
        for module, pairs in object_aliases.items():
            for pair in pairs:
                wanted = self.object_aliases.get(module)
                if wanted is not None and pair in wanted:
                    wanted.remove(pair)
                    if not wanted:
                        del self.object_aliases[module]
        for module, names in objects.items():
            if module not in self.objects:
                continue
            if "*" in names:
                del self.objects[module]
            else:
                self.objects[module] -= names
                if not self.objects[module]:
                    del self.objects[module]

    def merge_into(self, node: cst.ImportFrom) -> cst.ImportFrom:
        """``node`` with the wanted names of its module in front of its own."""
        if isinstance(node.names, cst.ImportStar):
            return node
        module = get_absolute_module_from_package_for_import(None, node)
        if module is None or module not in self.objects and module not in self.object_aliases:
            return node
        names = sorted(self.objects.pop(module, ()))
        pairs = sorted(self.object_aliases.pop(module, ()))
        return node.with_changes(names=[
            *(cst.ImportAlias(name=cst.Name(name)) for name in names),
            *(cst.ImportAlias(name=cst.Name(name), asname=cst.AsName(name=cst.Name(asname)))
              for name, asname in pairs),
            *node.names,
        ])

    def new_statements(self, config: cst.PartialParserConfig
                       ) -> tuple[list[cst.BaseStatement], list[cst.BaseStatement]]:
        """The ``from __future__`` lines, and the other new import lines."""
        by_module: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for module, pairs in self.object_aliases.items():
            by_module[module].extend(pairs)
        for module, names in self.objects.items():
            by_module[module].extend((name, None) for name in names)

        def from_line(module: str, pairs: list[tuple[str, str | None]]) -> cst.BaseStatement:
            listed = ", ".join(name if asname is None else f"{name} as {asname}"
                               for name, asname in sorted(pairs))  # type: ignore[type-var]
            return cst.parse_statement(f"from {module} import {listed}", config=config)

        future = [from_line(module, pairs) for module, pairs in by_module.items()
                  if module == "__future__"]
        others = [
            *(cst.parse_statement(f"import {module}", config=config)
              for module in sorted(self.modules)),
            *(cst.parse_statement(f"import {module} as {asname}", config=config)
              for module, asname in self.module_aliases.items()),
            *(from_line(module, pairs) for module, pairs in by_module.items()
              if module != "__future__"),
        ]
        return future, others


def below_new_imports(statement: cst.BaseStatement) -> cst.BaseStatement:
    """``statement``, the first after import lines a fix added, with the blank
    lines above it that pycodestyle wants: two above a ``def`` or ``class``
    (E302; LibCST's ``AddImportsVisitor`` gives one), else one. Blank lines
    already there count, comments stay below them."""
    wanted = 2 if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else 1
    lines = list(statement.leading_lines)
    blank = 0
    while blank < len(lines) and lines[blank].comment is None:
        blank += 1
    if blank >= wanted:
        return statement
    return statement.with_changes(leading_lines=[*[cst.EmptyLine()] * (wanted - blank), *lines])


def space_below_added_imports(before: cst.Module, after: cst.Module) -> cst.Module:
    """``after`` (``before`` with imports added by LibCST's ``AddImportsVisitor``)
    with :func:`below_new_imports` applied to the statement after the imports,
    as :func:`add_imports` does it."""
    head = _import_lines(after.body)
    if len(head) <= len(_import_lines(before.body)) or head.stop >= len(after.body):
        return after
    body = list(after.body)
    body[head.stop] = below_new_imports(body[head.stop])
    return after.with_changes(body=body)


def no_blank_line_on_top(before: cst.Module, after: cst.Module) -> cst.Module:
    """``after`` (``before`` with imports removed by LibCST's ``RemoveImportsVisitor``)
    without the blank lines a removed first statement uncovers: removing
    ``import threading`` from ``import threading`` / blank / ``import numpy``
    must not leave the file starting with a blank line. A file that started
    with one, or with a comment header, is left as it is."""
    if before.header or after.header or not before.body or not after.body:
        return after
    first = after.body[0]
    lines = list(first.leading_lines)
    if _starts_blank(before.body[0].leading_lines) or not _starts_blank(lines):
        return after
    while _starts_blank(lines):
        lines.pop(0)
    return after.with_changes(body=[first.with_changes(leading_lines=lines), *after.body[1:]])


def _starts_blank(lines: Sequence[cst.EmptyLine]) -> bool:
    """Whether the first of ``lines`` is blank (no comment on it)."""
    return bool(lines) and lines[0].comment is None


def add_imports(module: cst.Module, requests: Sequence[ImportRequest]) -> cst.Module:
    """``module`` with ``requests`` imported, as ``AddImportsVisitor`` would leave it:
    names merged into an existing head ``from <module> import ...`` (new names
    first, sorted), otherwise new lines after the head's imports (``__future__``
    ones right after the docstring), and a blank line before the code after them
    (two before a ``def`` or ``class``).
    Relative imports in the module are left alone: the module's package is
    not known (as in the codemod, whose context names none)."""
    wanted = _Wanted(requests)
    body = list(module.body)
    head = _import_lines(body)
    first, end = head.start, head.stop
    lines = [statement for statement in body[first:end]
             if isinstance(statement, cst.SimpleStatementLine)]
    wanted.drop_present([line.body[0] for line in lines])  # type: ignore[misc]
    for index, statement in zip(range(first, end), lines):
        node = statement.body[0]
        if isinstance(node, cst.ImportFrom):
            merged = wanted.merge_into(node)
            if merged is not node:
                body[index] = statement.with_changes(body=[merged])
    if not wanted:
        return module.with_changes(body=body)
    future, others = wanted.new_statements(module.config_for_parsing)
    after = body[end:]
    if after:
        after[0] = below_new_imports(after[0])
    return module.with_changes(body=[*body[:first], *future, *body[first:end], *others, *after])
