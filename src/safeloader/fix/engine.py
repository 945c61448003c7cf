"""``safeloader-fix``'s engine: apply fixes to a module's text at a cost that
follows what changes, not the size of the file.

LibCST's parse, ``PositionProvider``, ``ScopeProvider`` and codegen each cost
seconds on a 20,000-line module, and its ``AddImportsVisitor`` matches a
module's statements with a matcher that recurses once per statement after a
docstring (a ``RecursionError`` past about a thousand). The engine
gives LibCST a :class:`~safeloader.fix.partial_module.PartialModule`
instead: the top-level statements that hold a fix's span, the module's head
(docstring, imports and the statement after them, which LibCST's
``AddImportsVisitor`` reads and edits) and the statement whose indentation
LibCST takes as the module's default; every other run of statements is a
placeholder of the same lines. The fixes then run as in the codemod
(:class:`~safeloader.fix.applier.FixApplier`, the same handlers), and the
changed statements, their continuation lines realigned
(:mod:`~safeloader.fix.realign`), are put back into the original text.

What a handler asks about names is answered for the whole module all the
same: the global bindings of a name come from the statements whose text
holds that word (only they can bind it), parsed on their own; and an import
is removed only once every statement that mentions its name is in the
partial module (if one is not, the engine starts over with it). Imports are
added by :func:`~safeloader.fix.imports.add_imports`, which edits the
module's head as LibCST's ``AddImportsVisitor`` does without its set-up
cost; LibCST's codemod package is imported only to remove one.

Text LibCST does not write back byte for byte (see :mod:`safeloader.fix.reprint`)
is fixed all the same where the changes leave those bytes alone; a change
that touches them refuses the file.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Iterable, Sequence

import libcst as cst
from libcst.metadata import (
    BuiltinScope, GlobalScope, MetadataWrapper, PositionProvider, ScopeProvider,
)

from safeloader.findings import Fix, Span
from safeloader.fix.applier import FixApplier, find_targets, located
from safeloader.fix.fixes import FixHandler, handler_for
from safeloader.fix.imports import ImportRequest, add_imports, head_length, no_blank_line_on_top
from safeloader.fix.module_layout import ModuleLayout
from safeloader.fix.partial_module import PartialModule, PlaceholderLost
from safeloader.fix.realign import realign
from safeloader.fix.reprint import Reprint, UnreproducibleChange
from safeloader.fix.span_matching import ModuleText, NodeIndex
from safeloader.fix.text_fix import TextFix
from safeloader.fix.unused_parameters import parameters_left_unused


class MissingStatements(Exception):
    """The partial module lacks statements (chunk indices) a fix needs."""

    def __init__(self, chunks: Iterable[int]) -> None:
        self.chunks = set(chunks)
        super().__init__(f"statements {sorted(self.chunks)} are needed")


class _Names(cst.CSTVisitor):
    """Collects the ``Name`` nodes of a tree."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(node)


class PartialModuleSession:
    """The :class:`~safeloader.fix.fixes.ModuleSession` of a partial module:
    ``wrapper`` holds it, ``kept`` are the chunks of ``layout`` in it.

    Names are answered for the whole module (see the module docstring);
    the imports to add and remove are collected here, for :func:`_edit_imports`.
    """

    def __init__(self, layout: ModuleLayout, kept: set[int], wrapper: MetadataWrapper) -> None:
        self._layout = layout
        self._kept = kept
        self._wrapper = wrapper
        self._bindings = lru_cache(maxsize=None)(self._find_bindings)
        self.imports: list[ImportRequest] = []
        self.removals: list[tuple[str, str, str | None]] = []
        self.removed_nodes: list[cst.CSTNode] = []

    @property
    def module(self) -> cst.Module:
        """The partial module, as parsed."""
        return self._wrapper.module

    def global_bindings(self, name: str) -> Sequence[cst.CSTNode | None]:
        """The nodes that bind ``name`` in the module's global scope."""
        return self._bindings(name)

    def _find_bindings(self, name: str) -> Sequence[cst.CSTNode | None]:
        # a statement can bind a global only if its text holds the name, and
        # what one top-level statement binds does not depend on the others
        chunks = sorted(self._layout.chunks_mentioning(name))
        if not chunks:
            return []
        module = cst.parse_module("".join(self._layout.chunk_text(index) for index in chunks))
        scope = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)[module]
        assert isinstance(scope, GlobalScope)
        return [getattr(assignment, "node", None) for assignment in scope.assignments[name]]

    def add_import(self, module: str, name: str | None, asname: str | None) -> None:
        """Collect the import for :func:`~safeloader.fix.imports.add_imports`."""
        self.imports.append((module, name, asname))

    def remove_import(self, module: str, name: str, asname: str | None = None) -> None:
        """Collect the removal, once every statement that mentions the name it
        binds (``asname`` or ``name``) is here."""
        self._need_uses_of([asname or name])
        self.removals.append((module, name, asname))

    def remove_imports_used_by(self, original: cst.CSTNode) -> None:
        """Collect the removals, once every statement that mentions a global
        name ``original`` uses (its imports among them) is here."""
        self._need_uses_of(self._global_names_in(original))
        self.removed_nodes.append(original)

    def _global_names_in(self, original: cst.CSTNode) -> set[str]:
        """The names ``original`` uses that resolve to the module's global (or
        the builtin) scope."""
        scopes = self._wrapper.resolve(ScopeProvider)
        names = _Names()
        original.visit(names)
        return {
            node.value for node in names.found
            if (scope := scopes.get(node)) is not None and all(
                isinstance(assignment.scope, (GlobalScope, BuiltinScope))
                for assignment in scope[node.value]
            )
        }

    def _need_uses_of(self, names: Iterable[str]) -> None:
        """Raise :class:`MissingStatements` for the chunks that mention one of
        ``names`` and are not in the partial module."""
        missing: set[int] = set()
        for name in names:
            missing |= self._layout.chunks_mentioning(name) - self._kept
        if missing:
            raise MissingStatements(missing)


