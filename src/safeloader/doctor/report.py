"""The doctor's report: one block per call site with a table, or JSON.

The JSON document (``--json``) holds at least::

    {"keras": "3.15.1 (tensorflow)",
     "calls": [{"file": "train.py", "line": 42, "method": "fit", "steps": 20,
                "input_bound": 0.84,
                "findings": [{"code": "SLD101", "message": "...",
                              "file": "train.py", "line": 42}]}]}

with more fields documented in docs/doctor.md. ``input_bound`` is ``null``
where the call could not be measured (``not_measured`` says why).
"""

from __future__ import annotations

from typing import Any

from safeloader.doctor.advice import advice
from safeloader.doctor.callsite import SourcePosition
from safeloader.doctor.findings import RuntimeFinding
from safeloader.doctor.options import DoctorOptions
from safeloader.doctor.results import CallSiteReport, DoctorRun

#: Exit statuses of ``safeloader doctor``.
EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_status(run: DoctorRun, options: DoctorOptions) -> int:
    """130 interrupted; 2 the script failed; 1 a hazard or ``--max-input-bound`` passed."""
    if run.status == "interrupted":
        return EXIT_INTERRUPTED
    if run.status == "failed":
        return EXIT_ERROR
    if any(site.findings for site in run.sites):
        return EXIT_FOUND
    if options.max_input_bound is not None and any(
        (site.measurement.input_bound or 0.0) > options.max_input_bound for site in run.sites
    ):
        return EXIT_FOUND
    return EXIT_CLEAN


def _position(position: SourcePosition | None) -> dict[str, Any] | None:
    return None if position is None else {"file": position.file, "line": position.line}


def _finding_json(finding: RuntimeFinding) -> dict[str, Any]:
    return {"code": finding.code, "message": finding.message, "file": finding.position.file,
            "line": finding.position.line, "definition": _position(finding.definition),
            "defused": finding.defused}


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _site_json(site: CallSiteReport) -> dict[str, Any]:
    measurement = site.measurement
    window = measurement.window
    alone = measurement.input_alone
    return {
        "file": site.position.file,
        "line": site.position.line,
        "method": site.method,
        "keras": site.keras,
        "calls": site.calls,
        "data": {"kind": site.feed_kind, "name": site.feed,
                 "definition": _position(site.feed_definition)},
        "steps": window.batches if window else 0,
        "warmup": window.warmup if window else None,
        "steps_per_second": _round(window.steps_per_second, 3) if window else None,
        "step_seconds": _round(window.step_seconds) if window else None,
        "compute_seconds": _round(measurement.ceiling_seconds),
        "input_seconds_per_batch": _round(alone.seconds_per_batch) if alone else None,
        "input_measured_by": alone.how if alone else None,
        "input_bound": _round(measurement.input_bound, 3),
        "not_measured": measurement.not_measured,
        "advice": advice(site),
        "findings": [_finding_json(finding) for finding in site.findings],
    }


def to_json(run: DoctorRun) -> dict[str, Any]:
    """The run as the JSON document of ``--json``."""
    return {
        "script": run.script,
        "argv": run.argv,
        "keras": ", ".join(run.keras) if run.keras else None,
        "status": run.status,
        "error": run.error,
        "notes": run.notes if run.status == "failed" else [],
        "calls": [_site_json(site) for site in run.sites],
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _table(site: CallSiteReport) -> list[tuple[str, str]]:
    measurement = site.measurement
    window = measurement.window
    rows: list[tuple[str, str]] = []
    if window is not None:
        rows += [("steps measured", f"{window.batches} (after {window.warmup} warm-up)"),
                 ("steps per second", f"{window.steps_per_second:.1f}"),
                 ("step time", _ms(window.step_seconds))]
    if measurement.ceiling_seconds is not None:
        rows.append(("compute alone", f"{_ms(measurement.ceiling_seconds)} "
                                      "(the same steps on one cached batch)"))
    if measurement.input_alone is not None:
        alone = measurement.input_alone
        rows.append(("input alone", f"{_ms(alone.seconds_per_batch)} a batch ({alone.how})"))
    elif site.feed_kind == "arrays":
        rows.append(("input alone", "in memory"))
    share = measurement.input_bound
    why = measurement.not_measured or "the call did not finish"
    rows.append(("input_bound", f"{share:.2f}" if share is not None else f"not measured: {why}"))
    return rows


def _finding_text(finding: RuntimeFinding) -> str:
    notes = []
    if finding.definition is not None and finding.definition != finding.position:
        notes.append(f"defined at {finding.definition}"
                     if finding.code != "SLD103" else f"started at {finding.definition}")
    if finding.defused:
        notes.append(f"the doctor ran it with {finding.defused}")
    note = f" ({'; '.join(notes)})" if notes else ""
    return f"  {finding.code} {finding.position}: {finding.message}{note}"


def render_text(run: DoctorRun) -> str:
    """The human report: a heading, one block per call site, a summary line."""
    keras = f"keras {', '.join(run.keras)}" if run.keras else "no Keras call"
    lines = [f"safeloader doctor: {run.script} ({keras})"]
    for site in run.sites:
        calls = f"{site.calls} call" + ("s" if site.calls != 1 else "")
        data = f"; data: {site.feed}" if site.feed else ""
        if site.feed_definition is not None:
            data += f", defined at {site.feed_definition}"
        lines += ["", f"{site.method} at {site.position} ({calls}{data})"]
        rows = _table(site)
        width = max(len(name) for name, _ in rows)
        lines += [f"  {name:<{width}}  {value}" for name, value in rows]
        said = advice(site)
        if said:
            lines.append(f"  -> {said}")
        lines += [_finding_text(finding) for finding in site.findings]
    hazards = sum(len(site.findings) for site in run.sites)
    sites = f"{len(run.sites)} call site" + ("s" if len(run.sites) != 1 else "")
    summary = f"{sites}, {hazards} hazard" + ("s" if hazards != 1 else "")
    if run.status == "failed":
        summary += "; the script failed" + (f": {run.error}" if run.error else "")
    elif run.status == "interrupted":
        summary += "; the script was interrupted (Ctrl-C)"
    lines += ["", summary + "."]
    if run.status == "failed":
        lines += [f"Note: {note}; the failure may come from that." for note in run.notes]
    return "\n".join(lines)
