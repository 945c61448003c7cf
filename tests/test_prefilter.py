"""The lint's shortcuts (issue 15, point 7) never lose a finding.

Each shortcut is checked against the work it spares, on every fixture, every
registry example and a sample of the installed Keras and TensorFlow sources:
the pre-filter's rule groups (:func:`~safeloader.analysis.rule_groups`), the
class rules' skipping of classes that are neither datasets nor iterators, the
class index walking only blocks that hold ``class`` or ``import``, the call
checker's bisected statement walk, and the line numbers counted without
cutting the text into lines (and, for the modules SLD103 reads, the module
scope's ``global`` statements found in the statement blocks alone).
"""

from __future__ import annotations

import ast
import bisect
import importlib.util
import itertools
import re
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from safeloader.analysis import (
    AnalysisConfig,
    RuleGroups,
    analyze_module,
    might_have_findings,
    rule_groups,
)
from safeloader.analysis.calls import CallChecker, candidate_lines
from safeloader.analysis.class_dataset import check_dataset_class
from safeloader.analysis.class_index import ModuleIndex
from safeloader.analysis.class_iterator import check_handwritten, check_iterator_class
from safeloader.analysis.classes import check_classes
from safeloader.analysis.keras_version import KerasTarget
from safeloader.analysis.list_batches import check_list_batches
from safeloader.analysis.prefilter import class_and_import_lines, next_method_might_exist
from safeloader.analysis.project import LazyTextHints, text_hints
from safeloader.analysis.scopes import BindingKind, Scope
from safeloader.findings import Finding
from safeloader.notebooks.cells import nbqa_cells
from safeloader.rules import RULES
from safeloader.source_text import split_lines
from test_fixtures import FIXTURES, fixture_files, read_fixture

ALL_GROUPS = RuleGroups(calls=True, classes=True, imports=True)
#: what may follow a loader method's name before its call's parenthesis
_CALL_TAIL = re.compile(r"(?:_generator)?[ \t\r\n\f\\]*\(")
#: installed modules with loaders, datasets, iterators and lock wrappers
SAMPLE_MODULES = (
    "tf_keras/src/utils/data_utils.py",
    "tf_keras/src/preprocessing/image.py",
    "tf_keras/src/engine/training.py",
    "keras/src/trainers/data_adapters/py_dataset_adapter.py",
    "keras/src/legacy/preprocessing/image.py",
    "keras/src/utils/dataset_utils.py",
    "tensorflow/python/data/ops/iterator_ops.py",
    "tensorflow/python/keras/engine/training.py",
)
#: what a shortcut could get wrong: blocks of every kind, shared lines, continuations
TRICKY = textwrap.dedent('''\
    import threading
    from tensorflow.keras.utils import (
        Sequence as Seq)
    from keras import \\
        utils


    def make(data):
        from tf_keras.utils import PyDataset
        class Inner(PyDataset):
            def __getitem__(self, i):
                return [data[i], data[i]], [data[i]]
        return Inner


    class Locked:
        def __init__(self, it):
            self.it = it
            self.lock = threading.Lock()

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.it)


    class Stepper:
        def __init__(self, it):
            self.it = it
            self.lock = threading.Lock()

        def __iter__(self):
            return self

        def step(self):
            return next(self.it)

        __next__ = step


    class Old(object):
        def __iter__(self):
            return self

        def \\
                next(self):
            return 1


    try:
        import numpy
    except ImportError:
        class Batches(Seq):
            def __getitem__(self, i):
                self.last = i
                return i
    match numpy:
        case None:
            class Matched(utils.Sequence):
                def __getitem__(self, i):
                    self.seen = i
                    return i
        case _:
            pass
    a = 1; model.fit(Locked(iter([])), workers=2); b = (
        2)
    for step in range(3):
        if step:
            model.fit_generator(
                make(step), workers=4, use_multiprocessing=True)
    model.evaluate \\
        (x)
    ''')


def _installed(relative: str) -> Path | None:
    package, _, rest = relative.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rest
    return path if path.is_file() else None


def _sources() -> Iterator[tuple[str, str, Path | None, AnalysisConfig]]:
    """(id, source, path, config): the fixtures, the registry's examples, the samples."""
    for path in fixture_files():
        yield (str(path.relative_to(FIXTURES)), path.read_text(encoding="utf-8"), path,
               read_fixture(path).config)
    for code, rule in RULES.items():
        version = "3" if rule.keras3_only else "2"
        yield f"{code}-example", rule.example, None, AnalysisConfig(keras_version=version)
    for relative in SAMPLE_MODULES:
        path = _installed(relative)
        if path is not None:
            yield relative, path.read_text(encoding="utf-8"), path, AnalysisConfig()
    for version in ("2", "3"):
        yield f"tricky-keras{version}", TRICKY, None, AnalysisConfig(keras_version=version)


SOURCES = list(_sources())
IDS = [name for name, *_ in SOURCES]


