"""Reading loader calls by their Keras signatures."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from safeloader.analysis.signatures import (
    KERAS2_SIGNATURES,
    Argument,
    Given,
    bind_loader_call,
)


def bind(call: str):
    node = ast.parse(call).body[0].value  # type: ignore[attr-defined]
    return bind_loader_call(node, node.func.attr)


def source_of(argument) -> str | None:
    return ast.unparse(argument.value) if isinstance(argument, Argument) else None


def test_keras2_signatures_match_tf_keras_source() -> None:
    """Read ``Model``'s methods from the installed tf_keras source (no TensorFlow import)."""
    spec = importlib.util.find_spec("tf_keras")
    assert spec is not None and spec.submodule_search_locations
    training = Path(spec.submodule_search_locations[0]) / "src" / "engine" / "training.py"
    tree = ast.parse(training.read_text(encoding="utf-8"))
    model = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    methods = {f.name: f for f in model.body if isinstance(f, ast.FunctionDef)}
    for method, params in KERAS2_SIGNATURES.items():
        real = [arg.arg for arg in methods[method].args.args][1:]
        assert tuple(real[:len(params)]) == params, method


def test_keyword_and_positional_arguments() -> None:
    args = bind("m.fit_generator(gen, 10, 1, 1, None, val, 5, 1, None, 10, n, True)")
    assert [ast.unparse(d) for d in args.data] == ["gen", "val"]
    assert source_of(args.workers) == "n" and args.workers.spelling == "workers"
    assert source_of(args.use_multiprocessing) == "True"
    args = bind("m.fit(x=gen, validation_data=val, workers=3)")
    assert [ast.unparse(d) for d in args.data] == ["gen", "val"]
    assert args.use_multiprocessing is Given.DEFAULT


def test_keras1_keywords_switch_to_keras1_positions() -> None:
    args = bind("m.fit_generator(gen, 100, 10, 1, [], val, 5, None, 10, 4, pickle_safe=True)")
    assert source_of(args.workers) == "4" and args.workers.spelling == "nb_worker"
    assert args.use_multiprocessing.spelling == "pickle_safe"
    assert [ast.unparse(d) for d in args.data] == ["gen", "val"]
    # the same call without a Keras 1 keyword is read by Keras 2's signature
    args = bind("m.fit_generator(gen, 100, 10, 1, [], val, 5, None, 10, 4)")
    assert args.workers is Given.DEFAULT


def test_starred_and_double_starred_hide_what_they_may_contain() -> None:
    assert bind("m.fit(gen, **kw)").workers is Given.HIDDEN
    assert bind("m.fit(gen, *rest)").workers is Given.HIDDEN
    assert source_of(bind("m.fit(gen, *rest, workers=2)").workers) == "2"
    assert bind("m.fit(*args)").data == ()
