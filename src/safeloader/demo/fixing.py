"""A chapter of ``safeloader demo``: lint and fix the classic forum script.

The bundled copy of the classic training script (a plain generator fed to
``fit_generator(..., workers=3)`` under tf_keras, see
``classic_script.py.txt``) goes through the same analysis as the flake8
plugin, whose findings are printed as flake8 prints them, then through the
same fixes as ``safeloader-fix``, whose unified diff is printed. The fixed text
is linted again to show that no fixable finding is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, TextIO

from safeloader.analysis import analyze_source
from safeloader.findings import Finding
from safeloader.fix.runner import fix_text
from safeloader.fix.selection import FixSelection
from safeloader.fix.unified_diff import unified_diff

TITLE = "safeloader-fix rewrites the classic forum script"

#: the name the bundled script is shown under
SCRIPT_NAME = Path("classic_script.py")


@dataclass(frozen=True)
class FixingResult:
    """What the chapter found and fixed."""

    findings_before: tuple[str, ...]  # codes found in the script as bundled
    fixes_applied: tuple[str, ...]  # codes of the fixes that changed it
    findings_after: tuple[str, ...]  # codes found in the fixed script


def classic_script() -> str:
    """The text of the bundled classic training script."""
    return resources.files("safeloader.demo").joinpath("classic_script.py.txt").read_text()


def _report(findings: list[Finding], out: TextIO) -> None:
    for finding in findings:
        print(f"{SCRIPT_NAME}:{finding.line}:{finding.col + 1}: {finding.message}", file=out)


def run(earlier: Mapping[str, Any], out: TextIO) -> FixingResult:
    """Lint the classic script, fix it, print the findings and the diff."""
    source = classic_script()
    findings = analyze_source(source, SCRIPT_NAME)
    print(f"$ flake8 --select SLD {SCRIPT_NAME}", file=out)
    _report(findings, out)

    fixed = fix_text(source, SCRIPT_NAME, FixSelection().fixes_to_apply(findings))
    if fixed.text is None:
        raise RuntimeError(f"the classic script could not be fixed: {fixed.error}")
    print(f"\n$ safeloader-fix --diff {SCRIPT_NAME}", file=out)
    out.write(unified_diff(SCRIPT_NAME, source, fixed.text))

    after = analyze_source(fixed.text, SCRIPT_NAME)
    print(f"\n$ flake8 --select SLD {SCRIPT_NAME}  # after the fix", file=out)
    _report(after, out)
    if not after:
        print("(no findings)", file=out)
    print(
        "\nThe generator now hands Keras a ThreadSafeIterator, and fit() takes the old "
        "positional arguments by name: run it with safeloader-fix on your own scripts.",
        file=out,
    )
    return FixingResult(
        tuple(finding.code for finding in findings),
        tuple(code for code, _ in fixed.applied),
        tuple(finding.code for finding in after),
    )
