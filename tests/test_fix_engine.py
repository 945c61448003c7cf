"""``safeloader-fix``'s engine: LibCST sees only the statements the fixes need,
and the result is the codemod's, byte for byte.

- the layout cuts a module where LibCST does (its statements' leading lines
  and block footers), on real modules and on the awkward layouts;
- the engine gives the codemod's output on long modules where most
  statements are placeholders, including the cases where a fix needs more
  than its own statement (a name bound far away, an import used far away,
  the statement after the imports removed);
- text LibCST does not write back byte for byte is fixed around those bytes,
  and a change that touches them is refused (see also tests/test_fix_cli.py);
- imports are added as LibCST's ``AddImportsVisitor`` adds them, with two blank
  lines (not its one) above a ``def`` or ``class`` right below them.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, ImportItem

from codemod_helpers import call_span, codemod, dedent, fix, span_of
from lock_wrappers import forum_wrapper
from safeloader.findings import Fix, FixKind
from safeloader.fix.engine import rewrite, starting_chunks
from safeloader.fix.imports import add_imports, space_below_added_imports
from safeloader.fix.module_layout import ModuleLayout
from safeloader.fix.partial_module import PartialModule, PlaceholderLost
from safeloader.fix.reprint import Reprint, UnreproducibleChange
from safeloader.source_text import read_source

ROOT = Path(__file__).resolve().parent.parent

AWKWARD_LAYOUTS = {
    "nested_footers": dedent('''
        # header comment

        def f():
            if x:
                y = 1
                # inner, kept by the inner block
            # outer, kept by the function
        # column 0, goes with g
            # indented again: back to the function

        def g(): return 1  # a one-line suite owns nothing after it
        # goes with the class
        @decorator
        class A:
            def m(self):
                pass

                \t
        x = 1; y = 2
        if a:
            pass
        else:
            pass
          # deeper than nothing that follows
        try:
            pass
        finally:
            z = 3
        match x:
            case 1:
                pass
            # footer of the case
        # trailing comment of the module
    '''),
    "no_final_newline": "import os\n\ndef f():\n    return os\n# end",
    "crlf": "import os\r\n\r\ndef f():\r\n    return 1\r\n    # c\r\n\r\nx = 1\r\n",
    "cr_only": "import os\r\rdef f():\r    return 1\r    # c\r\rx = 1\r",
    "tabs": "if x:\n\tif y:\n\t\tpass\n\t# t\n\n# z\nw = 1\n",
    "continued_suite": "if x: \\\n    y = 1\n    # c\nz = 2\ndef f():  # \\\n    pass\n    # d\n",
}


def _tf_keras_modules() -> list[Path]:
    spec = importlib.util.find_spec("tf_keras")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations))) / "src"
    return [package / "callbacks.py", package / "utils" / "data_utils.py"]


def _libcst_chunks(text: str) -> list[str]:
    """Each top-level statement as LibCST renders it with its own lines (the
    module's header before the first, its footer after the last)."""
    module = cst.parse_module(text)
    chunks = [module.code_for_node(statement) for statement in module.body]
    chunks[0] = "".join(module.code_for_node(line) for line in module.header) + chunks[0]
    chunks[-1] += "".join(module.code_for_node(line) for line in module.footer)
    if not module.has_trailing_newline and not text.endswith(module.default_newline):
        chunks[-1] = chunks[-1].removesuffix(module.default_newline)
    return chunks


@pytest.mark.parametrize(
    "text",
    [*AWKWARD_LAYOUTS.values(),
     *(read_source(path).text for path in sorted((ROOT / "fixtures").glob("*.py"))),
     *(read_source(path).text for path in _tf_keras_modules())],
    ids=[*AWKWARD_LAYOUTS, *(path.name for path in sorted((ROOT / "fixtures").glob("*.py"))),
         *(path.name for path in _tf_keras_modules())],
)
def test_the_layout_cuts_the_module_where_libcst_does(text: str) -> None:
    layout = ModuleLayout(text, ast.parse(text))
    assert [layout.chunk_text(index) for index in range(len(layout.chunks))] == (
        _libcst_chunks(text)
    )


def _filler(index: int) -> str:
    return dedent(f'''
        class Model{index}:
            """Model {index}."""

            def compute(self, value):
                # add up
                return [value * item for item in range({index})]


    ''')


LONG_HEAD = dedent('''
    """A long module."""
    import threading

    import numpy as np


''')

LONG_TAIL = dedent('''
    def batches(size):
        while True:
            yield np.zeros((size, 2))


    model.fit_generator(batches(8), 5, workers=3)
''')


def _long(middle: str = "", fillers: int = 15) -> str:
    return LONG_HEAD + "".join(_filler(index) for index in range(fillers)) + middle + LONG_TAIL


def _codemod(source: str, fixes: list[tuple[str, Fix]]) -> tuple[str, tuple[str, ...]]:
    code, warnings, _ = codemod(source, fixes)
    return code, tuple(warnings)


def _long_fixes(source: str) -> list[tuple[str, Fix]]:
    return [
        fix(FixKind.DECORATE_GENERATOR, span_of(source, ast.FunctionDef, name="batches")),
        fix(FixKind.RENAME_GENERATOR_CALL, call_span(source, "fit_generator"), "SLD301",
            old="fit_generator", new="fit"),
    ]


def test_a_long_module_gives_libcst_only_the_statements_the_fixes_need() -> None:
    source = _long()
    layout = ModuleLayout(source, ast.parse(source))
    kept = starting_chunks(layout, _long_fixes(source))
    # the docstring, two imports, the first class (after the imports, and the
    # first indented block), the generator and the call: 6 of 19 statements
    assert sorted(kept) == [0, 1, 2, 3, 18, 19]
    partial = PartialModule(layout, kept)
    assert partial.text.count("\n") == source.count("\n")
    fixed = rewrite(source, "example.py", _long_fixes(source))
    assert (fixed.text, fixed.warnings) == _codemod(source, _long_fixes(source))
    assert [code for code, _ in fixed.applied] == ["SLD101", "SLD301"]
    assert "@threadsafe_generator\ndef batches" in fixed.text
    assert fixed.text.startswith(
        '"""A long module."""\nimport threading\n\nimport numpy as np\n'
        "from safeloader import threadsafe_generator\n"
    )


def test_a_name_bound_far_from_the_fix_is_seen() -> None:
    # a hand-written threadsafe_generator in the middle: the fix must not import
    # safeloader's over it
    middle = "def threadsafe_generator(f):\n    return f\n\n\n"
    source = _long(middle)
    fixed = rewrite(source, "example.py", _long_fixes(source))
    assert (fixed.text, fixed.warnings) == _codemod(source, _long_fixes(source))
    assert "@safeloader.threadsafe_generator\ndef batches" in fixed.text
    assert "\nimport safeloader\n" in fixed.text


@pytest.mark.parametrize("used_far_away", [True, False])
def test_an_import_is_removed_only_when_no_statement_uses_it(used_far_away: bool) -> None:
    pair = forum_wrapper() + "\n\n\n"
    use = ("LOCK = threading.RLock()\nEMPTY = threadsafe_iter(iter(()))\n\n\n"
           if used_far_away else "")
    source = LONG_HEAD + pair + "".join(_filler(index) for index in range(15)) + use + LONG_TAIL
    fixes = [fix(FixKind.REPLACE_HANDWRITTEN, span_of(source, ast.ClassDef, name="threadsafe_iter"),
                 "SLD203", name="threadsafe_iter", replacement="ThreadSafeIterator")]
    fixed = rewrite(source, "example.py", fixes)
    assert (fixed.text, fixed.warnings) == _codemod(source, fixes)
    assert ("import threading\n" in fixed.text) is used_far_away
    # the name is imported only where something still uses it (no F401)
    assert ("from safeloader import threadsafe_iter\n" in fixed.text) is used_far_away


@pytest.mark.parametrize(("top", "expected_top"), [
    # the removed import was the first line: the file must not start blank
    ("", "import numpy as np\n"),
    # a file that started blank, or under a comment, keeps its first lines
    ("\n", "\n\nimport numpy as np\n"),
    ("# Copyright the authors\n", "# Copyright the authors\n\nimport numpy as np\n"),
])
def test_removing_the_first_import_leaves_no_blank_line_on_top(
        top: str, expected_top: str) -> None:
    pair = forum_wrapper() + "\n\n\n"
    source = (top + LONG_HEAD.removeprefix('"""A long module."""\n') + pair
              + "".join(_filler(index) for index in range(15)) + LONG_TAIL)
    assert source.startswith(top + "import threading\n\nimport numpy as np\n")
    fixes = [fix(FixKind.REPLACE_HANDWRITTEN, span_of(source, ast.ClassDef, name="threadsafe_iter"),
                 "SLD203", name="threadsafe_iter", replacement="ThreadSafeIterator")]
    fixed = rewrite(source, "example.py", fixes)
    assert (fixed.text, fixed.warnings) == _codemod(source, fixes)
    assert fixed.text.startswith(expected_top)


def test_removing_the_statement_after_the_imports_brings_in_the_next_one() -> None:
    # the removed class is the statement after the imports; the import added
    # goes above the statement after it, which no fix names
    source = dedent('''
        import threading

        def threadsafe_generator(f):
            return f
        # a comment above the next statement
        VALUE = 1
    ''') + "".join(_filler(index) for index in range(5)) + LONG_TAIL + (
        "\n\nDECORATE = threadsafe_generator\n")  # still used: the import must stay
    fixes = [fix(FixKind.REPLACE_HANDWRITTEN,
                 span_of(source, ast.FunctionDef, name="threadsafe_generator"), "SLD203",
                 name="threadsafe_generator", replacement="threadsafe_generator")]
    fixed = rewrite(source, "example.py", fixes)
    assert (fixed.text, fixed.warnings) == _codemod(source, fixes)
    assert fixed.text.startswith(
        "import threading\nfrom safeloader import threadsafe_generator\n\n"
        "# a comment above the next statement\nVALUE = 1\n"
    )


END_OF_MODULE = "\n    \n# the end\n"  # a blank line, a whitespace-only line, a comment


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("module_end_elsewhere", LONG_TAIL + END_OF_MODULE,
         LONG_TAIL.replace("def batches", "@threadsafe_generator\ndef batches")
         .replace("fit_generator(batches(8), 5,", "fit(batches(8), steps_per_epoch=5,")
         + END_OF_MODULE),
        ("form_feed_in_the_fixed_function",
         LONG_TAIL.replace("    while", "    size += 0\n\x0c    while"),
         LONG_TAIL.replace("    while", "    size += 0\n\x0c    while")
         .replace("def batches", "@threadsafe_generator\ndef batches")
         .replace("fit_generator(batches(8), 5,", "fit(batches(8), steps_per_epoch=5,")),
        ("form_feed_before_the_fixed_function",
         LONG_TAIL.replace("def batches", "\x0cdef batches"),
         LONG_TAIL.replace("def batches", "@threadsafe_generator\n\x0cdef batches")
         .replace("fit_generator(batches(8), 5,", "fit(batches(8), steps_per_epoch=5,")),
    ],
)
def test_text_libcst_does_not_reprint_is_fixed_around_those_bytes(
    name: str, before: str, after: str
) -> None:
    source = LONG_HEAD + before
    assert cst.parse_module(source).code != source
    fixed = rewrite(source, "example.py", _long_fixes(source))
    assert fixed.error is None
    assert fixed.text == LONG_HEAD.replace(
        "np\n", "np\nfrom safeloader import threadsafe_generator\n", 1) + after


