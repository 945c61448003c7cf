"""The result of applying fixes to one module's text, shared by the engine that
computes it (:mod:`safeloader.fix.engine`) and the runner that writes it
(:mod:`safeloader.fix.runner`), so that neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass

from safeloader.findings import Fix


@dataclass(frozen=True)
class TextFix:
    """The result of fixing one module's text: the new text (``None`` when the
    fixes could not be applied, see ``error``), the ``(code, fix)`` pairs that
    changed it, and the warnings about shapes left alone."""

    text: str | None
    applied: tuple[tuple[str, Fix], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
