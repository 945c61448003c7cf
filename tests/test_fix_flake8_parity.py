"""``safeloader-fix`` fixes exactly what ``flake8`` (run for real, in a subprocess, on
the same files with the same configuration) reports: ``# noqa`` comments,
``# flake8: noqa``, ``per-file-ignores``, ``exclude``/``extend-exclude``,
``select``, from ``setup.cfg``, ``tox.ini`` or ``.flake8``; and files with
old Mac (CR-only) line ends."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from safeloader.fix.cli import main
from safeloader.fix.flake8_reporting import Flake8Reporting
from safeloader.fix.runner import plan_file
from safeloader.fix.selection import FixSelection

pytestmark = pytest.mark.usefixtures("outside_the_repository")

_GENERATORS = "".join(f"def g{n}():\n    yield {n}\n\n\n" for n in range(1, 7))

TRAIN = _GENERATORS + """\
model.fit(g1(), workers=2)
model.fit(g2(), workers=2)  # noqa
model.fit(g3(), workers=2)  # noqa: SLD101
model.fit(g4(), workers=2)  # noqa: E501
model.fit(g5(), workers=2)  # NOQA:SLD1
model.fit(g6(), workers=2)  # noqa:SLD102,E501
"""

#: each file and the generators flake8 reports (and the fixer must decorate) in it
LAYOUT = {
    "train.py": (TRAIN, {"g1", "g4", "g6"}),
    "scripts/legacy.py": (TRAIN, set()),  # per-file-ignores
    "scripts/keep.py": (re.sub("# noqa", "#", TRAIN, flags=re.I), {f"g{n}" for n in range(1, 7)}),
    "generated/out.py": (TRAIN, set()),  # extend-exclude
    "vendored/lib.py": (TRAIN, {"g1", "g4", "g6"}),  # skipped by the fixer's --exclude
    "silenced.py": ("# flake8: noqa\n" + TRAIN, set()),
    "selected_away.py": (TRAIN, set()),  # per-file-ignores of the whole family
}

SETTINGS = """\
per-file-ignores =
    scripts/legacy.py: SLD101
    selected_away.py: SLD
extend-exclude = generated
"""


def decorated(text: str) -> set[str]:
    return set(re.findall(r"^@threadsafe_generator\ndef (\w+)", text, re.M))


def flake8_reports(root: Path, *arguments: str) -> set[tuple[str, str]]:
    """``(file, generator)`` of every SLD101 the real flake8 reports in ``root``."""
    result = subprocess.run(
        [sys.executable, "-m", "flake8", *arguments, "."], cwd=root,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return {
        (Path(name).as_posix().removeprefix("./"), generator)
        for name, generator in re.findall(
            r"^(.+?):\d+:\d+: SLD101 generator '(\w+)'", result.stdout, re.M
        )
    }


@pytest.mark.parametrize(
    ("config_name", "section"),
    [("setup.cfg", "flake8"), ("tox.ini", "flake8"), (".flake8", "flake8")],
)
def test_the_fixer_fixes_what_flake8_reports_under_the_same_configuration(
    tmp_path: Path, config_name: str, section: str
) -> None:
    for name, (text, _) in LAYOUT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / config_name).write_text(f"[{section}]\n{SETTINGS}")
    expected = {(name, generator) for name, (_, names) in LAYOUT.items() for generator in names}
    assert flake8_reports(tmp_path) == expected
    # the fixer's --exclude adds to the configuration's exclude and extend-exclude
    reported = {(name, generator) for name, generator in expected if name != "vendored/lib.py"}

    assert main(["--check", "--exclude", "vendored"]) == 1
    assert main(["--exclude", "vendored", "-j", "1"]) == 0
    fixed = {
        (name, generator)
        for name in LAYOUT
        for generator in decorated((tmp_path / name).read_text())
    }
    assert fixed == reported
    # now the pre-commit hook passes, as flake8 does
    assert main(["--check", "--exclude", "vendored"]) == 0
    assert {name for name, _ in flake8_reports(tmp_path)} == {"vendored/lib.py"}


def test_exclude_and_select_of_the_configuration_replace_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("vendored/lib.py", ".git/hook.py", "train.py", "notes/todo.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(TRAIN)
    # flake8's exclude replaces its default one: .git is entered now
    (tmp_path / "setup.cfg").write_text("[flake8]\nexclude = vendored\nselect = E,F,W\n")
    assert flake8_reports(tmp_path) == set()  # SLD is not selected
    assert main(["--check"]) == 0
    assert capsys.readouterr().err.startswith(
        "safeloader-fix: flake8's configuration selects none of the SLD codes"
    )
    (tmp_path / "setup.cfg").write_text("[flake8]\nexclude = vendored\nextend-select = SLD1\n")
    reported = flake8_reports(tmp_path)
    assert {name for name, _ in reported} == {".git/hook.py", "train.py", "notes/todo.py"}
    assert main(["-j", "1"]) == 0
    assert "selects none" not in capsys.readouterr().err
    assert {
        (name, generator)
        for name in (".git/hook.py", "train.py", "notes/todo.py", "vendored/lib.py")
        for generator in decorated((tmp_path / name).read_text())
    } == reported


def test_noqa_on_any_line_of_a_multiline_string_covers_its_statement(tmp_path: Path) -> None:
    # flake8 looks for ``# noqa`` on every line of a statement that holds a
    # multi-line string, as its FileProcessor maps them
    source = _GENERATORS + 'model.fit(g1(), workers=2, verbose="""\n1""")  # noqa\n'
    (tmp_path / "train.py").write_text(source)
    assert flake8_reports(tmp_path) == set()
    assert main(["--check", "train.py"]) == 0


def test_a_file_with_cr_only_line_ends_has_the_findings_flake8_reports(tmp_path: Path) -> None:
    source = "import tf_keras\n\n\nmodel.fit(\n    (x for x in data), workers=2)\n"
    script = tmp_path / "old_mac.py"
    script.write_bytes(source.replace("\n", "\r").encode())
    reported = subprocess.run(
        [sys.executable, "-m", "flake8", "--select=SLD", script.name], cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert reported.startswith("old_mac.py:5:5: SLD101 ")

    reporting = Flake8Reporting.from_arguments([script.name])
    plan = plan_file(script, reporting.analysis_config(), FixSelection(), reporting)
    assert [(code, fix.span.line, fix.span.col) for _, code, fix in plan.fixes] == [
        ("SLD101", 5, 4)
    ]
