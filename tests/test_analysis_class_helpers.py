"""SLD104 through helper methods: ``__getitem__`` calls ``self.helper()``, which changes ``self``.

The fixture ``fixtures/sld104_helper_methods.py`` holds the real-code shapes
and the no-finding cases; these tests pin the message, the position and the
bounds (recursion, depth, many paths to one helper).
"""

from __future__ import annotations

import ast
import textwrap
import time

from safeloader.analysis.class_dataset import MAX_HELPER_DEPTH, helper_methods
from safeloader.analysis.class_index import ModuleIndex
from safeloader.analysis.classes import check_classes
from safeloader.analysis.keras_version import keras_target
from safeloader.findings import Finding

HEADER = "from tensorflow.keras.utils import Sequence\n\n\n"


def findings(source: str) -> list[Finding]:
    tree = ast.parse(textwrap.dedent(source))
    return list(check_classes(tree, lambda: keras_target(tree, "2", None, ())))


def chain_source(length: int, hazard: str = "self.done = True") -> str:
    """A Sequence whose ``__getitem__`` calls ``_h0``, which calls ``_h1``, ... ``_h<length-1>``,
    which does ``hazard``."""
    helpers = "".join(f"    def _h{i}(self):\n        return self._h{i + 1}()\n\n"
                      for i in range(length - 1))
    return (HEADER + "class Chain(Sequence):\n    def __getitem__(self, idx):\n"
            "        return self._h0()\n\n" + helpers
            + f"    def _h{length - 1}(self):\n        {hazard}\n")


def test_the_finding_names_the_helper_chain_and_the_attribute_at_the_call() -> None:
    (finding,) = findings(chain_source(3))
    assert (finding.code, finding.line, finding.col) == ("SLD104", 6, 15)
    assert finding.message.startswith(
        "SLD104 Chain.__getitem__ calls self._h0() -> self._h1() -> self._h2(), "
        "which assigns self.done: ")
    assert finding.fixes == ()


def test_every_call_site_is_reported_and_the_helper_is_read_once() -> None:
    source = HEADER + textwrap.dedent("""\
        class Twice(Sequence):
            def __getitem__(self, idx):
                self._bump()
                if idx:
                    self._bump()
                return idx

            def _bump(self):
                self.seen = self.seen + 1
    """)
    assert [(f.line, f.col) for f in findings(source)] == [(6, 8), (8, 12)]


def test_chains_end_at_the_depth_bound() -> None:
    assert len(findings(chain_source(MAX_HELPER_DEPTH))) == 1
    assert findings(chain_source(MAX_HELPER_DEPTH + 1)) == []


def test_a_chain_of_thousands_of_helpers_neither_recurses_too_deep_nor_runs_long() -> None:
    source = chain_source(3000)
    start = time.perf_counter()
    assert findings(source) == []
    assert time.perf_counter() - start < 2


def test_many_paths_to_one_helper_are_not_walked_one_by_one() -> None:
    # each _d<i> calls _d<i+1> twice: 2**30 paths if nothing were remembered
    levels = 30
    body = "".join(
        f"    def _d{i}(self, i):\n        self._d{i + 1}(i)\n        return self._d{i + 1}(i)\n\n"
        for i in range(levels))
    source = (HEADER + "class Wide(Sequence):\n    def __getitem__(self, idx):\n"
              "        return self._d0(idx)\n\n" + body
              + f"    def _d{levels}(self, i):\n        return i\n")
    start = time.perf_counter()
    assert findings(source) == []
    assert time.perf_counter() - start < 2


def test_a_hazard_met_after_a_cycle_is_still_found_on_a_shorter_path() -> None:
    source = HEADER + textwrap.dedent("""\
        class Cycle(Sequence):
            def __getitem__(self, idx):
                self._a(idx)
                self._b(idx)
                return idx

            def _a(self, n):
                return self._b(n)

            def _b(self, n):
                if n:
                    return self._a(n - 1)
                self.hits += 1
    """)
    messages = [f.message for f in findings(source)]
    assert len(messages) == 2
    assert "calls self._a() -> self._b(), which updates self.hits in place" in messages[0]
    assert "calls self._b(), which updates self.hits in place" in messages[1]


def test_helpers_come_from_the_class_then_its_bases_in_the_file() -> None:
    tree = ast.parse(textwrap.dedent("""\
        import keras

        class Base(keras.utils.PyDataset):
            def load(self):
                pass

            def step(self):
                pass

        class Child(Base):
            def step(self):
                pass

            @property
            def size(self):
                return 1

            @staticmethod
            def make():
                pass
    """))
    index = ModuleIndex.build(tree)
    child = index.classes["Child"][0]
    methods = helper_methods(index, child)
    assert sorted(methods) == ["load", "step"]
    assert methods["step"].lineno == 11  # the subclass's own, not the base's
