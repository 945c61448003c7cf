"""The class rules (SLD104, SLD105, SLD201, SLD202, SLD203) on fixtures and snippets."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from safeloader.analysis.classes import check_classes
from safeloader.analysis.keras_version import keras_target
from safeloader.analysis.config import AnalysisConfig
from safeloader.findings import Finding, FixKind
from safeloader.rules import RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLASS_CODES = ("SLD104", "SLD105", "SLD201", "SLD202", "SLD203")
DEFAULT_CODES = ("SLD104", "SLD105", "SLD201", "SLD202")
CLASS_FIXTURES = sorted(p for code in CLASS_CODES for p in FIXTURES.glob(f"{code.lower()}_*.py"))
_MARKER = re.compile(r"#.*?\b((?:SLD\d{3}\s*)+)\s*$")
_OPTIONS = re.compile(r"^# fixture-options:(.*)$")


def fixture_options(source: str) -> tuple[tuple[str, ...], AnalysisConfig]:
    """The class codes a fixture expects and its config, from ``# fixture-options:``
    in its first five lines (as fixtures/README.md says: ``select`` adds default-off codes)."""
    options: dict[str, str] = {}
    for line in source.splitlines()[:5]:
        header = _OPTIONS.match(line)
        if header:
            options = dict(item.split("=", 1) for item in header.group(1).split())
    selected = tuple(c for c in options.get("select", "").split(",") if c in CLASS_CODES)
    guards = frozenset(g for g in options.get("guards", "").split(",") if g)
    config = AnalysisConfig(keras_version=options.get("keras_version", "auto"),  # type: ignore
                            extra_guards=guards)
    return DEFAULT_CODES + selected, config


def expected_markers(source: str, codes: tuple[str, ...]) -> list[tuple[int, str]]:
    """``(line, code)`` of every ``# SLDnnn`` marker of ``codes``."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.search(line)
        if match and not _OPTIONS.match(line):
            found += [(number, code) for code in match.group(1).split() if code in codes]
    return sorted(found)


def classes(tree: ast.Module, config: AnalysisConfig, path: Path | None = None) -> list[Finding]:
    """The class rules' findings, targeting Keras as ``config`` and ``path`` say."""
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return list(check_classes(tree, lambda: keras_target(tree, config.keras_version, path, calls)))


def findings(source: str, config: AnalysisConfig = AnalysisConfig()) -> list[Finding]:
    return classes(ast.parse(textwrap.dedent(source)), config)


def codes_at(source: str, config: AnalysisConfig = AnalysisConfig()) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in findings(source, config)]


@pytest.mark.parametrize("path", CLASS_FIXTURES, ids=lambda p: p.name)
def test_fixture_findings_are_exactly_the_marked_ones(path: Path) -> None:
    source = path.read_text()
    codes, config = fixture_options(source)
    actual = sorted((f.line, f.code) for f in classes(ast.parse(source), config, path)
                    if f.code in codes)
    assert actual == expected_markers(source, codes)


def test_every_class_rule_has_a_fixture_finding() -> None:
    marked = {code for path in CLASS_FIXTURES
              for _, code in expected_markers(path.read_text(), CLASS_CODES)}
    assert marked == set(CLASS_CODES)


def test_findings_name_class_method_and_attribute_at_the_offending_node() -> None:
    source = """
        from tensorflow.keras.utils import Sequence

        class Loader(Sequence):
            def __getitem__(self, idx):
                batch = self.load(idx)
                self.count += 1
                return batch
    """
    (finding,) = findings(source)
    assert (finding.code, finding.line, finding.col) == ("SLD104", 7, 8)
    assert finding.message.startswith("SLD104 Loader.__getitem__ updates self.count")
    assert finding.fixes == ()


def test_sld105_fix_is_planned_on_the_init_span() -> None:
    source = """
        import keras

        class Data(keras.utils.PyDataset):
            def __init__(self, x):
                super().__init__()
                self.x = x
    """
    (finding,) = findings(source)
    (fix,) = finding.fixes
    assert (finding.code, finding.line, finding.col) == ("SLD105", 5, 4)
    assert fix.kind is FixKind.FORWARD_KWARGS
    assert (fix.span.line, fix.span.col, fix.span.end_line) == (5, 4, 7)
    assert dict(fix.params) == {"class_name": "Data", "kwargs": "kwargs", "super_calls": "1"}


