"""Generators imported from other modules of the project: found, read once while they
stay as they are, never fatal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.analysis.project import (
    _parsed_module,
    load_module,
    project_roots,
    text_hints,
)
from safeloader.findings import FixKind

GENERATORS = "def batches():\n    while True:\n        yield 1\n"
TRAIN = "def t(m):\n    m.fit({call}, workers=2)\n"


def make_project(root: Path, train_imports: str, call: str) -> Path:
    package = root / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "gens.py").write_text(GENERATORS, encoding="utf-8")
    train = package / "train.py"
    train.write_text(train_imports + "\n\n\n" + TRAIN.format(call=call), encoding="utf-8")
    return train


def analyse(path: Path, root: Path | None) -> list:
    config = AnalysisConfig(keras_version="2", project_root=root)
    return analyze_source(path.read_text(encoding="utf-8"), path, config)


@pytest.mark.parametrize("imports, call", [
    ("from .gens import batches", "batches()"),
    ("from . import gens", "gens.batches()"),
    ("from proj.gens import batches as b", "b()"),
    ("import proj.gens", "proj.gens.batches()"),
    ("import proj.gens as g", "g.batches()"),
    ("from proj import gens", "gens.batches()"),
])
def test_imported_generator_is_reported_with_a_fix_in_its_module(
    tmp_path: Path, imports: str, call: str
) -> None:
    train = make_project(tmp_path, imports, call)
    [finding] = analyse(train, tmp_path)
    assert finding.code == "SLD101"
    assert "decorate 'batches' in gens.py" in finding.message
    [fix] = finding.fixes
    assert fix.kind is FixKind.DECORATE_GENERATOR
    assert fix.path == (tmp_path / "proj" / "gens.py").resolve()
    assert fix.span.line == 1 and fix.span.col == 0


def test_absolute_import_resolves_from_the_files_directory_without_a_root(
    tmp_path: Path
) -> None:
    (tmp_path / "gens.py").write_text(GENERATORS, encoding="utf-8")
    train = tmp_path / "train.py"
    train.write_text("from gens import batches\n\n\n" + TRAIN.format(call="batches()"),
                     encoding="utf-8")
    assert [f.code for f in analyse(train, None)] == ["SLD101"]


def test_re_export_through_a_package_init(tmp_path: Path) -> None:
    train = make_project(tmp_path, "from proj import batches", "batches()")
    (tmp_path / "proj" / "__init__.py").write_text("from .gens import batches\n",
                                                   encoding="utf-8")
    assert [f.code for f in analyse(train, tmp_path)] == ["SLD101"]


def test_without_a_path_imports_are_not_followed(tmp_path: Path) -> None:
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    config = AnalysisConfig(keras_version="2", project_root=tmp_path)
    assert analyze_source(train.read_text(encoding="utf-8"), None, config) == []


@pytest.mark.parametrize("content", [
    b"def batches(:\n",  # a syntax error
    b"\xff\xfe\x00garbage\x00",  # not UTF-8, null bytes
    b"x = (" * 300 + b"\n",  # too deeply nested for the parser
])
def test_unparsable_imported_module_is_ignored(tmp_path: Path, content: bytes) -> None:
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    (tmp_path / "proj" / "gens.py").write_bytes(content)
    assert analyse(train, tmp_path) == []


def test_a_directory_in_place_of_a_module_is_ignored(tmp_path: Path) -> None:
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    (tmp_path / "proj" / "gens.py").unlink()
    (tmp_path / "proj" / "gens.py").mkdir()
    assert analyse(train, tmp_path) == []


def test_each_module_is_read_once(tmp_path: Path) -> None:
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    gens = (tmp_path / "proj" / "gens.py").resolve()
    analyse(train, tmp_path)
    before = _parsed_module.cache_info()
    for _ in range(3):
        analyse(train, tmp_path)
    after = _parsed_module.cache_info()
    assert after.misses == before.misses
    assert after.hits >= before.hits + 3
    assert load_module(gens) is load_module(gens)


def _stamp(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_module_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    gens = tmp_path / "proj" / "gens.py"
    assert [f.code for f in analyse(train, tmp_path)] == ["SLD101"]
    first = gens.stat().st_mtime_ns
    # no longer a generator: the same path, other text, a later modification time
    gens.write_text("def batches():\n    return [1]\n", encoding="utf-8")
    _stamp(gens, first + 10**9)
    assert analyse(train, tmp_path) == []
    gens.write_text(GENERATORS, encoding="utf-8")
    _stamp(gens, first + 2 * 10**9)
    assert [f.code for f in analyse(train, tmp_path)] == ["SLD101"]


def test_a_module_replaced_by_another_file_of_the_same_size_and_time_is_read_again(
    tmp_path: Path,
) -> None:
    """An atomic replace (what ``safeloader-fix`` and editors do) gives a new inode even
    where the size and the modification time are the same as before."""
    train = make_project(tmp_path, "from .gens import batches", "batches()")
    gens = tmp_path / "proj" / "gens.py"
    assert [f.code for f in analyse(train, tmp_path)] == ["SLD101"]
    before = gens.stat()
    replacement = tmp_path / "proj" / "gens.new"
    replacement.write_text(GENERATORS.replace("yield 1", "print()"), encoding="utf-8")
    assert replacement.stat().st_size == before.st_size
    _stamp(replacement, before.st_mtime_ns)
    os.replace(replacement, gens)
    assert gens.stat().st_ino != before.st_ino
    assert analyse(train, tmp_path) == []


def test_import_cycles_terminate(tmp_path: Path) -> None:
    package = tmp_path / "cyc"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from .b import batches\n", encoding="utf-8")
    (package / "b.py").write_text("from .a import batches\n", encoding="utf-8")
    train = package / "train.py"
    train.write_text("from .a import batches\n\n\n" + TRAIN.format(call="batches()"),
                     encoding="utf-8")
    assert analyse(train, tmp_path) == []


def test_roots_are_the_configured_root_or_the_files_ancestors_up_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert project_roots(None, tmp_path) == (tmp_path.resolve(), tmp_path.resolve() / "src")
    monkeypatch.chdir(tmp_path)
    assert project_roots(nested / "x.py", None) == (
        nested.resolve(), (tmp_path / "a").resolve(), tmp_path.resolve()
    )
    monkeypatch.chdir(nested)
    assert project_roots(tmp_path / "x.py", None) == (tmp_path.resolve(),)
    assert project_roots(None, None) == ()


def test_a_symlink_loop_as_the_analysed_path_does_not_raise(tmp_path: Path) -> None:
    loop = tmp_path / "loop.py"
    loop.symlink_to(tmp_path / "loop.py")
    source = "from .gens import batches\n\n\n" + TRAIN.format(call="batches()")
    config = AnalysisConfig(keras_version="2")
    assert analyze_source(source, loop, config) == []
    with_root = AnalysisConfig(keras_version="2", project_root=loop)
    assert analyze_source(source.replace(".gens", "gens"), loop, with_root) == []


@pytest.mark.parametrize("source, hints", [
    ("def f():\n    global x\n", {"global"}),
    ("def f(): global x\n", {"global"}),
    ("a = 1; global b\n", {"global"}),
    ("global \\\n    x\n", {"global"}),
    ("if (y := 1):\n    pass\n", {":="}),
    # the word elsewhere enables no search
    ("step = tf.compat.v1.train.get_global_step()\n# global state\n", set()),
    ("text = 'the global x'\n", set()),
])
def test_text_hints_look_for_statements_not_words(source: str, hints: set[str]) -> None:
    assert text_hints(source) == hints


def test_roots_of_a_linked_file_are_beside_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "train.py"
    target.write_text("")
    (tmp_path / "links" / "train.py").symlink_to(target)
    monkeypatch.chdir(tmp_path)
    assert project_roots(tmp_path / "links" / "train.py", None) == (
        (tmp_path / "real").resolve(), tmp_path.resolve())
    assert project_roots(tmp_path / "links" / "other.py", None) == (
        (tmp_path / "links").resolve(), tmp_path.resolve())
