"""What one doctor run found: per call site, its measurement and its findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from safeloader.doctor.callsite import SourcePosition
from safeloader.doctor.findings import RuntimeFinding
from safeloader.doctor.measurement import Measurement


@dataclass
class CallSiteReport:
    """One line of the user's code that called ``fit``/``evaluate``/``predict``.

    Its first call is measured; later calls at the same line (a loop) run under
    the same cap and add their findings.
    """

    position: SourcePosition
    method: str
    keras: str  # the flavour's label, e.g. "3.15.1 (tensorflow)"
    calls: int = 0
    feed_kind: str | None = None
    feed: str | None = None
    feed_definition: SourcePosition | None = None
    measurement: Measurement = field(default_factory=Measurement)
    findings: list[RuntimeFinding] = field(default_factory=list)

    def add_findings(self, findings: list[RuntimeFinding]) -> None:
        """Keep each distinct finding once."""
        for finding in findings:
            if finding not in self.findings:
                self.findings.append(finding)


@dataclass
class DoctorRun:
    """The whole run: the script, how it ended, and its call sites in call order."""

    script: str
    argv: list[str]
    sites: list[CallSiteReport] = field(default_factory=list)
    keras: list[str] = field(default_factory=list)
    status: str = "completed"  # "completed", "failed" or "interrupted"
    error: str | None = None  # the script's exception, one line, when it failed
    traceback: str | None = None  # ... and its traceback, as Python would print it
    exit_status: int | None = None  # what sys.exit() passed, when not 0
    notes: list[str] = field(default_factory=list)  # what the cap changed, shown on failure

    def add_note(self, note: str) -> None:
        """Keep ``note`` once."""
        if note not in self.notes:
            self.notes.append(note)
