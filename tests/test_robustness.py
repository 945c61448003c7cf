"""The analysis never raises on any source Python can parse.

A crash in a flake8 plugin stops the user's whole run, so this is checked on
every ``.py`` file of the installed tensorflow, keras and tf_keras packages,
on programs hypothesmith generates from Python's grammar, and on programs
assembled from the shapes the call-site rules follow (bindings in every kind
of block, guards, classes, imports, starred arguments).
"""

from __future__ import annotations

import ast
import importlib.util
import warnings
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from safeloader.analysis import AnalysisConfig, analyze_module
from safeloader.findings import Finding
from safeloader.rules import RULES

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

SWEEP_PACKAGES = ("tensorflow", "keras", "tf_keras")
SWEEP_CHUNKS = 8
THREAD_RULES = frozenset({"SLD101", "SLD102", "SLD103", "SLD302"})
#: exactly 200 fresh examples a run (no example database to replay), no time limit
#: (the machine is shared), and no targeting phase (hypothesmith's auto-targeting makes it
#: many times slower without finding more)
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


def package_files() -> list[Path]:
    """Every ``.py`` file of the sweep packages that are installed (never importing them)."""
    files: list[Path] = []
    for package in SWEEP_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                files.extend(sorted(Path(location).rglob("*.py")))
    return files


