"""The cheap text test that lets the analysis skip most files, and most rules in the rest.

Each group of rules needs some text in the source, and :func:`rule_groups`
looks for all of it in one go, before any rule runs:

* the call-site rules (SLD101-103, SLD301-303, SLD305, SLD306) judge calls
  of loader methods only: ``fit``, ``evaluate`` or ``predict`` not preceded
  by a name character, then ``_generator`` or nothing, then ``(`` (spaces
  and line continuations allowed): :func:`loader_call_offsets`, which also
  gives :func:`~.calls.candidate_lines` its lines;
* the class rules (SLD104, SLD105, SLD201-203, SLD304) judge a
  ``Sequence``/``PyDataset`` subclass (a base ends with one of the names, or
  an import aliases it: :func:`dataset_base_might_exist`) or an iterator class
  (a ``__next__``, or a Python 2 ``def next``), so they need ``class`` and one
  of those;
* SLD103 through another project module's function needs an ``import``, in
  a file that is not part of an installed package (whose imports lead to
  installed code, which is never followed).

A source without any of them has no finding.

Speed: each search of a whole file costs about what the others do, so their
count is what matters. The patterns begin with a literal, which CPython's
``re`` scans for in C; the words around it are checked by look-behinds
(``valuate(?<=evaluate)``: ``v`` is rarer than ``e``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from safeloader.analysis.project import is_installed

_CALL_TAIL = r"(?:_generator)?[ \t\r\n\f\\]*\("
#: a loader method's call, each with how far before the match its word starts
_LOADER_CALLS = (
    (re.compile(r"fit(?<!\wfit)" + _CALL_TAIL), 0),
    (re.compile(r"valuate(?<=evaluate)(?<!\wevaluate)" + _CALL_TAIL), 1),
    (re.compile(r"predict(?<!\wpredict)" + _CALL_TAIL), 0),
)
#: ``__next__``, or ``next`` after white space and before ``(`` (or a type parameter's
#: ``[``): a Python 2 ``def next`` when ``def`` comes before it (checked apart)
_NEXT_METHOD = re.compile(r"xt(?:__(?<=__next__)|(?<=[ \t\f\\\r\n]next)[ \t\f\\\r\n]*[(\[])")
_SPACE = " \t\f\\\r\n"
#: ``Sequence`` or ``PyDataset`` where a base expression or an import alias may end
_DATASET_BASES = tuple(
    re.compile(word + r"(?!\w)(?:[ \t\f\r\n\\]|#[^\r\n]*[\r\n])*(?:[,)]|as(?!\w))")
    for word in ("Sequence", "PyDataset"))
#: the keywords of class and import statements, as words
_CLASS_OR_IMPORT = (re.compile(r"class(?<!\wclass)(?!\w)"),
                    re.compile(r"import(?<!\wimport)(?!\w)"))


class RuleGroups(NamedTuple):
    """Which groups of rules may fire on a source (see the module docstring); false
    when none may. ``call_offsets``: where the loader calls may be
    (:func:`loader_call_offsets`, ascending), when the test found them (the call
    checker then does not look again)."""

    calls: bool
    classes: bool
    imports: bool
    call_offsets: tuple[int, ...] | None = None

    def __bool__(self) -> bool:
        return self.calls or self.classes or self.imports


def rule_groups(source: str, path: Path | None = None) -> RuleGroups:
    """The rule groups that may fire on ``source``, the text of the file at ``path``
    (``None``: unknown, and then no other module is followed)."""
    offsets = tuple(sorted(loader_call_offsets(source)))
    return RuleGroups(bool(offsets), class_rules_might_fire(source),
                      path is not None and imports_might_start_processes(source)
                      and not is_installed(path), offsets)


def might_have_findings(source: str) -> bool:
    """Return ``False`` only when no rule can fire on ``source``."""
    # ``import`` first: found near the top of nearly every file
    return (imports_might_start_processes(source) or calls_might_fire(source)
            or class_rules_might_fire(source))


def loader_call_offsets(text: str) -> Iterator[int]:
    """The offsets in ``text`` where a loader method may be called (see the module
    docstring), each word's in turn."""
    for pattern, back in _LOADER_CALLS:
        for match in pattern.finditer(text):
            yield match.start() - back


def line_numbers(text: str, offsets: Iterable[int]) -> list[int]:
    """The line of each of the ascending ``offsets`` in ``text`` (1-based, lines ended
    where :func:`~safeloader.source_text.split_lines` ends them: CR LF, CR or LF), each
    offset being where a word starts (so that no CR LF pair straddles it)."""
    lines = []
    line, counted = 1, 0
    returns = "\r" in text
    for offset in offsets:
        line += text.count("\n", counted, offset)
        if returns:
            line += text.count("\r", counted, offset) - text.count("\r\n", counted, offset)
        counted = offset
        lines.append(line)
    return lines


def class_and_import_lines(text: str) -> list[int]:
    """The sorted lines of ``text`` where the word ``class`` or ``import`` stands: every
    class and import statement's keyword (and strings and comments holding the words)."""
    offsets = sorted(match.start() for pattern in _CLASS_OR_IMPORT
                     for match in pattern.finditer(text))
    return sorted(set(line_numbers(text, offsets)))


def calls_might_fire(source: str) -> bool:
    """Return ``False`` only when ``source`` calls no loader method (no call-site rule
    can fire)."""
    return any(pattern.search(source) is not None for pattern, _ in _LOADER_CALLS)


def class_rules_might_fire(source: str) -> bool:
    """Return ``False`` only when no class rule (SLD104-105, SLD201-203, SLD304) can fire
    on ``source``.

    They all judge a class that is an iterator (``__next__``, or Python 2's
    ``next`` method) or a ``Sequence``/``PyDataset`` subclass.
    """
    return "class" in source and (dataset_base_might_exist(source)
                                  or next_method_might_exist(source))


def dataset_base_might_exist(source: str) -> bool:
    """Return ``False`` only when no class of ``source`` can derive from Keras'
    ``Sequence`` or ``PyDataset``.

    Such a base names one of them: as the last part of the base expression (then a
    ``,`` or ``)`` follows it in the class header), or through a name an import
    binds to it (``from keras.utils import Sequence as Batches``: an ``as`` follows
    it), or through a class of the file that does. Comments and line
    continuations may come between. ``Sequence[int]`` and a line importing
    ``typing.Sequence`` alone do not match.
    """
    return any(pattern.search(source) is not None for pattern in _DATASET_BASES)


def next_method_might_exist(source: str) -> bool:
    """Return ``False`` only when no class of ``source`` defines ``__next__`` (or binds
    it) or a ``next`` method."""
    for match in _NEXT_METHOD.finditer(source):
        if match.group().endswith("__"):
            return True
        before = match.start() - 3  # the character before ``next``
        while before >= 0 and source[before] in _SPACE:
            before -= 1
        if before >= 2 and source.startswith("def", before - 2):
            return True
    return False


def imports_might_start_processes(source: str) -> bool:
    """Return ``False`` only when no call in ``source`` can reach worker processes started
    in another module (SLD103 through a project function): there is no import."""
    return "import" in source
