"""Span matching on real code: every call, generator expression, ``def`` and
keyword argument value that ``ast`` reports is found as the matching LibCST node.

The files are the fixtures (non-ASCII text, decorated methods, parenthesised and
lone generator expressions, multi-line calls) and a module of tf_keras (its image
dataset helper: long multi-line calls).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from safeloader.findings import Span
from safeloader.source_text import read_source
from safeloader.fix.span_matching import ModuleText, NodeIndex

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*.py"))

#: ast node type -> the LibCST node type a fix of it aims at
PAIRS: dict[type[ast.AST], type[cst.CSTNode]] = {
    ast.Call: cst.Call,
    ast.GeneratorExp: cst.GeneratorExp,
    ast.FunctionDef: cst.FunctionDef,
    ast.AsyncFunctionDef: cst.FunctionDef,
    ast.ClassDef: cst.ClassDef,
}


def _tf_keras_module() -> list[Path]:
    spec = importlib.util.find_spec("tf_keras")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations)))
    return [package / "src" / "utils" / "image_dataset.py"]


def _bare(text: str) -> str:
    """Source text without the parentheses around it, whitespace runs as one space
    (LibCST renders a node alone without its block's indentation)."""
    text = " ".join(text.split())
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


@pytest.mark.parametrize(
    "path", [*FIXTURES, *_tf_keras_module()], ids=lambda path: path.name
)
def test_every_ast_node_is_found_as_its_libcst_node(path: Path) -> None:
    text = read_source(path).text
    wrapper = MetadataWrapper(cst.parse_module(text))
    index = NodeIndex(ModuleText(text), wrapper.resolve(PositionProvider))
    checked = 0
    for node in ast.walk(ast.parse(text)):
        spans = []
        if type(node) in PAIRS:
            spans.append((node, PAIRS[type(node)], index.exact))
        if isinstance(node, ast.keyword) and node.arg is not None:
            spans.append((node.value, cst.Arg, index.enclosing))
        for target, node_type, find in spans:
            span = Span(target.lineno, target.col_offset, target.end_lineno, target.end_col_offset)
            found = find(span, node_type)
            assert found is not None, (path.name, span)
            if isinstance(found, (cst.FunctionDef, cst.ClassDef)):
                assert found.name.value == target.name  # type: ignore[attr-defined]
            else:
                if isinstance(found, cst.Arg):
                    assert found.keyword is not None and found.keyword.value == node.arg
                    found = found.value
                code = wrapper.module.code_for_node(found)
                segment = ast.get_source_segment(text, target)
                assert segment is not None
                assert _bare(code) == _bare(segment), (path.name, span, code, segment)
            checked += 1
    assert checked > 0