def test_a_module_with_old_mac_line_ends_is_fixed_to_its_last_line() -> None:
    source = _long(fillers=5).replace("\n", "\r")  # placeholders end with "\n"
    fixed = rewrite(source, "example.py", _long_fixes(source))
    assert fixed.error is None
    assert fixed.text.endswith("model.fit(batches(8), steps_per_epoch=5, workers=3)\r")
    assert "\n" not in fixed.text


def test_a_change_to_a_line_libcst_does_not_reprint_is_refused() -> None:
    source = LONG_HEAD + LONG_TAIL.replace("model.fit_generator", "\x0cmodel.fit_generator")
    fixed = rewrite(source, "example.py", _long_fixes(source))
    line = source.count("\n")
    assert fixed.text is None
    assert fixed.error == (
        f"a fix would change line {line}, which LibCST would not write back byte for byte"
    )


def test_reprint_maps_positions_and_refuses_changes_to_lines_it_lost() -> None:
    original = "a = 1\n\x0cb = 2\nc = 3\n"
    reprint = Reprint(original, "a = 1\nb = 2\nc = 3\n", first_line=10)
    assert reprint.offset_in_reprint(original.index("b")) == 6
    assert reprint.offset_in_reprint(original.index("\x0c")) is None
    assert reprint.carry_over("a = 1\nb = 2\nc = 4\n") == "a = 1\n\x0cb = 2\nc = 4\n"
    assert reprint.carry_over("a = 0\nb = 2\nc = 3\n") == "a = 0\n\x0cb = 2\nc = 3\n"
    with pytest.raises(UnreproducibleChange) as refused:
        reprint.carry_over("a = 1\nb = 5\nc = 3\n")
    assert refused.value.line == 11