@pytest.mark.parametrize(("name", "source", "path", "config"), SOURCES, ids=IDS)
def test_the_rule_groups_keep_every_finding(name: str, source: str, path: Path | None,
                                            config: AnalysisConfig) -> None:
    tree = ast.parse(source)
    lines = split_lines(source)
    groups = rule_groups(source, path)
    every_rule = analyze_module(tree, lines, path, config, groups=ALL_GROUPS)
    assert analyze_module(tree, lines, path, config) == every_rule
    assert analyze_module(tree, lines, path, config, text=source, groups=groups) == every_rule
    assert might_have_findings(source) or not every_rule
    if name.endswith("-example"):
        assert every_rule


@pytest.mark.parametrize(("source", "expected"), [
    ("model.fit(x)\n", RuleGroups(True, False, False)),
    ("model.evaluate (x)\n", RuleGroups(True, False, False)),
    ("model.predict_generator(\\\n    gen)\n", RuleGroups(True, False, False)),
    ("(fit)\nfit\n(x)\n", RuleGroups(True, False, False)),
    ("class A(Sequence): pass\n", RuleGroups(False, True, False)),
    ("class A(keras.utils.PyDataset): pass\n", RuleGroups(False, True, False)),
    ("class A(keras.utils.Sequence, metaclass=M): pass\n", RuleGroups(False, True, False)),
    ("class A(\n    keras.utils.Sequence  # the base\n):\n    pass\n",
     RuleGroups(False, True, False)),
    ("class A(Sequence \\\n        ): pass\n", RuleGroups(False, True, False)),
    ("from keras.utils import (\n    PyDataset  # x\n    as Batches)\nclass A(Batches): pass\n",
     RuleGroups(False, True, True)),
    ("class A:\n    def __next__(self): ...\n", RuleGroups(False, True, False)),
    ("class A:\n    __next__ = step\n", RuleGroups(False, True, False)),
    ("class A:\n    def next(self): ...\n", RuleGroups(False, True, False)),
    ("class A:\n    async def next (self): ...\n", RuleGroups(False, True, False)),
    ("class A:\n    def \\\n        next(self): ...\n", RuleGroups(False, True, False)),
    ("class A:\n    def next[T](self): ...\n", RuleGroups(False, True, False)),
    ("import lib\nlib.train()\n", RuleGroups(False, False, True)),
])
def test_each_group_passes_on_the_text_its_rules_need(source: str,
                                                      expected: RuleGroups) -> None:
    groups = rule_groups(source, Path("project/train.py"))
    assert groups[:3] == expected[:3]
    assert groups.call_offsets == tuple(_candidate_offsets_by_search(source))
    assert might_have_findings(source)


@pytest.mark.parametrize("source", [
    "x = 'fit'\nrefit(x)\nmodel.fitness(x)\nmodel.fit_transform(x)\nprefit = 1\n",
    "workers = 4\nlock = threading.Lock()\nthreadsafe = True\n",
    "class A(object):\n    def run(self):\n        return next(self.it)\n",
    "class A:\n    def next_batch(self): ...\n    def nextval(self): ...\n",
    "def next(it):\n    return it\n",
    "steps = Sequence\n",
    "class A:\n    items: Sequence[int] = ()\n"
    "    def f(self, s: typing.Sequence[str]) -> Sequence[str]: ...\n",
])
def test_text_no_rule_needs_passes_no_group(source: str) -> None:
    assert not rule_groups(source, Path("project/train.py"))
    assert not might_have_findings(source)
    assert analyze_module(ast.parse(source), split_lines(source), Path("project/train.py"),
                          groups=ALL_GROUPS) == []


def test_typing_sequence_imported_alone_is_no_dataset_base() -> None:
    source = "from typing import Sequence\nfrom collections.abc import Sequence\nclass A: ...\n"
    assert not rule_groups(source, None)
    assert rule_groups(source.replace("import Sequence", "import Sequence as S"), None).classes


def test_imports_lead_nowhere_from_stdin_or_an_installed_package() -> None:
    source = "import lib\nlib.train()\n"
    assert not rule_groups(source, None)
    for root in ("site-packages", "dist-packages"):
        assert not rule_groups(source, Path(f"venv/lib/{root}/pkg/train.py"))
    assert rule_groups(source, Path("my-site-packages/train.py")).imports


def _unpruned_class_rules(tree: ast.Module, target: KerasTarget) -> list[Finding]:
    """The class rules as they ran before the shortcut: every rule on every class."""
    index = ModuleIndex.build(tree)
    findings: list[Finding] = []
    for defs in index.classes.values():
        for node in defs:
            findings.extend(check_dataset_class(index, node, lambda: target))
            findings.extend(check_list_batches(index, node, lambda: target))
            findings.extend(check_iterator_class(index, node))
    findings.extend(check_handwritten(index, tree))
    return sorted(findings, key=lambda f: (f.line, f.col, f.code))


