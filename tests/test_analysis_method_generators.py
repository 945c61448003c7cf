"""Generators reached as methods: inherited from a project base, or of an object kept in
``self`` (``self.data = DataSet(...)`` then ``self.data.flow()``), Keras 1 keywords included.

The fixture ``fixtures/sld102_method_generators.py`` holds the single-file shapes; these
tests cover bases in other modules, the stores that make an attribute uncertain, and
hierarchies that must not be followed forever.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from safeloader.analysis import AnalysisConfig, analyze_source
from safeloader.findings import FixKind

KERAS2 = AnalysisConfig(keras_version="2")


def codes(source: str, path: Path | None = None,
          config: AnalysisConfig = KERAS2) -> list[tuple[int, str]]:
    found = analyze_source(textwrap.dedent(source), path, config)
    return [(f.line, f.code) for f in found if f.code in ("SLD101", "SLD102")]


TRAINER = textwrap.dedent("""\
    class Frames:
        def flow(self):
            while True:
                yield 1


    class Trainer:
        def __init__(self, model, x):
            self.model = model
            if x:
                frames = Frames()
                self.frames = frames

        def train(self):
            self.model.fit_generator(self.frames.flow(), 10, nb_worker=4, pickle_safe=True)
""")


def test_an_attribute_assigned_once_in_a_branch_is_followed_to_its_local_value() -> None:
    assert codes(TRAINER) == [(15, "SLD102")]


@pytest.mark.parametrize("elsewhere", [
    "\n\ndef swap(trainer):\n    trainer.frames = None\n",
    "\n\ndef swap(trainer):\n    del trainer.frames\n",
    "\n\ndef swap(trainer, name):\n    setattr(trainer, name, None)\n",
    "\n\ndef swap(trainer):\n    vars(trainer).clear()\n",
    "\n\ndef swap(trainer):\n    trainer.__dict__.clear()\n",
])
def test_an_attribute_the_module_may_store_elsewhere_is_not_followed(elsewhere: str) -> None:
    assert codes(TRAINER + elsewhere) == []


def test_a_base_in_another_module_gives_the_method_and_the_fix_goes_there(
    tmp_path: Path,
) -> None:
    (tmp_path / "base.py").write_text(textwrap.dedent("""\
        class Base(object):
            def batches(self, n):
                while True:
                    yield n


        class Holder:
            def __init__(self):
                self.source = Base()
    """))
    script = tmp_path / "train.py"
    source = """\
        from base import Base, Holder


        class Trainer(Base):
            def train(self, model):
                model.fit_generator(self.batches(2), samples_per_epoch=8,
                                    nb_worker=4, pickle_safe=True)
                model.fit_generator(Holder().source.batches(2), 8, nb_worker=4)
    """
    script.write_text(textwrap.dedent(source))
    config = AnalysisConfig(keras_version="2", project_root=tmp_path)
    found = [f for f in analyze_source(script.read_text(), script, config)
             if f.code in ("SLD101", "SLD102")]
    assert [(f.line, f.code) for f in found] == [(6, "SLD102"), (8, "SLD101")]
    assert "generator 'Base.batches'" in found[0].message
    decorate = [fix for fix in found[0].fixes if fix.kind is FixKind.DECORATE_GENERATOR]
    assert [(fix.path, fix.span.line) for fix in decorate] == [(tmp_path / "base.py", 2)]


def test_cyclic_and_very_deep_hierarchies_end() -> None:
    cyclic = """\
        class A(B):
            pass


        class B(A):
            def train(self, model):
                model.fit(self.rows(), workers=4)
    """
    assert codes(cyclic) == []
    deep = "class C0:\n    def rows(self):\n        yield 1\n\n\n" + "".join(
        f"class C{i}(C{i - 1}):\n    pass\n\n\n" for i in range(1, 400))
    deep += "def train(model):\n    model.fit(C399().rows(), workers=4)\n"
    near = deep.replace("C399()", "C3()")
    assert codes(near) == [(deep.count("\n"), "SLD101")]
    assert codes(deep) == []  # beyond the bound: not guessed