def test_text_added_where_no_kept_statement_is_is_not_lost() -> None:
    source = "x = 1\n" + "".join(_filler(index) for index in range(3))
    layout = ModuleLayout(source, ast.parse(source))
    partial = PartialModule(layout, {0})
    assert partial.splice([piece for piece in ["x = 2\n"]]) == source.replace("x = 1", "x = 2")
    with pytest.raises(PlaceholderLost):
        partial.kept_spans(partial.text + "y = 1\n")


def test_fixing_a_script_does_not_load_libcsts_codemod_machinery(tmp_path: Path) -> None:
    # the matcher-decorated codemod package costs a second of start-up: the
    # engine adds imports without it (a removal still loads it)
    script = tmp_path / "train.py"
    script.write_text(LONG_HEAD + LONG_TAIL)
    probe = (
        "import sys\n"
        "from safeloader.fix.cli import main\n"
        f"assert main(['-j', '1', {str(script)!r}]) == 0\n"
        "print(sorted(name for name in sys.modules\n"
        "             if name.startswith(('libcst.codemod', 'libcst.matchers'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=300, check=True)
    assert "@threadsafe_generator" in script.read_text()
    assert result.stdout == "[]\n"


HEADS = [
    "",
    '"""Doc."""\n',
    '"""Doc."""\nfrom __future__ import annotations\nimport os\n\nx = 1\n',
    "import os\n# a comment\nx = 1\n",
    "from safeloader import ThreadSafeIterator\nfrom safeloader import sharded_generator\n",
    "from safeloader import *\nx = 1\n",
    "import safeloader as sl\nfrom safeloader import threadsafe_iter as ti\n\n\ndef f(): pass\n",
    "__strict__ = True\nimport os\n",
    "x = 1\nimport os\n",
    "from . import sibling\nfrom safeloader import (\n    ThreadSafeIterator,  # kept\n)\n",
    "def f():\n    pass\n",
    "import os\n\n# a comment\n@decorated\nclass A:\n    pass\n",
]
REQUESTS = [
    [ImportItem("safeloader", "threadsafe_generator")],
    [ImportItem("safeloader", "ThreadSafeIterator"), ImportItem("safeloader", "a")],
    [ImportItem("safeloader")],
    [ImportItem("safeloader", alias="sl"), ImportItem("safeloader", "threadsafe_iter", "ti")],
    [ImportItem("__future__", "annotations"), ImportItem("os")],
]


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("request_", REQUESTS, ids=range(len(REQUESTS)))
def test_imports_are_added_as_libcsts_add_imports_visitor_adds_them(
    head: str, request_: list[ImportItem]
) -> None:
    module = cst.parse_module(head)
    context = CodemodContext()
    for item in request_:
        AddImportsVisitor.add_needed_import(context, item.module, item.obj_name, item.alias)
    expected = space_below_added_imports(
        module, AddImportsVisitor(context).transform_module(module)).code
    requests = [(item.module_name, item.obj_name, item.alias) for item in request_]
    assert add_imports(module, requests).code == expected