def _needs_whole_module(handler: FixHandler) -> bool:
    """Whether ``handler`` rewrites the module itself."""
    types = handler.NODE_TYPE if isinstance(handler.NODE_TYPE, tuple) else (handler.NODE_TYPE,)
    return any(issubclass(cst.Module, node_type) for node_type in types)


def starting_chunks(layout: ModuleLayout, fixes: Sequence[tuple[str, Fix]]) -> set[int]:
    """The chunks to start with: those of the fixes' spans, the module's head
    and the first indented block (all of them for a handler of the module)."""
    if any(_needs_whole_module(handler_for(fix.kind)) for _, fix in fixes):
        return set(range(len(layout.chunks)))
    kept = set(layout.header_chunks())
    if layout.first_indent_chunk is not None:
        kept.add(layout.first_indent_chunk)
    for _, fix in fixes:
        kept.update(layout.chunks_between_lines(fix.span.line, fix.span.end_line))
    return kept


def rewrite(text: str, filename: str, fixes: Sequence[tuple[str, Fix]]) -> TextFix:
    """Apply ``fixes`` (all aimed at ``filename``, whose text is ``text``) in one pass.

    Refused, with the reason in ``error``: a text ``ast`` or LibCST cannot
    parse, and a change to a line LibCST would not write back byte for byte.
    """
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        return TextFix(None, error=f"syntax error: {error.msg} (line {error.lineno})")
    except (ValueError, MemoryError) as error:
        return TextFix(None, error=f"cannot parse: {error}")
    layout = ModuleLayout(text, tree)
    if not layout.chunks:
        return TextFix(text, warnings=tuple(
            located(fix, f"{code}: no code to rewrite there for {fix.kind.value}")
            for code, fix in fixes))
    kept = starting_chunks(layout, fixes)
    while True:
        try:
            return _rewrite_partially(layout, kept, filename, fixes)
        except MissingStatements as missing:
            kept |= missing.chunks


class _Alignment:
    """Where each kept run of a partial module is in its text and in LibCST's
    reprint of it, and how they line up where they differ."""

    def __init__(self, partial: PartialModule, reprint: str) -> None:
        self._partial = partial
        self._in_text = partial.kept_spans(partial.text)
        self._in_reprint = partial.kept_spans(reprint)
        self._reprints = [
            None if partial.text[start:end] == reprint[r_start:r_end] else Reprint(
                partial.text[start:end], reprint[r_start:r_end], first_line
            )
            for (start, end), (r_start, r_end), first_line in zip(
                self._in_text, self._in_reprint, partial.kept_first_lines()
            )
        ]

    def offsets(self, start: int, end: int) -> tuple[int, int] | None:
        """The reprint's offsets for the text's ``[start, end)``, which lie in a kept
        run; ``None`` where the reprint has no counterpart for them."""
        for (run_start, run_end), (r_start, _), reprint in zip(
            self._in_text, self._in_reprint, self._reprints
        ):
            if run_start <= start <= end <= run_end:
                if reprint is None:
                    return r_start + start - run_start, r_start + end - run_start
                mapped = (reprint.offset_in_reprint(start - run_start),
                          reprint.offset_in_reprint(end - run_start))
                if mapped[0] is None or mapped[1] is None:
                    return None
                return r_start + mapped[0], r_start + mapped[1]
        raise ValueError(f"offsets {start}-{end} are in no kept statement")

    def carry_over(self, rewritten: str) -> list[str]:
        """The new text of each kept run, from ``rewritten``, a rewrite of the reprint."""
        return [
            rewritten[start:end] if reprint is None else reprint.carry_over(rewritten[start:end])
            for (start, end), reprint in zip(self._partial.kept_spans(rewritten), self._reprints)
        ]


