"""One ``safeloader-fix`` pass leaves nothing its own lint would fix, on every fixture.

Every fixture file and project (``fixtures/*.py``, ``project_pkg``,
``project_mp``, the migration projects, the notebooks) is fixed by one run,
with and without ``--unsafe-fixes``, with SLD203 selected too, in three
modes: Keras 3 configured (``safeloader-keras-version = 3``), Keras 3
declared (the fixture tree's ``requirements.txt`` says ``keras>=3``; each
file's own evidence and any nearer declaration still decide first), and
Keras 2 configured. Afterwards:

* a second run changes nothing, and ``--check`` exits 0;
* what is still reported (``safeloader lint``'s machinery, which is
  flake8's, notebooks included) has no fix the run could apply: its rule has
  none, this shape has none, the fix is unsafe and was not asked for, or the
  call is a shape no fix can rewrite (:data:`LEFT_ALONE`: Keras 1's sample
  counts, arguments behind ``*args``/``**kwargs``), which the run names in a
  warning at that line; it warns about nothing else (no fix that another one
  in the same pass kept from applying, no cell boundary in the way);
* real ``flake8`` (a subprocess, the same configuration) reports in the
  Python files exactly those SLD findings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safeloader.fix.flake8_reporting import Flake8Reporting
from safeloader.fix.options import flake8_arguments
from safeloader.fix.runner import file_findings, read_module_file
from safeloader.fix.selection import FixSelection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: a flake8 report line of ours
SLD_REPORT = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):\d+: (?P<code>SLD\d+) ", re.M)

#: why a fix the analysis offers is left undone in the fixtures: calls whose arguments
#: no fix can rewrite faithfully (the end of the run's warning about them)
LEFT_ALONE = (
    "Keras 1's 'samples_per_epoch' counts samples, not steps; convert it by hand",
    "Keras 1's 'val_samples' counts samples, not steps; convert it by hand",
    "it passes *args or **kwargs, whose positions are unknown",
)

MODES = {
    "keras3-configured": ("3", None),
    "keras3-declared": (None, "keras>=3\nnumpy>=1.23\n"),
    "keras2-configured": ("2", None),
}


def _fix(*arguments: str) -> subprocess.CompletedProcess[str]:
    """A ``safeloader-fix`` run in a process of its own, as users run it."""
    return subprocess.run([sys.executable, "-m", "safeloader.fix.cli", *arguments],
                          capture_output=True, text=True, check=False, timeout=300)


def _snapshot(tree: Path) -> dict[str, bytes]:
    return {path.relative_to(tree).as_posix(): path.read_bytes()
            for path in sorted(tree.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_one_pass_leaves_nothing_to_fix_in_any_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, unsafe: bool,
) -> None:
    keras_version, requirements = MODES[mode]
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()  # nothing above the copy is read
    shutil.copytree(FIXTURES, tmp_path / "f", ignore=shutil.ignore_patterns("expected",
                                                                            "__pycache__"))
    if requirements is not None:
        (tmp_path / "f" / "requirements.txt").write_text(requirements, encoding="utf-8")
    settings = "" if keras_version is None else f"safeloader-keras-version = {keras_version}\n"
    (tmp_path / "setup.cfg").write_text(f"[flake8]\n{settings}extend-select = SLD203\n",
                                        encoding="utf-8")
    flags = ["-j", "1", *(["--unsafe-fixes"] if unsafe else [])]

    first = _fix(*flags, "f")
    assert first.returncode == 0, first.stderr
    assert "changed; fixes: SLD" in first.stderr  # the pass had work to do
    fixed = _snapshot(tmp_path / "f")
    check = _fix(*flags, "--check", "f")
    assert check.returncode == 0, check.stdout + check.stderr
    second = _fix(*flags, "f")
    assert second.returncode == 0, second.stderr
    assert _snapshot(tmp_path / "f") == fixed
    # the second run warns again, at today's lines, about what it leaves alone: only
    # shapes no fix can rewrite
    warnings = [line for line in second.stderr.splitlines()
                if not line.startswith("safeloader-fix: ")]
    assert [line for line in warnings if not line.endswith(LEFT_ALONE)] == []

    reporting = Flake8Reporting.from_arguments(flake8_arguments(["f"], (), (), None, None))
    config = reporting.analysis_config()
    selection = FixSelection(unsafe_fixes=unsafe)
    reported: set[tuple[str, int, str]] = set()
    fixable_left = []
    files = list(reporting.files(notebooks=True))
    assert Path("f/notebooks/train_keras3.ipynb") in files
    assert Path("f/notebooks/processes_keras3.ipynb") in files
    assert Path("f/migration/segmentation/segkit/train.py") in files
    for path in files:
        module = read_module_file(path)
        for finding in file_findings(module, config, reporting):
            reported.add((path.as_posix(), finding.line, finding.code))
            if selection.findings_to_fix([finding]):
                fixable_left.append(f"{path}:{module.location(finding.line)}:")
    # a fix left undone is one the run refused, saying so at that line
    assert [where for where in fixable_left
            if not any(line.startswith(where) for line in warnings)] == []

    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "SLD", "f"],
                            capture_output=True, text=True, check=False, timeout=300)
    assert flake8.returncode in (0, 1), flake8.stderr
    flake8_reported = {(match["path"], int(match["line"]), match["code"])
                       for match in SLD_REPORT.finditer(flake8.stdout)}
    assert flake8_reported == {entry for entry in reported if entry[0].endswith(".py")}
