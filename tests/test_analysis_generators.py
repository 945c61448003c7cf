"""What counts as a generator, and when a name's binding is certain enough to say so."""

from __future__ import annotations

import textwrap

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source

KERAS2 = AnalysisConfig(keras_version="2")
PRELUDE = """
def gen():
    yield 1


def plain():
    return [1]


"""


def sld101_lines(body: str, config: AnalysisConfig = KERAS2) -> list[int]:
    source = PRELUDE + textwrap.dedent(body)
    offset = PRELUDE.count("\n")
    return [f.line - offset for f in analyze_source(source, None, config) if f.code == "SLD101"]


@pytest.mark.parametrize("body", [
    # straight-line rebinding: the nearest binding wins
    "def t(m):\n    g = plain()\n    g = gen()\n    m.fit(g, workers=2)\n",
    # a chain of names
    "def t(m):\n    a = gen()\n    b = a\n    m.fit(b, workers=2)\n",
    # a module-level name read in a function
    "G = gen()\n\n\ndef t(m):\n    m.fit(G, workers=2)\n",
    # an annotated assignment
    "def t(m):\n    g: object = gen()\n    m.fit(g, workers=2)\n",
    # a binding in an enclosing block dominates the call
    "def t(m, flag):\n    g = gen()\n    if flag:\n        m.fit(g, workers=2)\n",
    # yield from, and a yield inside a nested statement
    "def y():\n    if True:\n        yield from gen()\n\n\ndef t(m):\n    m.fit(y(), workers=2)\n",
    # a generator defined inside the function
    "def t(m):\n    def inner():\n        yield 1\n    m.fit(inner(), workers=2)\n",
])
def test_certain_generators_are_reported(body: str) -> None:
    assert len(sld101_lines(body)) == 1


@pytest.mark.parametrize("body", [
    # conditional rebinding after the generator
    "def t(m, c):\n    g = gen()\n    if c:\n        g = plain()\n    m.fit(g, workers=2)\n",
    # bound only inside a branch
    "def t(m, c):\n    if c:\n        g = gen()\n    m.fit(g, workers=2)\n",
    # rebound later in a loop around the call
    "def t(m):\n    g = gen()\n    while True:\n        m.fit(g, workers=2)\n        g = plain()\n",
    # a loop target, a with target, an augmented assignment, a parameter
    "def t(m, xs):\n    for g in xs:\n        m.fit(g, workers=2)\n",
    "def t(m, cm):\n    with cm as g:\n        m.fit(g, workers=2)\n",
    "def t(m):\n    g = gen()\n    g += plain()\n    m.fit(g, workers=2)\n",
    "def t(m, g=gen()):\n    m.fit(g, workers=2)\n",
    # global / nonlocal declarations
    "G = gen()\n\n\ndef t(m):\n    global G\n    m.fit(G, workers=2)\n",
    "def t(m):\n    g = gen()\n\n    def u():\n        nonlocal g\n        m.fit(g, workers=2)\n",
    # a module name a function rebinds through `global`
    "G = gen()\n\n\ndef reset():\n    global G\n    G = plain()\n\n\n"
    "def t(m):\n    m.fit(G, workers=2)\n",
    # ... also read at module level after that function's definition
    "def reset():\n    global G\n    G = plain()\n\n\nG = gen()\nreset()\n"
    "m.fit(G, workers=2)\n",
    # a walrus rebinding
    "def t(m):\n    g = gen()\n    if (g := plain()):\n        pass\n    m.fit(g, workers=2)\n",
    # a star import after the definition may rebind anything
    "from somewhere import *\n\n\ndef t(m):\n    m.fit(gen(), workers=2)\n",
    # used before its binding in the same scope
    "def t(m):\n    m.fit(g, workers=2)\n    g = gen()\n",
    # a name bound twice at module level, once conditionally
    "import os\nG = gen()\nif os.name == 'nt':\n    G = plain()\n\n\n"
    "def t(m):\n    m.fit(G, workers=2)\n",
    # names shadowed by lambdas and comprehensions
    "def t(m):\n    return lambda gen: m.fit(gen(), workers=2)\n",
    "def t(m, fns):\n    return [m.fit(gen(), workers=2) for gen in fns]\n",
    # a tuple assignment
    "def t(m):\n    g, h = gen(), gen()\n    m.fit(g, workers=2)\n",
    # a lambda that yields is not followed
    "def t(m):\n    f = lambda: (yield)\n    m.fit(f(), workers=2)\n",
    # a class attribute, not a method
    "class C:\n    batches = gen\n\n\ndef t(m):\n    m.fit(C().batches(), workers=2)\n",
    # an inherited method of a class with unknown bases
    "class C(Base):\n    pass\n\n\ndef t(m):\n    m.fit(C().batches(), workers=2)\n",
    # self in a static method is not an instance
    "class C:\n    def g(self):\n        yield 1\n\n    @staticmethod\n    def t(self, m):\n"
    "        m.fit(self.g(), workers=2)\n",
])
def test_uncertain_bindings_are_not_guessed(body: str) -> None:
    assert sld101_lines(body) == []