@pytest.mark.parametrize(("name", "source", "path", "config"), SOURCES, ids=IDS)
def test_class_shortcuts_keep_every_class_finding(name: str, source: str, path: Path | None,
                                                  config: AnalysisConfig) -> None:
    tree = ast.parse(source)
    assert ModuleIndex.build(tree, source) == ModuleIndex.build(tree)
    for version in ("2", "3"):
        target = KerasTarget(version, "configured")  # type: ignore[arg-type]
        assert list(check_classes(tree, lambda: target, source)) == _unpruned_class_rules(
            tree, target)


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


@pytest.mark.parametrize(("name", "source", "path", "config"), SOURCES, ids=IDS)
def test_bisected_walk_enters_the_statements_a_candidate_line_touches(
        name: str, source: str, path: Path | None, config: AnalysisConfig) -> None:
    tree = ast.parse(source)
    checker = CallChecker(tree, split_lines(source), path, config)
    for block in _blocks(tree):
        assert checker._touching(block) == [s for s in block if checker._touches(s)]


def _lines_by_splitting(text: str, words: tuple[str, ...]) -> list[int]:
    """Where the words stand, by cutting the text into lines (the reference)."""
    found = set()
    for number, line in enumerate(split_lines(text), start=1):
        for word in words:
            start = line.find(word)
            while start != -1:
                before = line[start - 1] if start else " "
                after = line[start + len(word):start + len(word) + 1] or " "
                if not (before.isalnum() or before == "_") and not (
                        after.isalnum() or after == "_"):
                    found.add(number)
                start = line.find(word, start + 1)
    return sorted(found)


def _candidate_offsets_by_search(text: str) -> list[int]:
    """Where a loader method may be called, found word by word (the reference)."""
    offsets = []
    for word in ("fit", "evaluate", "predict"):
        start = text.find(word)
        while start != -1:
            before = text[start - 1] if start else " "
            if not (before.isalnum() or before == "_") and _CALL_TAIL.match(
                    text, start + len(word)):
                offsets.append(start)
            start = text.find(word, start + 1)
    return sorted(offsets)


def _candidate_lines_by_splitting(text: str) -> list[int]:
    """The lines of those offsets, counted by cutting the text into lines."""
    ends = list(itertools.accumulate(len(line) for line in split_lines(text)))
    return sorted({bisect.bisect_right(ends, offset) + 1
                   for offset in _candidate_offsets_by_search(text)})


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_lines_are_counted_where_split_lines_cuts(end: str) -> None:
    text = TRICKY.replace("\n", end) + end.join([
        "fit(a); refit(b); _fit(c); xfit(d); m.fit_generator  (e)",
        "x = 1\f\vy = 2 # evaluate(",  # form feeds and vertical tabs end no line
        "\u00e9valuate(f); \u00e9predict(g); m.predict\t(h); m.predict_on_batch(i)",
        "class C: pass  # from . import x",
    ])
    assert candidate_lines(text) == _candidate_lines_by_splitting(text)
    assert candidate_lines(text, rule_groups(text).call_offsets) == candidate_lines(text)
    assert class_and_import_lines(text) == _lines_by_splitting(text, ("class", "import"))


def test_next_methods_are_told_from_next_calls() -> None:
    assert next_method_might_exist("class A:\n    def  next(self): ...\n")
    assert next_method_might_exist("class A:\n    def\tnext\t(self): ...\n")
    assert next_method_might_exist("x = it.__next__()\n")
    assert not next_method_might_exist("y = next(it)\nz = [next (it)]\ndefnext(x)\n")


@pytest.mark.parametrize("source", [
    "x = 1\n", "if (n := 3):\n    pass\n", "def f():\n    global g\n", "global_step = 1\n",
    "x = 'global counter'\n", "class A: x = 1; global y\n",
])
def test_lazy_text_hints_answer_as_text_hints(source: str) -> None:
    lazy = LazyTextHints(source)
    assert {hint for hint in (":=", "global", "other") if hint in lazy} == text_hints(source)


def test_nbqa_separators_are_found_in_the_joined_text_as_in_the_lines() -> None:
    lines = ["x = 1\n", "# %%NBQA-CELL-SEP0a1b2c\n", "model.fit(x)\n"]
    for given in (lines, lines[:1], ["y = 'NBQA-CELL-SEP'\n"]):
        assert nbqa_cells(given, "".join(given)) == nbqa_cells(given)


def test_global_statements_are_found_in_every_block() -> None:
    source = TRICKY + textwrap.dedent('''\
        if step:
            class Later:
                def reset(self):
                    global seen
        try:
            pass
        except OSError:
            def handler():
                global handled, seen
        match step:
            case 1:
                def cased():
                    def inner():
                        global cased_name
        global top
        ''')
    tree = ast.parse(source)
    scope = Scope(tree, None, text_hints=text_hints(source))
    elsewhere = {(name, binding.start) for name, found in scope.bindings().items()
                 for binding in found if binding.kind is BindingKind.ELSEWHERE}
    assert elsewhere == {(name, (node.lineno, node.col_offset)) for node in ast.walk(tree)
                         if isinstance(node, ast.Global) for name in node.names}
    assert {name for name, _ in elsewhere} == {"seen", "handled", "cased_name", "top"}
