"""The codemod's handlers for SLD101, SLD102 and SLD301, driven by hand-built fixes.

Each case gives the source, the fixes the analysis would plan, and the exact
expected output; the no-change cases also check the warning that explains why.
"""

from __future__ import annotations

import ast

import pytest
from codemod_helpers import call_span, dedent, fix, run_fixes, span_of

from safeloader.findings import FixKind, Span

DECORATE = FixKind.DECORATE_GENERATOR
WRAP = FixKind.WRAP_EXPRESSION
DISABLE = FixKind.DISABLE_MULTIPROCESSING
RENAME = FixKind.RENAME_GENERATOR_CALL


def def_span(source: str, name: str) -> Span:
    return span_of(source, ast.FunctionDef, name=name)


def test_decorator_and_import_go_after_docstring_and_future_imports() -> None:
    source = dedent('''
        """Train a model."""
        from __future__ import annotations

        import numpy as np


        def batches(size):
            while True:
                yield np.zeros((size, 2))
    ''')
    code, warnings = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert warnings == []
    assert code == dedent('''
        """Train a model."""
        from __future__ import annotations

        import numpy as np
        from safeloader import threadsafe_generator


        @threadsafe_generator
        def batches(size):
            while True:
                yield np.zeros((size, 2))
    ''')


def test_decorator_is_innermost_below_existing_decorators_with_tab_indentation() -> None:
    source = (
        "class Data:\n"
        "\t@staticmethod\n"
        "\t# the batches\n"
        "\tdef batches(size):\n"
        "\t\tyield size\n"
    )
    code, _ = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert code == (
        "from safeloader import threadsafe_generator\n"
        "\n"
        "\n"
        "class Data:\n"
        "\t@staticmethod\n"
        "\t# the batches\n"
        "\t@threadsafe_generator\n"
        "\tdef batches(size):\n"
        "\t\tyield size\n"
    )


def test_import_merges_with_an_existing_safeloader_import() -> None:
    source = dedent('''
        from safeloader import sharded_generator


        def batches():
            yield 1
    ''')
    code, _ = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert code.splitlines()[0] == "from safeloader import threadsafe_generator, sharded_generator"
    assert code.count("import") == 1


def test_already_decorated_generator_is_left_alone() -> None:
    source = dedent('''
        import safeloader


        @safeloader.threadsafe_generator
        def batches():
            yield 1
    ''')
    code, warnings = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert (code, warnings) == (source, [])


def test_decorator_name_taken_by_a_hand_written_one_uses_the_module_name() -> None:
    source = dedent('''
        def threadsafe_generator(f):
            return f


        def batches():
            yield 1
    ''')
    code, warnings = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert warnings == []
    assert code == dedent('''
        import safeloader


        def threadsafe_generator(f):
            return f


        @safeloader.threadsafe_generator
        def batches():
            yield 1
    ''')


def test_decorator_and_module_names_both_taken_is_a_warning_not_a_change() -> None:
    source = dedent('''
        from utils import threadsafe_generator
        safeloader = None


        def batches():
            yield 1
    ''')
    code, warnings = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))])
    assert code == source
    assert warnings == [
        "5:1: 'threadsafe_generator' and 'safeloader' already name something else in this "
        "module; decorate 'batches' by hand"
    ]


def test_wrapper_name_taken_uses_the_module_name() -> None:
    source = "from mylib import ThreadSafeIterator\nmodel.fit(x for x in data)\n"
    code, warnings = run_fixes(source, [fix(WRAP, span_of(source, ast.GeneratorExp))])
    assert warnings == []
    assert code == (
        "from mylib import ThreadSafeIterator\nimport safeloader\n\n"
        "model.fit(safeloader.ThreadSafeIterator(x for x in data))\n"
    )