def test_star_import_before_the_definition_does_not_hide_it() -> None:
    body = "from somewhere import *\n\n\ndef mine():\n    yield 1\n\n\ndef t(m):\n" \
           "    m.fit(mine(), workers=2)\n"
    assert sld101_lines(body) == [9]


def test_last_unconditional_module_binding_is_seen_from_functions() -> None:
    body = "def batches():\n    yield 1\n\n\nbatches = threadsafe_generator(batches)\n\n\n" \
           "def t(m):\n    m.fit(batches(), workers=2)\n"
    assert sld101_lines(body) == []
    unguarded = "def batches():\n    yield 1\n\n\nbatches = batches\n\n\n" \
                "def t(m):\n    m.fit(batches(), workers=2)\n"
    assert sld101_lines(unguarded) == [9]


def test_walrus_and_global_searches_run_only_when_the_text_has_them() -> None:
    # the same rebinding hidden from the cheap hint (no ':=' text) is impossible to write,
    # so check both directions of the hint on real code
    with_walrus = "def t(m):\n    g = gen()\n    (g := plain())\n    m.fit(g, workers=2)\n"
    assert sld101_lines(with_walrus) == []
    without = "def t(m):\n    g = gen()\n    (h := plain())\n    m.fit(g, workers=2)\n"
    assert sld101_lines(without) == [4]


def test_method_of_an_instance_built_in_the_same_scope() -> None:
    body = "class Loader:\n    def __init__(self, path):\n        self.path = path\n\n" \
           "    def batches(self):\n        yield self.path\n\n\n" \
           "def t(m):\n    loader = Loader('x')\n    m.fit(loader.batches(), workers=2)\n"
    source = PRELUDE + body
    [finding] = [f for f in analyze_source(source, None, KERAS2) if f.code == "SLD101"]
    assert "generator 'Loader.batches'" in finding.message
    assert finding.fixes[0].params == {"name": "batches"}


def test_guard_wrapped_names_and_called_guard_decorators_are_guarded() -> None:
    wrapped = "def t(m):\n    g = threadsafe_iter(gen())\n    m.fit(g, workers=2)\n"
    assert sld101_lines(wrapped) == []
    assert sld101_lines(
        "@utils.thread_safe_generator()\ndef h():\n    yield 1\n\n\n"
        "def t(m):\n    m.fit(h(), workers=2)\n"
    ) == []
    assert sld101_lines(
        "@ThreadsafeIter\ndef h():\n    yield 1\n\n\ndef t(m):\n    m.fit(h(), workers=2)\n"
    ) == []


def test_configured_guard_with_a_dotted_name() -> None:
    body = "@team.locked\ndef h():\n    yield 1\n\n\n" \
           "def t(m):\n    m.fit(h(), workers=2, use_multiprocessing=True)\n"
    unconfigured = analyze_source(PRELUDE + body, None, KERAS2)
    assert unconfigured == []
    configured = AnalysisConfig(keras_version="2", extra_guards=frozenset({"team.locked"}))
    [finding] = analyze_source(PRELUDE + body, None, configured)
    assert finding.code == "SLD102" and "lock already" in finding.message
