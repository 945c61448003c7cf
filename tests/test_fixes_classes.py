"""The class rules' fixes (SLD105, SLD201, SLD202, SLD203) through safeloader-fix's own path."""

from __future__ import annotations

import ast
import shutil
import textwrap
import threading
from pathlib import Path
from types import ModuleType

import pytest

from safeloader.analysis import analyze_source
from safeloader.analysis.config import AnalysisConfig
from safeloader.findings import Fix, FixKind, Span
from safeloader.fix.runner import fix_file, plan_file
from safeloader.fix.selection import FixSelection

from codemod_helpers import codemod
from test_analysis_classes import CLASS_FIXTURES, FIXTURES, fixture_options

EXPECTED = FIXTURES / "expected"
FIXED = [p for p in CLASS_FIXTURES if (EXPECTED / p.name).exists()]
UNFIXABLE = [p for p in CLASS_FIXTURES if not (EXPECTED / p.name).exists()]


def fix_once(path: Path) -> str:
    """What ``safeloader-fix --select <the fixture's codes>`` makes of ``path``."""
    codes, config = fixture_options(path.read_text())
    plan = plan_file(path, config, FixSelection(select=codes))
    assert plan.error is None
    outcome = fix_file(path, [(code, fix) for _, code, fix in plan.fixes],
                       write=False, keep_texts=True)
    assert outcome.error is None and outcome.warnings == ()
    return outcome.changes[0].after if outcome.changes else path.read_text()


@pytest.mark.parametrize("path", FIXED, ids=lambda p: p.name)
def test_fix_gives_the_expected_file(path: Path) -> None:
    assert fix_once(path) == (EXPECTED / path.name).read_text()


@pytest.mark.parametrize("path", FIXED, ids=lambda p: p.name)
def test_fixed_file_has_no_fixable_finding_and_a_second_run_changes_nothing(
        path: Path, tmp_path: Path) -> None:
    codes, config = fixture_options(path.read_text())
    fixed = tmp_path / path.name
    shutil.copy(EXPECTED / path.name, fixed)
    remaining = [f for f in analyze_source(fixed.read_text(), fixed, config)
                 if f.code in codes and f.fixes]
    assert remaining == []
    assert fix_once(fixed) == fixed.read_text()


@pytest.mark.parametrize("path", UNFIXABLE, ids=lambda p: p.name)
def test_fixtures_without_expected_output_are_left_alone(path: Path) -> None:
    assert fix_once(path) == path.read_text()