def test_sld105_no_fix_when_kwargs_is_taken_by_a_local_name() -> None:
    source = """
        from keras.utils import PyDataset

        class Data(PyDataset):
            def __init__(self, x):
                kwargs = dict(x=x)
                self.x = kwargs
    """
    (finding,) = findings(source)
    assert finding.code == "SLD105" and finding.fixes == ()


def test_keras3_and_tf_keras_sequence_are_pydataset_only_when_keras_3_is_targeted() -> None:
    source = """
        import keras

        class Data(keras.utils.Sequence):
            def __init__(self, x):
                super().__init__()
                self.x = x
    """
    assert codes_at(source, AnalysisConfig(keras_version="3")) == [(5, "SLD105")]
    assert codes_at(source, AnalysisConfig(keras_version="2")) == []
    # from TF 2.16 on tf.keras is Keras 3: its Sequence is PyDataset too
    tf_keras = source.replace("import keras", "from tensorflow import keras")
    assert codes_at(tf_keras, AnalysisConfig(keras_version="3")) == [(5, "SLD105")]
    assert codes_at(tf_keras, AnalysisConfig(keras_version="2")) == []
    # tf_keras' Sequence is Keras 2's, whatever the target
    legacy = source.replace("import keras", "import tf_keras as keras")
    assert codes_at(legacy, AnalysisConfig(keras_version="3")) == []


def test_star_import_from_keras_resolves_the_base() -> None:
    source = """
        from keras.utils import *

        class Data(PyDataset):
            def __getitem__(self, i):
                return next(self.stream)
    """
    assert codes_at(source) == [(6, "SLD104")]


@pytest.mark.parametrize("imports", [
    "",  # an unresolved bare name is not guessed at
    "from typing import Sequence",
    "from collections.abc import Sequence",
    "try:\n    from keras.utils import Sequence\nexcept ImportError:\n"
    "    from typing import Sequence",  # ambiguous: not surely Keras
])
def test_sequence_that_is_not_surely_keras_is_not_judged(imports: str) -> None:
    source = imports + textwrap.dedent("""

        class Rows(Sequence):
            def __getitem__(self, i):
                self.reads += 1
                return next(self.rows)
    """)
    assert codes_at(source) == []


def test_sld201_one_fix_per_statement_and_none_with_two_locks() -> None:
    source = """
        import threading

        class Pairs:
            def __init__(self, it):
                self.it = it
                self.lock = threading.Lock()

            def __iter__(self):
                return self

            def __next__(self):
                return next(self.it), next(self.it)
    """
    got = findings(source)
    assert [(f.line, f.col, f.code) for f in got] == [(13, 15, "SLD201"), (13, 30, "SLD201")]
    assert [len(f.fixes) for f in got] == [1, 0]
    assert dict(got[0].fixes[0].params) == {"lock": "lock", "owner": "self"}
    two_locks = textwrap.dedent(source).replace(
        "self.lock = threading.Lock()", "self.lock = threading.Lock()\n"
        "        self.other = threading.RLock()")
    assert [f.fixes for f in findings(two_locks)] == [(), ()]


def test_sld202_needs_a_hierarchy_known_to_the_file() -> None:
    source = """
        class Base(object):
            def __iter__(self):
                return self

        class Reader(Base):
            def next(self):
                return 1

        class Fine(Base):
            def __next__(self):
                return 1

            def next(self):
                return 1

        @register
        class Decorated:
            def __iter__(self):
                return self

            def next(self):
                return 1
    """
    assert codes_at(source) == [(6, "SLD202")]