def test_non_ascii_text_before_a_span_does_not_move_it() -> None:
    # ast counts UTF-8 bytes ("é" is two), LibCST counts characters
    source = 'label = "données"; model.fit((x for x in "é"), workers=3)\n'
    code, _ = run_fixes(source, [fix(WRAP, span_of(source, ast.GeneratorExp))])
    assert code.endswith(
        'label = "données"; model.fit(ThreadSafeIterator((x for x in "é")), workers=3)\n'
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("model.fit(x for x in data)", "model.fit(ThreadSafeIterator(x for x in data))"),
        (
            "model.fit((x for x in data), workers=2)",
            "model.fit(ThreadSafeIterator((x for x in data)), workers=2)",
        ),
        (
            "model.fit(\n    (x for x in data),  # batches\n    workers=2,\n)",
            "model.fit(\n    ThreadSafeIterator((x for x in data)),  # batches\n    workers=2,\n)",
        ),
    ],
)
def test_generator_expression_is_wrapped(call: str, expected: str) -> None:
    source = f"{call}\n"
    code, warnings = run_fixes(source, [fix(WRAP, span_of(source, ast.GeneratorExp))])
    assert warnings == []
    assert code == f"from safeloader import ThreadSafeIterator\n\n{expected}\n"


def test_a_name_is_wrapped_not_its_neighbours() -> None:
    source = "model.fit(loader.stream(), epochs=2, workers=2)\n"
    code, _ = run_fixes(source, [fix(WRAP, call_span(source, "stream"))])
    assert code.endswith("model.fit(ThreadSafeIterator(loader.stream()), epochs=2, workers=2)\n")


@pytest.mark.parametrize("keyword", ["use_multiprocessing", "pickle_safe"])
def test_multiprocessing_is_turned_off(keyword: str) -> None:
    source = f"model.fit(data(), workers=3, {keyword} = True)\n"
    span = span_of(source, ast.Constant, value=True)
    code, warnings = run_fixes(source, [fix(DISABLE, span, "SLD102", keyword=keyword)])
    assert warnings == []
    assert code == f"model.fit(data(), workers=3, {keyword} = False)\n"


def test_multiprocessing_fix_on_another_keyword_is_refused() -> None:
    source = "model.fit(data(), shuffle=True)\n"
    span = span_of(source, ast.Constant, value=True)
    code, warnings = run_fixes(
        source, [fix(DISABLE, span, "SLD102", keyword="use_multiprocessing")]
    )
    assert code == source
    assert warnings == ["1:27: expected the argument 'use_multiprocessing' here; left unchanged"]


@pytest.mark.parametrize("moved_first", [True, False])
def test_a_setting_moved_into_a_constructor_is_turned_off_there_in_the_same_pass(
    moved_first: bool,
) -> None:
    """SLD302's move and, in a notebook under Keras 3, SLD103's thread route aim at one
    constructor call: the route runs after the move (its ORDER), whatever the order the
    fixes come in (SLD103 sorts first)."""
    source = "model.fit(Batches(x), workers=2, use_multiprocessing=True)\n"
    span = call_span(source, "Batches")
    move = fix(FixKind.ADD_LOADER_SETTINGS, span, "SLD302",
               arguments="workers=2, use_multiprocessing=True")
    threads = fix(FixKind.DISABLE_MOVED_MULTIPROCESSING, span, "SLD103",
                  keyword="use_multiprocessing")
    code, warnings = run_fixes(source, [move, threads] if moved_first else [threads, move])
    assert warnings == []
    assert code == "model.fit(Batches(x, workers=2, use_multiprocessing=False), workers=2, " \
                   "use_multiprocessing=True)\n"