def load(path: Path) -> ModuleType:
    """Run a fixed fixture as a module."""
    module = ModuleType(path.stem)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def serialised(wrapper: type, threads: int = 4, items: int = 400) -> tuple[list[int], int]:
    """Drain ``wrapper(generator)`` from ``threads`` threads at once: the items got
    and the most threads ever inside the generator at the same time."""
    inside, most_inside, guard = [0], [0], threading.Lock()

    def numbers():
        for n in range(items):
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            yield n
            with guard:
                inside[0] -= 1

    shared, got = wrapper(numbers()), []

    def drain() -> None:
        for item in shared:
            got.append(item)

    workers = [threading.Thread(target=drain) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return got, most_inside[0]


def test_fixed_forum_iterator_serialises_the_generator() -> None:
    fixed = load(EXPECTED / "sld201_threadsafe_iter.py")
    for wrapper in (fixed.threadsafe_iter, fixed.ThreadSafeIter):
        got, most_inside = serialised(wrapper)
        assert sorted(got) == list(range(400))
        assert most_inside == 1


def test_fixed_python2_iterator_works_on_python_3() -> None:
    fixed = load(EXPECTED / "sld202_py2_iterator.py")
    assert [list(b) for b in fixed.BatchReader(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]
    assert next(fixed.threadsafe_iter(iter("ab"))) == "a"


def test_fixed_python2_lock_wrapper_iterates_under_its_lock() -> None:
    original = load(FIXTURES / "sld202_py2_iterator.py")
    with pytest.raises(TypeError, match="not an iterator"):
        next(original.LockedIterator(iter(range(3))))
    fixed = load(EXPECTED / "sld202_py2_iterator.py")
    assert list(fixed.LockedIterator(x for x in range(3))) == [0, 1, 2]
    got, most_inside = serialised(fixed.LockedIterator)
    assert sorted(got) == list(range(400))
    assert most_inside == 1


def test_python2_next_calls_are_rewritten_only_in_the_method_body() -> None:
    source = textwrap.dedent("""\
        class Wrapper:
            def __iter__(self):
                return self

            def next(self):
                def helper(it):
                    return it.next()
                first = self.source.next()
                return self.next_of(first), self.cursor.next(1), self.it.next ()
    """)
    fix = Fix(FixKind.ADD_DUNDER_NEXT, span(source, ast.ClassDef), params={"class_name": "W"})
    code, warnings = rewrite(source, fix, "SLD202")
    assert warnings == []
    assert "return it.next()" in code  # a nested function: not the iterator's own
    assert "first = next(self.source)" in code
    assert "self.next_of(first), self.cursor.next(1), next(self.it)" in code
    assert code.endswith("    def __next__(self):\n        return self.next()\n")


def test_fixed_pydatasets_honour_workers() -> None:
    pytest.importorskip("keras", minversion="3")
    fixed = load(EXPECTED / "sld105_pydataset_init.py")
    assert fixed.ArrayDataset([1], [2], workers=3).workers == 3
    assert fixed.NoSuperDataset(["a.npy"], use_multiprocessing=True).use_multiprocessing
    assert fixed.ExplicitBaseDataset([1], max_queue_size=7).max_queue_size == 7
    assert fixed.Keras3Sequence([1], workers=2).workers == 2
    assert fixed.EmptyDataset(workers=5).workers == 5
    assert fixed.ChildDataset([1], [2], workers=3).workers == 3
    assert fixed.KeywordOnlyDataset([1], augment=True, workers=2).augment


def test_replaced_pair_is_safeloaders() -> None:
    import safeloader

    fixed = load(EXPECTED / "sld203_renamed_pair.py")
    assert fixed.ThreadSafeIter is safeloader.ThreadSafeIterator
    assert isinstance(fixed.samples(3), safeloader.ThreadSafeIterator)
    assert list(fixed.samples(3)) == [0, 1, 2]


def rewrite(source: str, fix: Fix, code: str) -> tuple[str, list[str]]:
    """Apply one hand-made fix through the codemod; the new code and the warnings."""
    text, warnings, _ = codemod(source, [(code, fix)])
    return text, warnings


def span(source: str, node_type: type[ast.AST], index: int = 0) -> Span:
    nodes = sorted((n for n in ast.walk(ast.parse(source)) if isinstance(n, node_type)),
                   key=lambda n: (n.lineno, n.col_offset))
    node = nodes[index]
    return Span(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)


INIT = textwrap.dedent("""\
    class Data(Base):
        def __init__(
            self, x
        ):
            Base.__init__(
                self,
                x,
            )
""")


def test_forward_kwargs_keeps_one_argument_a_line() -> None:
    fix = Fix(FixKind.FORWARD_KWARGS, span(INIT, ast.FunctionDef),
              params={"class_name": "Data", "kwargs": "kwargs", "super_calls": "1"})
    code, warnings = rewrite(INIT, fix, "SLD105")
    assert warnings == []
    assert code == INIT.replace("self, x\n", "self, x, **kwargs\n").replace(
        "            x,\n", "            x,\n            **kwargs,\n")


@pytest.mark.parametrize("params", [
    {"class_name": "Data", "kwargs": "kwargs", "super_calls": "0"},  # the code changed since
    {"class_name": "Data", "kwargs": "options", "super_calls": "1"},
])
def test_forward_kwargs_leaves_unexpected_shapes_alone(params: dict[str, str]) -> None:
    source = INIT.replace("self, x\n", "self, x, **kwargs\n")
    fix = Fix(FixKind.FORWARD_KWARGS, span(source, ast.FunctionDef), params=params)
    code, warnings = rewrite(source, fix, "SLD105")
    assert code == source and len(warnings) == 1


def test_lock_next_call_leaves_a_shared_line_alone() -> None:
    source = "def __next__(self):\n    n = 1; return next(self.it)\n"
    call = span(source, ast.Call, 0)
    fix = Fix(FixKind.LOCK_NEXT_CALL, call, params={"lock": "lock", "owner": "self"})
    code, warnings = rewrite(source, fix, "SLD201")
    assert code == source and "by hand" in warnings[0]


def test_add_dunder_next_is_a_no_op_when_present() -> None:
    source = "class R:\n    def next(self):\n        return 1\n\n    def __next__(self):\n" \
             "        return 2\n"
    fix = Fix(FixKind.ADD_DUNDER_NEXT, span(source, ast.ClassDef), params={"class_name": "R"})
    assert rewrite(source, fix, "SLD202") == (source, [])


def test_replace_handwritten_checks_the_name() -> None:
    source = "class Other:\n    pass\n"
    fix = Fix(FixKind.REPLACE_HANDWRITTEN, span(source, ast.ClassDef),
              params={"name": "threadsafe_iter", "replacement": "ThreadSafeIterator"})
    code, warnings = rewrite(source, fix, "SLD203")
    assert code == source and len(warnings) == 1


def test_fix_engine_config_matches_the_fixture_defaults() -> None:
    codes, config = fixture_options("")
    assert codes == ("SLD104", "SLD105", "SLD201", "SLD202")
    assert config == AnalysisConfig()


@pytest.mark.parametrize("path", FIXED, ids=lambda p: p.name)
def test_fix_keeps_crlf_line_ends(path: Path, tmp_path: Path) -> None:
    crlf = tmp_path / path.name
    crlf.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    expected = (EXPECTED / path.name).read_bytes().replace(b"\n", b"\r\n")
    assert fix_once(crlf).encode() == expected


def test_tab_indented_class_gets_tab_indented_fixes(tmp_path: Path) -> None:
    source = ("import threading\n\n\nclass Wrapper:\n\tdef __init__(self, it):\n"
              "\t\tself.it = it\n\t\tself.lock = threading.Lock()\n\n"
              "\tdef __iter__(self):\n\t\treturn self\n\n"
              "\tdef __next__(self):\n\t\treturn next(self.it)\n")
    path = tmp_path / "tabs.py"
    path.write_text(source)
    assert fix_once(path) == source.replace(
        "\t\treturn next(self.it)\n", "\t\twith self.lock:\n\t\t\treturn next(self.it)\n")


def test_python2_alias_is_judged_as_dunder_next() -> None:
    source = ("import threading\n\n\nclass Wrapper:\n    def __init__(self, it):\n"
              "        self.it = it\n        self.lock = threading.Lock()\n\n"
              "    def __iter__(self):\n        return self\n\n"
              "    def next(self):\n        return next(self.it)\n\n    __next__ = next\n")
    (finding,) = [f for f in analyze_source(source) if f.code == "SLD201"]
    assert finding.line == 13 and "Wrapper.next advances self.it" in finding.message


PARAMETER_LISTS = ["self", "self, x", "self, x, /", "self, x, /, y", "self, *args", "self, *, y=1",
                   "self, x=1, *args, z, **options", "self, x: int = 1"]
SUPER_CALLS = ["", "super().__init__()", "super(Data, self).__init__( )",
               "PyDataset.__init__(self)", "super().__init__(\n            \n        )"]


def init_source(parameters: str, multiline: bool, trailing: bool, docstring: bool,
                call: str) -> str:
    """One ``PyDataset`` subclass whose ``__init__`` has the given shape."""
    names = parameters.split(", ")
    if trailing and "/" != names[-1]:
        names[-1] += ","
    signature = ("\n        " + "\n        ".join(
        n if n.endswith(",") else n + "," for n in names)[:-1] + "\n    ") if multiline else (
        ", ".join(names))
    body = ['        """Batches."""'] if docstring else []
    body += [f"        {call}"] if call else []
    body += ["        self.ready = True"]
    return ("from keras.utils import PyDataset\n\n\nclass Data(PyDataset):\n"
            f"    def __init__({signature}):\n" + "\n".join(body) + "\n")


def test_forward_kwargs_on_every_parameter_shape(tmp_path: Path) -> None:
    checked = 0
    for parameters in PARAMETER_LISTS:
        for multiline, trailing, docstring in [(False, False, False), (True, True, True)]:
            for call in SUPER_CALLS:
                source = init_source(parameters, multiline, trailing, docstring, call)
                ast.parse(source)
                path = tmp_path / f"case{checked}.py"
                path.write_text(source)
                fixed = fix_once(path)
                compile(fixed, str(path), "exec")
                findings = [f for f in analyze_source(fixed) if f.code == "SLD105"]
                if "**options" in parameters:  # the body never reads options: forwarded
                    assert "**options)" in fixed or "**options\n" in fixed, fixed
                assert findings == [], fixed  # so a second run has nothing to do
                checked += 1
    assert checked == len(PARAMETER_LISTS) * 2 * len(SUPER_CALLS)
