"""Call-site rules through the analysis API: messages, positions and the fixes they carry."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_module, analyze_source, might_have_findings
from safeloader.findings import Finding, Fix, FixKind, Span

KERAS2 = AnalysisConfig(keras_version="2")


def findings(source: str, config: AnalysisConfig = KERAS2) -> list[Finding]:
    return analyze_source(textwrap.dedent(source), None, config)


def test_sld101_message_names_generator_call_setting_and_remedy() -> None:
    [finding] = findings("""
        def batches():
            yield 1

        def train(model):
            model.fit(batches(), workers=3)
    """)
    assert finding.message == (
        "SLD101 generator 'batches' feeds fit(workers=3) from threads but is not "
        "thread-safe; decorate 'batches' with @safeloader.threadsafe_generator"
    )
    assert (finding.line, finding.col) == (6, 14)


def test_sld101_fix_decorates_the_def_with_its_ast_span() -> None:
    source = textwrap.dedent("""
        import tf_keras

        @staticmethod
        def batches(n):
            for i in range(n):
                yield i

        def train(model):
            gen = batches(3)
            model.fit_generator(gen, workers=2)
    """)
    tree = ast.parse(source)
    definition = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    [rename, unsafe] = analyze_source(source, None, KERAS2)
    assert unsafe.code == "SLD101"
    [fix] = unsafe.fixes
    assert fix.kind is FixKind.DECORATE_GENERATOR
    assert fix.span == Span(definition.lineno, definition.col_offset,
                            definition.end_lineno, definition.end_col_offset)
    assert fix.path is None and dict(fix.params) == {"name": "batches"}
    assert rename.code == "SLD301"


def test_sld101_on_a_generator_expression_wraps_the_argument() -> None:
    source = "def t(model, rows):\n    model.fit((r * 2 for r in rows), workers=4)\n"
    [finding] = analyze_source(source, None, KERAS2)
    [fix] = finding.fixes
    assert fix.kind is FixKind.WRAP_EXPRESSION
    assert fix.span == Span(2, 14, 2, 35)
    assert "generator expression feeds fit(workers=4)" in finding.message
    assert "wrap it in safeloader.ThreadSafeIterator(...)" in finding.message


def test_sld101_on_a_name_bound_to_a_generator_expression_wraps_the_name() -> None:
    [finding] = findings("""
        def t(model, rows):
            stream = (r for r in rows)
            model.fit(stream, workers=4)
    """)
    [fix] = finding.fixes
    assert fix.kind is FixKind.WRAP_EXPRESSION and fix.span == Span(4, 14, 4, 20)
    assert "generator 'stream'" in finding.message and "wrap 'stream' in" in finding.message


def test_non_literal_use_multiprocessing_is_shown_in_the_sld101_message() -> None:
    [finding] = findings("""
        def g():
            yield 1

        def t(model, procs, **opts):
            model.fit(g(), workers=4, use_multiprocessing=procs)
            model.fit(g(), workers=4, **opts)
    """)[:1]
    assert "fit(workers=4, use_multiprocessing=procs)" in finding.message
    both = findings("""
        def g():
            yield 1

        def t(model, procs, **opts):
            model.fit(g(), workers=4, use_multiprocessing=procs)
            model.fit(g(), workers=4, **opts)
    """)
    assert "fit(workers=4, **kwargs)" in both[1].message


def test_sld102_fixes_disable_then_decorate() -> None:
    source = textwrap.dedent("""
        def g():
            yield 1

        def t(model):
            model.fit(g(), workers=4, use_multiprocessing=True)
    """)
    [finding] = analyze_source(source, None, KERAS2)
    assert finding.code == "SLD102"
    disable, decorate = finding.fixes
    assert disable.kind is FixKind.DISABLE_MULTIPROCESSING
    assert disable.span == Span(6, 50, 6, 54)
    assert dict(disable.params) == {"keyword": "use_multiprocessing"}
    assert decorate.kind is FixKind.DECORATE_GENERATOR


def test_sld102_on_a_guarded_generator_only_disables_and_says_why() -> None:
    [finding] = findings("""
        from safeloader import threadsafe_generator

        @threadsafe_generator
        def g():
            yield 1

        def t(model):
            model.fit(g(), workers=4, pickle_safe=True)
    """)
    assert [fix.kind for fix in finding.fixes] == [FixKind.DISABLE_MULTIPROCESSING]
    assert dict(finding.fixes[0].params) == {"keyword": "pickle_safe"}
    assert "set pickle_safe=False: its lock already makes it thread-safe" in finding.message


def test_sld102_through_a_name_has_no_disable_fix() -> None:
    [finding] = findings("""
        PROCESSES = True

        def g():
            yield 1

        def t(model):
            model.fit(g(), use_multiprocessing=PROCESSES)
    """)
    assert finding.code == "SLD102"
    assert [fix.kind for fix in finding.fixes] == [FixKind.DECORATE_GENERATOR]


def test_sld301_fix_spans_the_whole_call_and_reports_at_the_method_name() -> None:
    source = textwrap.dedent("""
        def t(model, data):
            return (model
                    .evaluate_generator(data,
                                        steps=3))
    """)
    call = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call))
    [finding] = analyze_source(source, None, KERAS2)
    assert (finding.code, finding.line, finding.col) == ("SLD301", 4, 13)
    [fix] = finding.fixes
    assert fix.kind is FixKind.RENAME_GENERATOR_CALL
    assert fix.span == Span(call.lineno, call.col_offset, call.end_lineno, call.end_col_offset)
    assert dict(fix.params) == {"old": "evaluate_generator", "new": "evaluate"}


def test_sld302_has_no_fix_for_unknown_data_and_sld103_guards_from_the_first_statement() -> None:
    source = "import keras\nmodel.fit(data, workers=2, use_multiprocessing=True)\n"
    result = analyze_source(source, None, AnalysisConfig(keras_version="3"))
    assert [(f.code, f.fixes) for f in result] == [("SLD302", ())]
    keras2 = analyze_source(source, None, KERAS2)
    guard = Fix(FixKind.GUARD_MAIN, Span(2, 0, 2, 52))
    assert [(f.code, f.col, f.fixes) for f in keras2] == [("SLD103", 6, (guard,))]


def test_workers_zero_silences_every_loader_rule_but_sld301() -> None:
    result = findings("""
        def g():
            yield 1

        model.fit_generator(g(), workers=0, use_multiprocessing=True)
    """)
    assert [f.code for f in result] == ["SLD301"]


def test_findings_are_sorted_by_position() -> None:
    result = findings("""
        def g():
            yield 1

        def t(model):
            model.fit(g(), workers=4)
            model.fit_generator(g(),
                                workers=4)
            model.fit(g(), workers=4)
    """)
    assert [(f.line, f.col) for f in result] == sorted((f.line, f.col) for f in result)
    assert [f.code for f in result] == ["SLD101", "SLD301", "SLD101", "SLD101"]


def test_analyze_module_accepts_lines_without_line_ends() -> None:
    source = "def g():\n    yield 1\n\n\ndef t(m):\n    m.fit(g(), workers=4)\n"
    tree = ast.parse(source)
    with_ends = analyze_module(tree, source.splitlines(keepends=True), None)
    without = analyze_module(tree, source.splitlines(), None)
    assert [(f.line, f.code) for f in with_ends] == [(6, "SLD101")]
    assert [(f.line, f.code) for f in without] == [(6, "SLD101")]


def test_analyze_source_raises_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        analyze_source("def broken(:\n", Path("broken.py"))


def test_prefilter_rejects_text_without_a_loader_call_class_rule_text_or_import() -> None:
    # tests/test_prefilter.py checks each group's text, and that no finding is lost
    assert not might_have_findings("x = 1\nprint(x, abs(x))\n")
    assert not might_have_findings("x = ('fit', 'workers', 'Lock', 'threadsafe', 'next')\n")
    for text in ("m.fit(x)", "m.evaluate(x)", "m.predict(x)", "m.fit_generator(g)",
                 "class A(Sequence): pass", "class A(PyDataset): pass",
                 "class A:\n    def __next__(self): pass", "class A:\n    def next(self): pass",
                 "import x"):
        assert might_have_findings(text + "\n")


def test_loader_call_separated_from_its_parenthesis_is_still_seen() -> None:
    result = findings("""
        def g():
            yield 1

        def t(model):
            model.fit \\
                (g(), workers=4)
            model.fit  (g(), workers=4)
    """)
    assert [(f.line, f.code) for f in result] == [(7, "SLD101"), (8, "SLD101")]


@pytest.mark.parametrize("call", [
    "model.fit(g(), workers=4)",
    "model.evaluate(g(), workers=4)",
    "model.predict(g(), workers=4)",
    "model.fit(x=g(), workers=4)",
    "model.fit(validation_data=g(), workers=4)",
    "model.fit_generator(generator=g(), workers=4)",
    "model.evaluate_generator(g(), 1, None, 10, 4)",
    "model.predict_generator(g(), 1, None, 10, 4)",
    "model.fit(g(), None, 32, 1, 1, None, 0.0, None, True, None, None, 0, None, None, None, 1,"
    " 10, 4)",
    "model.evaluate(g(), None, 32, 1, None, None, None, 10, 4)",
    "get_model().layers[0].fit(g(), workers=4)",
])
def test_every_loader_form_is_read(call: str) -> None:
    source = f"def g():\n    yield 1\n\n\ndef t(model):\n    {call}\n"
    codes = {f.code for f in analyze_source(source, None, KERAS2)}
    assert "SLD101" in codes


@pytest.mark.parametrize("call", [
    "model.fit(g(), workers=1)",
    "model.fit(g(), workers=-1)",
    "model.fit(g())",
    "model.fit(g(), 4)",
    "model.fit_generator(g(), 1, 1, 1, None, None, None, 1, None, 4)",
    "model.fit(*extra, workers=4)",
    "model.transform(g(), workers=4)",
    "fit(g(), workers=4)",
])
def test_calls_that_start_no_threads_on_the_generator(call: str) -> None:
    source = f"def g():\n    yield 1\n\n\ndef t(model, extra):\n    {call}\n"
    codes = {f.code for f in analyze_source(source, None, KERAS2)}
    assert "SLD101" not in codes
