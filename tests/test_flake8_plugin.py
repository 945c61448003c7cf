"""The flake8 front end, run as users run it: real flake8 in a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_fixtures import FIXTURES, read_fixture

from safeloader.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
REPORT = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$")


def flake8(*args: str, cwd: Path, stdin: str | None = None) -> list[tuple[str, int, int, str]]:
    """Run flake8; return its reports as ``(file name, line, column, code)``."""
    done = subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    reports = []
    for line in done.stdout.splitlines():
        match = REPORT.match(line)
        assert match, line
        reports.append((Path(match["path"]).name, int(match["line"]), int(match["col"]),
                        match["code"]))
    return reports


def sld(reports: list[tuple[str, int, int, str]]) -> set[tuple[int, str]]:
    return {(line, code) for _, line, _, code in reports if code.startswith("SLD")}


def copy_fixture(name: str, directory: Path) -> Path:
    target = directory / Path(name).name
    shutil.copy(FIXTURES / name, target)
    return target


def test_plugin_is_registered_under_its_name() -> None:
    done = subprocess.run([sys.executable, "-m", "flake8", "--version"],
                          capture_output=True, text=True, check=True)
    assert "safeloader:" in done.stdout


@pytest.mark.parametrize("name", [
    "sld101_tf_keras_fit.py", "sld102_multiprocessing.py", "sld103_unguarded_script.py",
    "sld301_generator_methods.py", "sld201_threadsafe_iter.py", "project_pkg/train.py",
])
def test_flake8_reports_exactly_the_fixture_markers(name: str) -> None:
    spec = read_fixture(FIXTURES / name)
    version = f"--safeloader-keras-version={spec.config.keras_version}"
    reports = flake8("--isolated", "--select=SLD", "--extend-ignore=SLD203", version,
                     str(FIXTURES / name), cwd=FIXTURES)
    assert sld(reports) == set(spec.expected)


def test_columns_point_at_the_generator_and_the_method_name() -> None:
    reports = flake8("--isolated", "--select=SLD",
                     str(FIXTURES / "sld101_keras2_fit_generator.py"), cwd=ROOT)
    source = (FIXTURES / "sld101_keras2_fit_generator.py").read_text().splitlines()
    for _, line, col, code in reports:
        text = source[line - 1][col - 1:]
        if code == "SLD301":
            assert re.match(r"(fit|evaluate|predict)_generator\b", text)
        else:
            assert code == "SLD101" and re.match(r"(train|valid|read_batches)\b", text)


def test_guards_option_from_the_command_line(tmp_path: Path) -> None:
    fixture = copy_fixture("sld101_custom_guards.py", tmp_path)
    expected = read_fixture(FIXTURES / "sld101_custom_guards.py").expected
    plain = flake8("--isolated", "--select=SLD", str(fixture), cwd=tmp_path)
    # unconfigured, the decorators are unknown: only the undecorated generator is known
    assert sld(plain) == {item for item in expected if item[1] == "SLD101"}
    guarded = flake8("--isolated", "--select=SLD", "--safeloader-guards=locked_batches,serialised",
                     str(fixture), cwd=tmp_path)
    assert sld(guarded) == set(expected)
    assert {code for _, code in expected} == {"SLD101", "SLD102"}


@pytest.mark.parametrize("config_name", ["setup.cfg", "tox.ini", ".flake8"])
def test_guards_from_a_config_file(tmp_path: Path, config_name: str) -> None:
    copy_fixture("sld101_custom_guards.py", tmp_path)
    (tmp_path / config_name).write_text(
        "[flake8]\nselect = SLD\nsafeloader-guards =\n    locked_batches,\n    serialised\n",
        encoding="utf-8",
    )
    reports = flake8("sld101_custom_guards.py", cwd=tmp_path)
    assert sld(reports) == set(read_fixture(FIXTURES / "sld101_custom_guards.py").expected)


def test_keras_version_from_setup_cfg(tmp_path: Path) -> None:
    copy_fixture("sld302_auto_tf_keras.py", tmp_path)
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\nselect = SLD\nsafeloader-keras-version = 3\n", encoding="utf-8"
    )
    reports = flake8("sld302_auto_tf_keras.py", cwd=tmp_path)
    # Keras 3 configured: fit() rejects workers (SLD302) and starts no threads (no SLD101)
    assert sld(reports) == {(11, "SLD302"), (12, "SLD302")}


def test_keras_version_option_from_the_command_line(tmp_path: Path) -> None:
    fixture = copy_fixture("sld302_auto_version.py", tmp_path)
    assert sld(flake8("--isolated", "--select=SLD", str(fixture), cwd=tmp_path)) == {
        (7, "SLD302")
    }
    assert sld(flake8("--isolated", "--select=SLD", "--safeloader-keras-version=2",
                      str(fixture), cwd=tmp_path)) == set()


def test_invalid_keras_version_is_rejected_by_flake8(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--safeloader-keras-version=4", "x.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert done.returncode != 0 and "invalid choice" in done.stderr


def test_noqa_silences_only_the_named_code(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "def batches():\n"
        "    while True:\n"
        "        yield 1\n"
        "\n"
        "\n"
        "def train(model):\n"
        "    model.fit(batches(), workers=4)  # noqa: SLD101\n"
        "    model.fit(batches(), workers=4)  # noqa: E501\n"
        "    model.fit_generator(batches(), workers=4)  # noqa: SLD301\n"
        "    model.fit(\n"
        "        batches(),  # noqa: SLD101\n"
        "        workers=4,\n"
        "    )\n"
        "    model.fit(batches(), workers=4)  # noqa\n",
        encoding="utf-8",
    )
    reports = flake8("--isolated", "--select=SLD", "train.py", cwd=tmp_path)
    assert sld(reports) == {(8, "SLD101"), (9, "SLD101")}


def test_default_off_code_needs_extend_select() -> None:
    name = "sld203_forum_pair.py"
    expected = {item for item in read_fixture(FIXTURES / name).expected if item[1] == "SLD203"}
    assert expected
    default = flake8("--isolated", str(FIXTURES / name), cwd=ROOT)
    assert not any(code == "SLD203" for *_, code in default)
    enabled = flake8("--isolated", "--extend-select=SLD203", str(FIXTURES / name), cwd=ROOT)
    assert {(line, code) for _, line, _, code in enabled if code == "SLD203"} == expected
    # flake8's rule, documented on the rule's page: an explicit family selection wins too
    family = flake8("--isolated", "--select=SLD", str(FIXTURES / name), cwd=ROOT)
    assert {(line, code) for _, line, _, code in family if code == "SLD203"} == expected


def test_default_ignore_lists_exactly_the_default_off_rules() -> None:
    from flake8.main.options import register_default_options
    from flake8.options.manager import OptionManager

    from safeloader.flake8_plugin import Plugin

    manager = OptionManager(version="0", plugin_versions="", parents=[], formatter_names=[])
    register_default_options(manager)
    Plugin.add_options(manager)
    assert manager.extended_default_ignore == [
        code for code, rule in RULES.items() if not rule.default_enabled
    ]


def test_stdin_is_analysed_without_a_path() -> None:
    source = "def g():\n    yield 1\n\n\ndef t(m):\n    m.fit(g(), workers=4)\n"
    reports = flake8("--isolated", "--select=SLD", "-", cwd=ROOT, stdin=source)
    assert sld(reports) == {(6, "SLD101")}


def test_this_project_lints_clean_with_its_own_plugin() -> None:
    assert flake8("--select=SLD", "src", cwd=ROOT) == []