def parse(source: str) -> ast.Module | None:
    """Parse ``source``; ``None`` when Python cannot."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def check_invariants(findings: list[Finding], lines: list[str]) -> None:
    """What every finding must satisfy, whatever the input."""
    assert findings == sorted(findings, key=lambda f: (f.line, f.col, f.code))
    for finding in findings:
        assert finding.code in RULES
        assert finding.message.startswith(finding.code + " ")
        assert 1 <= finding.line <= max(len(lines), 1)
        assert finding.col >= 0


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(SWEEP_CHUNKS))
def test_sweep_installed_packages(chunk: int) -> None:
    files = package_files()
    assert len(files) > 1000, "tensorflow, keras and tf_keras are installed for the tests"
    analysed = 0
    alarms = []
    for path in files[chunk::SWEEP_CHUNKS]:
        source = path.read_text(encoding="utf-8", errors="replace")
        tree = parse(source)
        if tree is None:
            continue
        lines = source.splitlines(keepends=True)
        findings = analyze_module(tree, lines, path, AnalysisConfig())
        check_invariants(findings, lines)
        alarms += [f"{path}:{f.line}: {f.message}" for f in findings if f.code in THREAD_RULES]
        analysed += 1
    assert analysed > 0
    # Keras' and TensorFlow's own code feeds no plain generator to threaded or
    # multiprocessing loaders (checked by hand at tensorflow 2.21, keras 3.15,
    # tf_keras 2.21, where TensorFlow's legacy Keras 2 copy once drew SLD302 false
    # alarms): any finding of these rules here is a false alarm
    assert alarms == []


@PROPERTY_SETTINGS
@given(source=hypothesmith.from_grammar())
def test_generated_programs_never_raise(source: str) -> None:
    tree = parse(source)
    assume(tree is not None)
    assert tree is not None
    lines = source.splitlines(keepends=True)
    for version in ("2", "3", "auto"):
        config = AnalysisConfig(keras_version=version)  # type: ignore[arg-type]
        check_invariants(analyze_module(tree, lines, None, config), lines)


NAMES = st.sampled_from(["gen", "data", "g", "model", "self", "Loader", "threadsafe_iter",
                         "workers", "batches", "x"])
EXPRESSIONS = st.one_of(
    NAMES,
    NAMES.map(lambda n: f"{n}()"),
    st.tuples(NAMES, NAMES).map(lambda p: f"{p[0]}({p[1]}())"),
    st.tuples(NAMES, NAMES).map(lambda p: f"{p[0]}.{p[1]}()"),
    st.tuples(NAMES, NAMES).map(lambda p: f"{p[0]}().{p[1]}()"),
    NAMES.map(lambda n: f"({n} for {n} in {n})"),
    NAMES.map(lambda n: f"lambda {n}: {n}"),
    st.sampled_from(["0", "1", "4", "True", "False", "None", "*rest", "**opts", "-1", "2.5",
                     "'x'", "(yield)"]),
)
CALLS = st.tuples(
    st.sampled_from(["fit", "evaluate", "predict", "fit_generator", "evaluate_generator",
                     "predict_generator"]),
    NAMES,
    st.lists(EXPRESSIONS, max_size=14),
    st.lists(st.tuples(st.sampled_from(["x", "generator", "validation_data", "workers",
                                        "nb_worker", "use_multiprocessing", "pickle_safe",
                                        "max_queue_size", "steps"]), EXPRESSIONS),
             max_size=4, unique_by=lambda kw: kw[0]),
).map(lambda c: "{1}.{0}({2})".format(
    c[0], c[1], ", ".join([a for a in c[2] if not a.startswith("**")]
                          + [f"{k}={v}" for k, v in c[3] if not v.startswith("*")])))


def statement(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    """One statement (as indented lines), possibly a block holding ``children``."""
    simple = st.one_of(
        st.tuples(NAMES, EXPRESSIONS).map(lambda p: [f"{p[0]} = {p[1]}"]),
        CALLS.map(lambda c: [c]),
        NAMES.map(lambda n: [f"{n} += 1"]),
        NAMES.map(lambda n: [f"global {n}"]),
        NAMES.map(lambda n: [f"({n} := {n}())"]),
        NAMES.map(lambda n: [f"yield {n}"]),
        NAMES.map(lambda n: [f"from {n} import *"]),
        NAMES.map(lambda n: [f"from .{n} import {n}"]),
        NAMES.map(lambda n: [f"import {n}.{n} as {n}"]),
        NAMES.map(lambda n: [f"del {n}"]),
    )
    block_heads = st.sampled_from([
        "if __name__ == '__main__':", "if x:", "for gen in data:", "while x:", "with x as g:",
        "def gen(self):", "def batches():", "async def g():", "class Loader:",
        "class Loader(keras.utils.PyDataset):", "@threadsafe_iter\ndef gen():",
        "@staticmethod\ndef batches():", "try:",
    ])

    def block(parts: tuple[str, list[str]]) -> list[str]:
        head, body = parts
        lines = head.split("\n") + ["    " + line for line in (body or ["pass"])]
        if head == "try:":
            lines += ["except Exception as g:", "    pass"]
        return lines

    return st.one_of(simple, st.tuples(block_heads, children).map(block))


PROGRAMS = st.recursive(
    st.lists(statement(st.just(["pass"])), min_size=1, max_size=6).map(
        lambda blocks: [line for b in blocks for line in b]),
    lambda children: st.lists(statement(children), min_size=1, max_size=6).map(
        lambda blocks: [line for b in blocks for line in b]),
    max_leaves=25,
)


@PROPERTY_SETTINGS
@given(lines=PROGRAMS, version=st.sampled_from(["2", "3", "auto"]))
def test_assembled_loader_programs_never_raise(lines: list[str], version: str) -> None:
    source = "\n".join(lines) + "\n"
    tree = parse(source)
    assume(tree is not None)
    assert tree is not None
    config = AnalysisConfig(keras_version=version,  # type: ignore[arg-type]
                            extra_guards=frozenset({"batches"}))
    check_invariants(analyze_module(tree, source.splitlines(keepends=True), None, config),
                     source.splitlines())


def test_deeply_nested_expressions_do_not_exhaust_the_stack() -> None:
    """Nesting deeper than Python's recursion limit (1000) but still parsable (< 3000)."""
    depth = 2500
    source = (
        "def g():\n    yield 1\n\n\n"
        f"model.fit(g(), workers={'1 + ' * depth}1, use_multiprocessing={'not ' * depth}x)\n"
    )
    tree = parse(source)
    assert tree is not None
    findings = analyze_module(tree, source.splitlines(keepends=True), None,
                              AnalysisConfig(keras_version="2"))
    assert [f.code for f in findings] == ["SLD101"]
    assert "..." in findings[0].message


def test_deepest_statement_nesting_python_allows() -> None:
    depth = 98
    body = "".join("    " * level + "if x:\n" for level in range(depth))
    inner = "    " * depth
    source = (
        "def g():\n    yield 1\n\n\n" + body
        + f"{inner}gen = g()\n{inner}model.fit(gen, workers=4, use_multiprocessing=flag)\n"
    )
    tree = parse(source)
    assert tree is not None
    findings = analyze_module(tree, source.splitlines(keepends=True), None,
                              AnalysisConfig(keras_version="2"))
    assert [(f.line, f.code) for f in findings] == [(depth + 6, "SLD101")]
