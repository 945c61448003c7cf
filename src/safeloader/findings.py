"""What the analysis reports: findings and the fixes they allow.

The analysis (``safeloader.analysis``) produces :class:`Finding` objects; the
flake8 plugin only reports them, and the codemod (``safeloader.fix.codemod``)
applies their :class:`Fix` objects. Both front ends read these types, so
they cannot disagree about where a hazard is or what may be done about it.

Positions use Python's ``ast`` conventions: lines are 1-based, columns are
0-based offsets in UTF-8 bytes (``col_offset``), which is what flake8
expects. The codemod converts them to LibCST's character positions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True, order=True)
class Span:
    """A node's extent in ``ast`` coordinates (1-based lines, byte columns)."""

    line: int
    col: int
    end_line: int
    end_col: int


class FixKind(enum.Enum):
    """The edits the codemod knows how to make; see each member's comment."""

    #: add ``@threadsafe_generator`` to the ``def`` whose ``def`` keyword
    #: starts at ``span`` (params: ``name``)
    DECORATE_GENERATOR = "decorate_generator"
    #: wrap the expression at ``span`` in ``ThreadSafeIterator(...)``
    WRAP_EXPRESSION = "wrap_expression"
    #: set the keyword argument at ``span`` to ``False``
    #: (params: ``keyword``, e.g. ``use_multiprocessing`` or ``pickle_safe``)
    DISABLE_MULTIPROCESSING = "disable_multiprocessing"
    #: set the keyword argument ``keyword`` (params) of the constructor call at
    #: ``span`` to ``False``: the one ``ADD_LOADER_SETTINGS`` moves there in the same
    #: pass (SLD103's thread route in a notebook that targets Keras 3)
    DISABLE_MOVED_MULTIPROCESSING = "disable_moved_multiprocessing"
    #: make the ``__init__`` at ``span`` accept ``**kwargs`` and pass them to
    #: ``super().__init__`` (params: ``class_name``)
    FORWARD_KWARGS = "forward_kwargs"
    #: put the ``next(...)`` call at ``span`` under ``with self.<lock>:``
    #: (params: ``lock``, the attribute name of the lock)
    LOCK_NEXT_CALL = "lock_next_call"
    #: add ``__next__`` to the class at ``span`` (params: ``class_name``)
    ADD_DUNDER_NEXT = "add_dunder_next"
    #: replace the hand-written wrapper class or decorator at ``span`` with an
    #: import from safeloader (params: ``name``, ``replacement``)
    REPLACE_HANDWRITTEN = "replace_handwritten"
    #: rename the ``*_generator`` call at ``span`` (params: ``old``, ``new``)
    #: and turn its arguments into the new signature's keywords; then drop the
    #: keywords listed in ``drop`` (comma-separated, optional)
    RENAME_GENERATOR_CALL = "rename_generator_call"
    #: drop the keyword arguments named in ``keywords`` (comma-separated) from
    #: the call at ``span``
    REMOVE_LOADER_SETTINGS = "remove_loader_settings"
    #: append the keyword arguments ``arguments`` (source text, e.g.
    #: ``workers=4, use_multiprocessing=True``) to the constructor call at ``span``
    ADD_LOADER_SETTINGS = "add_loader_settings"
    #: move the module's statements from the one at ``span`` on (but ``def`` and
    #: ``class`` statements) under ``if __name__ == "__main__":``; when
    #: ``refused`` is set, change nothing and warn with it
    GUARD_MAIN = "guard_main"
    #: turn the list display at ``span`` into a tuple display (SLD304)
    LIST_TO_TUPLE = "list_to_tuple"
    #: round the steps value at ``span`` up as Keras 2 counted it (SLD305): replace
    #: it with the literal ``value`` when given, else wrap it in ``math.ceil(...)``
    CEIL_STEPS = "ceil_steps"


@dataclass(frozen=True)
class Fix:
    """One edit a finding allows.

    ``path`` is the file to edit, or ``None`` for the file the finding is in
    (a generator imported from another module of the project is fixed there).
    """

    kind: FixKind
    span: Span
    path: Path | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One hazard at one place, with the message flake8 prints.

    ``message`` starts with the code, as flake8 requires
    (``"SLD101 generator 'batches' feeds ..."``). ``fixes`` is empty when
    the rule has no automatic fix or this shape cannot be rewritten safely.
    """

    code: str
    line: int
    col: int
    message: str
    fixes: tuple[Fix, ...] = ()