def test_sld203_needs_the_plain_shape_and_a_single_binding() -> None:
    pair = RULES["SLD203"].example + "\n"  # the forum's class, as the registry shows it
    (finding,) = findings(pair)
    assert finding.code == "SLD203"
    # the module never uses the class: its import is kept for modules that import it
    assert dict(finding.fixes[0].params) == {"name": "threadsafe_iter",
                                             "replacement": "ThreadSafeIterator",
                                             "keep_import": "yes"}
    subclassed = pair + "\nclass Counted(threadsafe_iter):\n    pass\n"
    assert codes_at(subclassed) == []
    any_name = pair.replace("threadsafe_iter", "LockedBatches")
    assert codes_at(any_name) == [(4, "SLD203")]  # recognised by structure, not name
    no_lock = pair.replace("        self.lock = threading.Lock()\n", "")
    no_lock = no_lock.replace("        with self.lock:\n            return", "        return")
    assert codes_at(no_lock) == []  # not meant to be thread-safe
    transforms = pair.replace("return next(self.it)", "return 2 * next(self.it)")
    assert codes_at(transforms) == []  # does more than hand items on
    counts = pair.replace(
        "        with self.lock:\n", "        self.count = 1\n        with self.lock:\n")
    assert codes_at(counts) == []  # keeps state the runtime's class does not
    not_its_parameter = pair.replace("self.it = it", "self.it = make()")
    assert codes_at(not_its_parameter) == []
    also_imported = "from utils import threadsafe_iter\n" + pair
    assert codes_at(also_imported) == []
    rebound_later = pair + "\nthreadsafe_iter = None\n"
    assert codes_at(rebound_later) == []


ODD_BUT_VALID = [
    "class A(Sequence[int]):\n    def __getitem__(self, i):\n        self.x = 1\n",
    "class A(*bases, metaclass=M):\n    def next(self):\n        pass\n    __iter__ = None\n",
    "import keras\nclass A(keras.utils.PyDataset):\n    def __init__():\n        pass\n"
    "    def __getitem__(): return next(x)\n",
    "import keras\nclass A(keras.utils.PyDataset):\n    async def __getitem__(self, i):\n"
    "        self.i = i\n    __init__ = lambda self: None\n",
    "import threading\nclass A:\n    def __init__(self, /, it, *a, **k):\n"
    "        self.lock = threading.Lock()\n    async def __next__(self):\n"
    "        return next(self.it)\n    def __iter__(self): return self\n",
    "import threading\nclass A:\n    def __init__(s):\n        (s.lock, s.b), *c = 1, 2\n"
    "    def __next__(*args):\n        return next(args[0].it)\n",
    "class A(object):\n    def __iter__(self): return self\n    @staticmethod\n"
    "    def next(): pass\n",
    "def f():\n    class B(tf.keras.utils.Sequence):\n        class C(B):\n"
    "            def __getitem__(self, i):\n                del self.x[i], self.y\n"
    "                self[i] = 1\n                self.i: int\n"
    "                nonlocal_fn = lambda: next(self.it)\n",
    "import keras\nclass A(keras.utils.PyDataset):\n    def __init__(self, *a, **k):\n"
    "        super(A, self).__init__(*a)\n        super().__init__\n",
    "class A(A):\n    def __iter__(self): return self\n    def next(self): return 1\n",
    "import threading as t\nclass threadsafe_iter(object):\n    __next__ = next\n"
    "    def __init__(self, it, /):\n        self.lock = t.Lock()\n"
    "def threadsafe_generator(f, /):\n    def g(*a): return threadsafe_iter(f(*a))\n"
    "    return g\n",
]


@pytest.mark.parametrize("source", ODD_BUT_VALID, ids=range(len(ODD_BUT_VALID)))
def test_odd_but_valid_code_never_raises(source: str) -> None:
    for finding in classes(ast.parse(source), AnalysisConfig(keras_version="3")):
        assert finding.message.startswith(finding.code)


def test_a_long_chain_of_classes_neither_recurses_too_deep_nor_is_followed_forever() -> None:
    chain = "\n".join(f"class C{i}(C{i - 1}):\n    def __init__(self):\n        pass"
                      for i in range(1, 1500))
    source = ("import keras\n\nclass C0(keras.utils.PyDataset):\n"
              "    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n" + chain)
    assert codes_at(source) == [(7, "SLD105")]  # C1 stops the kwargs; C2... are not judged
