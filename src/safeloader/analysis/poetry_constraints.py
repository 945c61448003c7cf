"""Poetry's version constraints as PEP 440 specifier sets.

Poetry writes ``keras = "^3.0"`` where PEP 440 writes ``keras>=3.0,<4``.
:func:`poetry_specifiers` translates one constraint string into its
alternatives (Poetry's ``||``), each a :class:`~packaging.specifiers.SpecifierSet`.
The rules are those of Poetry's documentation ("Dependency specification"):

* caret, ``^1.2.3``: from the version up to (excluded) the next bump of its
  first non-zero part: ``^1.2`` is ``>=1.2,<2``, ``^0.2.3`` is
  ``>=0.2.3,<0.3``, ``^0.0.3`` is ``>=0.0.3,<0.0.4``; when every given part
  is zero the last one is bumped (``^0.0`` is ``>=0.0,<0.1``, ``^0`` is ``>=0,<1``);
* tilde, ``~1.2.3``: the minor version is fixed (``>=1.2.3,<1.3``); with only
  a major version, the major is (``~1`` is ``>=1,<2``);
* a bare version is exact (``2.15.0`` is ``==2.15.0``), ``=`` is ``==``,
  ``2.15.*`` is ``==2.15.*``, ``*`` or nothing is any version;
* PEP 440 operators (``>=``, ``<``, ``!=``, ``~=``, ``==``) are kept;
* clauses separated by commas or spaces must all hold; ``||`` (or ``|``)
  separates alternatives.

Hand-written rather than imported: the one library that reads this syntax,
``poetry-core`` (``poetry.core.constraints.version``), is Poetry's build
backend; it vendors lark, fastjsonschema, tomli and a second copy of
packaging (1.5 MB installed), far too heavy for the core install of a flake8
plugin, and its constraint classes are not a documented public API. The
PEP 440 side (versions, specifier sets) is ``packaging``'s.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["PoetryConstraintError", "poetry_specifiers"]

#: one clause: an optional operator, then a version (``v`` prefix and wildcards allowed) or ``*``
_CLAUSE = re.compile(
    r"\s*(?P<op>\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*(?P<version>\*|[vV]?\d[\w.*+!-]*)\s*,?"
)
_ALTERNATIVES = re.compile(r"\|\|?")


class PoetryConstraintError(ValueError):
    """A string that is not a Poetry version constraint (the message says which part)."""


def poetry_specifiers(constraint: str) -> tuple[SpecifierSet, ...]:
    """The alternatives of Poetry's version ``constraint``, as PEP 440 specifier sets.

    ``"^2.15 || ^3.0"`` gives ``(<SpecifierSet('<3,>=2.15')>, <SpecifierSet('<4,>=3.0')>)``;
    ``"*"`` gives one empty set (any version). Raises :class:`PoetryConstraintError`.
    """
    return tuple(_conjunction(part) for part in _ALTERNATIVES.split(constraint))


def _conjunction(text: str) -> SpecifierSet:
    clauses: list[str] = []
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _CLAUSE.match(text, position)
        if match is None or match.end() == position:
            raise PoetryConstraintError(f"cannot read {text[position:].strip()!r} "
                                        f"in the constraint {text.strip()!r}")
        clauses.extend(_clause(match.group("op") or "", match.group("version")))
        position = match.end()
    try:
        return SpecifierSet(",".join(clauses))
    except InvalidSpecifier as error:
        raise PoetryConstraintError(f"{text.strip()!r}: {error}") from None


def _clause(op: str, text: str) -> list[str]:
    """The PEP 440 clauses of one Poetry clause."""
    text = text.lstrip("vV")
    if text == "*" or text.endswith(".*"):
        if op in ("", "=", "==") and text == "*":
            return []
        if op in ("", "=", "==", "!="):
            return [f"{'!=' if op == '!=' else '=='}{text}"]
        raise PoetryConstraintError(f"a wildcard cannot follow {op!r}: {op}{text}")
    try:
        version = Version(text)
    except InvalidVersion:
        raise PoetryConstraintError(f"{text!r} is not a version") from None
    release = list(version.release)
    if op == "^":
        first_nonzero = next((i for i, part in enumerate(release) if part), len(release) - 1)
        return [f">={version}", f"<{_bump(release, 0 if len(release) == 1 else first_nonzero)}"]
    if op == "~" or (op == "~=" and len(release) == 1):
        return [f">={version}", f"<{_bump(release, 0 if len(release) == 1 else 1)}"]
    return [f"{'==' if op in ('', '=') else op}{version}"]


def _bump(release: list[int], index: int) -> str:
    """The release with part ``index`` raised by one and the parts after it dropped."""
    return ".".join(map(str, [*release[:index], release[index] + 1]))
