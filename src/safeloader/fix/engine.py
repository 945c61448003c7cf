"""``safeloader-fix``'s engine: apply fixes to a module's text at a cost that
follows what changes, not the size of the file.

LibCST's parse, ``PositionProvider``, ``ScopeProvider`` and codegen each cost
seconds on a 20,000-line module, and its ``AddImportsVisitor`` even runs out
of recursion on one with a few thousand top-level statements. The engine
gives LibCST a :class:`~safeloader.fix.partial_module.PartialModule`
instead: the top-level statements that hold a fix's span, the module's head
(docstring, imports and the statement after them, which LibCST's
``AddImportsVisitor`` reads and edits) and the statement whose indentation
LibCST takes as the module's default; every other run of statements is a
placeholder of the same lines. The fixes then run as in the codemod
(:class:`~safeloader.fix.applier.FixApplier`, the same handlers), and the
changed statements are put back into the original text.

What a handler asks about names is answered for the whole module all the
same: the global bindings of a name come from the statements whose text
holds that word (only they can bind it), parsed on their own; and an import
is removed only once every statement that mentions its name is in the
partial module (if one is not, the engine starts over with it).

Text LibCST does not write back byte for byte (see :mod:`safeloader.fix.reprint`)
is fixed all the same where the changes leave those bytes alone; a change
that touches them refuses the file.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Iterable, Sequence

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import GlobalScope, MetadataWrapper, PositionProvider, ScopeProvider

from safeloader.findings import Fix, Span
from safeloader.fix.applier import FixApplier, find_targets, located
from safeloader.fix.fixes import FixHandler, handler_for
from safeloader.fix.imports import add_imports, head_length
from safeloader.fix.module_layout import ModuleLayout
from safeloader.fix.partial_module import PartialModule, PlaceholderLost
from safeloader.fix.reprint import Reprint, UnreproducibleChange
from safeloader.fix.runner import TextFix
from safeloader.fix.span_matching import ModuleText, NodeIndex


class MissingStatements(Exception):
    """The partial module lacks statements (chunk indices) a fix needs."""

    def __init__(self, chunks: Iterable[int]) -> None:
        self.chunks = set(chunks)
        super().__init__(f"statements {sorted(self.chunks)} are needed")


class PartialModuleNames:
    """The :class:`~safeloader.fix.fixes.ModuleNames` of a module of which
    only the chunks ``kept`` are in the partial module."""

    def __init__(self, layout: ModuleLayout, kept: set[int]) -> None:
        self._layout = layout
        self._kept = kept
        self._bindings = lru_cache(maxsize=None)(self._find_bindings)

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

    def need_uses_of(self, names: Iterable[str]) -> None:
        """Raise :class:`MissingStatements` for the chunks that mention one of
        ``names`` and are not in the partial module."""
        missing = set()
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
        lost = _lost_line_break(partial.text, module.code)
        reprint = module.code + lost
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
        context = CodemodContext(filename=filename, wrapper=wrapper)
        applier = FixApplier(targets, positions, context, warnings.append,
                             PartialModuleNames(layout, kept))
        fixed = module.visit(applier)
        fixed = _add_imports(context, fixed, partial)
        fixed = _remove_imports(context, fixed)
        new_text = partial.splice(alignment.carry_over(fixed.code + lost))
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
    return TextFix(new_text, tuple(code for code, _ in applier.applied), tuple(warnings))


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


def _add_imports(context: CodemodContext, module: cst.Module, partial: PartialModule
                 ) -> cst.Module:
    """Add the imports the fixes asked for (see :mod:`safeloader.fix.imports`);
    the statements that decide where they go must be real ones."""
    items = context.scratch.get(AddImportsVisitor.CONTEXT_KEY)
    if not items:
        return module
    for statement in module.body[:head_length(module.body)]:
        chunks = _placeholder_chunks(statement, partial)
        if chunks is not None:
            raise MissingStatements(chunks)
    return add_imports(module, items, context.full_package_name)


def _remove_imports(context: CodemodContext, module: cst.Module) -> cst.Module:
    """Run LibCST's ``RemoveImportsVisitor`` for the imports the fixes asked to drop
    (every statement that mentions their names is in ``module``)."""
    if not context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY):
        return module
    return RemoveImportsVisitor(context).transform_module(module)