def _rewrite_partially(
    layout: ModuleLayout, kept: set[int], filename: str, fixes: Sequence[tuple[str, Fix]]
) -> TextFix:
    """Apply ``fixes`` to the partial module of the chunks ``kept``."""
    partial = PartialModule(layout, kept)
    try:
        module = cst.parse_module(partial.text)
    except cst.ParserSyntaxError as error:
        reason = f"LibCST cannot parse it: {error.message} (line {error.raw_line})"
        return TextFix(None, error=reason)
    warnings: list[str] = []
    try:
        # LibCST drops the line break that ends a module when it is a lone
        # carriage return (old Mac line ends): put it back on what it writes
        reprint = module.code
        lost = _lost_line_break(partial.text, reprint)
        reprint += lost
        alignment = _Alignment(partial, reprint)
        text = ModuleText(partial.text)
        reprint_text = text if reprint == partial.text else ModuleText(reprint)

        def offsets(span: Span) -> tuple[int, int]:
            found = alignment.offsets(*text.char_span(span))
            if found is None:
                raise UnreproducibleChange(span.line)
            return found

        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        positions = wrapper.resolve(PositionProvider)
        index = NodeIndex(reprint_text, positions)
        targets = find_targets(fixes, index, offsets, warnings.append)
        if not targets:
            return TextFix(layout.text, warnings=tuple(warnings))
        session = PartialModuleSession(layout, kept, wrapper)
        applier = FixApplier(targets, positions, session, warnings.append)
        fixed = _edit_imports(session, module.visit(applier), partial, wrapper, filename)
        old_runs = [partial.text[start:end] for start, end in partial.kept_spans(partial.text)]
        new_runs = [realign(old, new) for old, new in
                    zip(old_runs, alignment.carry_over(fixed.code + lost))]
        new_text = partial.splice(new_runs)
        warnings += _parameters_left_unused(old_runs, new_runs, partial.kept_first_lines(),
                                            fixes)
    except UnreproducibleChange as change:
        reason = (f"a fix would change line {change.line}, which LibCST would not write "
                  "back byte for byte")
        return TextFix(None, warnings=tuple(warnings), error=reason)
    except (MissingStatements, RecursionError):
        raise
    except PlaceholderLost as error:
        return TextFix(None, warnings=tuple(warnings), error=f"cannot rewrite: {error}")
    except Exception as error:  # a bug in one handler must not stop the other files
        return TextFix(None, warnings=tuple(warnings), error=f"cannot rewrite: {error!r}")
    return TextFix(new_text, tuple(applier.applied), tuple(warnings))


def _parameters_left_unused(old_runs: Sequence[str], new_runs: Sequence[str],
                            first_lines: Sequence[int], fixes: Sequence[tuple[str, Fix]]
                            ) -> list[str]:
    """The warnings of :func:`~safeloader.fix.unused_parameters.parameters_left_unused`
    for the kept runs the fixes changed, each parsed on its own (whole top-level
    statements: no need to parse the whole new module)."""
    lines = {line for _, fix in fixes for line in range(fix.span.line, fix.span.end_line + 1)}
    warnings: list[str] = []
    for old, new, first in zip(old_runs, new_runs, first_lines):
        if old == new:
            continue
        try:
            before, after = ast.parse(old), ast.parse(new)
        except SyntaxError:  # the caller refuses a result that does not parse
            continue
        warnings += parameters_left_unused(before, after, lines, line_offset=first - 1)
    return warnings


def _lost_line_break(text: str, reprint: str) -> str:
    """The final line break of ``text`` missing from ``reprint``, if that is all
    ``reprint`` misses and it is a lone carriage return."""
    return "\r" if text == reprint + "\r" else ""


def _placeholder_chunks(statement: cst.BaseStatement, partial: PartialModule) -> range | None:
    """The chunks ``statement`` stands for, if it is one of ``partial``'s placeholders."""
    if (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, cst.SimpleString)):
        return partial.placeholder_chunks(statement.body[0].value.value)
    return None


def _edit_imports(session: PartialModuleSession, module: cst.Module, partial: PartialModule,
                  wrapper: MetadataWrapper, filename: str) -> cst.Module:
    """Add and remove the imports the fixes asked for, in LibCST's order (see
    :mod:`safeloader.fix.imports`): the statements that decide where added
    imports go must be real ones, not placeholders."""
    if session.imports:
        for statement in module.body[:head_length(module.body)]:
            chunks = _placeholder_chunks(statement, partial)
            if chunks is not None:
                raise MissingStatements(chunks)
        module = add_imports(module, session.imports)
    if session.removals or session.removed_nodes:
        # rare (SLD203): LibCST's codemod machinery is imported only for it
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import RemoveImportsVisitor

        context = CodemodContext(filename=filename, wrapper=wrapper)
        for module_name, name, asname in session.removals:
            RemoveImportsVisitor.remove_unused_import(context, module_name, name, asname)
        for node in session.removed_nodes:
            RemoveImportsVisitor.remove_unused_import_by_node(context, node)
        module = no_blank_line_on_top(module,
                                      RemoveImportsVisitor(context).transform_module(module))
    return module