def test_the_thread_route_without_the_move_is_refused() -> None:
    source = "model.fit(Batches(x), workers=2, use_multiprocessing=True)\n"
    threads = fix(FixKind.DISABLE_MOVED_MULTIPROCESSING, call_span(source, "Batches"),
                  "SLD103", keyword="use_multiprocessing")
    code, warnings = run_fixes(source, [threads])
    assert code == source
    assert warnings == ["1:11: expected the argument 'use_multiprocessing' here, where the fix "
                        "of SLD302 or SLD301 moves the loader settings; left unchanged"]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            "model.fit_generator(gen, 100, 5, verbose=0)",
            "model.fit(gen, steps_per_epoch=100, epochs=5, verbose=0)",
        ),
        (
            "model.fit_generator(generator=gen, steps_per_epoch=10)",
            "model.fit(x=gen, steps_per_epoch=10)",
        ),
        (
            "model.fit_generator(gen, nb_epoch=2, nb_worker=3, pickle_safe=False, max_q_size=4)",
            "model.fit(gen, epochs=2, workers=3, use_multiprocessing=False, max_queue_size=4)",
        ),
        ("net.evaluate_generator(gen, 7, None, 10, 3)",
         "net.evaluate(gen, steps=7, callbacks=None, max_queue_size=10, workers=3)"),
        ("predict_generator(gen, 3)", "predict(gen, steps=3)"),
        (
            "model.fit_generator(\n    gen,  # data\n    20,\n)",
            "model.fit(\n    gen,  # data\n    steps_per_epoch=20,\n)",
        ),
    ],
)
def test_generator_call_is_renamed_with_keywords_of_the_old_signature(
    call: str, expected: str
) -> None:
    source = f"{call}\n"
    old = next(name for name in ("fit_generator", "evaluate_generator", "predict_generator")
               if name in call)
    new = old.removesuffix("_generator")
    code, warnings = run_fixes(
        source, [fix(RENAME, call_span(source, old), "SLD301", old=old, new=new)]
    )
    assert warnings == []
    assert code == f"{expected}\n"


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ("model.fit_generator(gen, *rest)", "it passes *args or **kwargs"),
        ("model.fit_generator(gen, **options)", "it passes *args or **kwargs"),
        ("model.predict_generator(gen, 1, 2, 3, 4, 5, 6, 7)", "8 positional arguments"),
        ("model.fit_generator(gen, samples_per_epoch=640)", "'samples_per_epoch' counts samples"),
        ("model.fit_generator(gen, 10, steps_per_epoch=10)", "'steps_per_epoch' is given twice"),
        ("model.fit_generator(gen, generator=gen)", "'x' is given twice"),
    ],
)
def test_generator_calls_that_cannot_be_mapped_are_left_alone(call: str, reason: str) -> None:
    source = f"{call}\n"
    old = "predict_generator" if "predict" in call else "fit_generator"
    new = old.removesuffix("_generator")
    code, warnings = run_fixes(
        source, [fix(RENAME, call_span(source, old), "SLD301", old=old, new=new)]
    )
    assert code == source
    assert len(warnings) == 1 and reason in warnings[0], warnings


def test_fixes_in_one_file_do_not_shift_each_other() -> None:
    source = dedent('''
        def batches():
            yield 1


        model.fit_generator(batches(), 10, workers=3, use_multiprocessing=True)
        model.fit_generator((x for x in data), 5, workers=2)
    ''')
    fixes = [
        fix(RENAME, call_span(source, "fit_generator"), "SLD301", old="fit_generator", new="fit"),
        fix(DECORATE, def_span(source, "batches"), "SLD102"),
        fix(DISABLE, span_of(source, ast.Constant, value=True), "SLD102",
            keyword="use_multiprocessing"),
        fix(WRAP, span_of(source, ast.GeneratorExp)),
        fix(RENAME, call_span(source, "fit_generator", 1), "SLD301", old="fit_generator",
            new="fit"),
    ]
    code, warnings = run_fixes(source, fixes)
    assert warnings == []
    assert code == dedent('''
        from safeloader import ThreadSafeIterator, threadsafe_generator


        @threadsafe_generator
        def batches():
            yield 1


        model.fit(batches(), steps_per_epoch=10, workers=3, use_multiprocessing=False)
        model.fit(ThreadSafeIterator((x for x in data)), steps_per_epoch=5, workers=2)
    ''')


def test_the_same_fix_from_two_findings_is_applied_once() -> None:
    source = "def batches():\n    yield 1\n"
    code, _ = run_fixes(source, [fix(DECORATE, def_span(source, "batches"))] * 2)
    assert code.count("@threadsafe_generator") == 1


def test_a_span_that_matches_nothing_is_a_warning() -> None:
    source = "x = 1\n"
    code, warnings = run_fixes(source, [fix(DECORATE, Span(1, 0, 1, 5))])
    assert code == source
    assert warnings == ["1:1: SLD101: no code to rewrite there for decorate_generator"]
