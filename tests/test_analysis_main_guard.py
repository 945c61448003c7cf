"""Module code that runs on import, and the datasets that start worker processes."""

from __future__ import annotations

import ast

import pytest

from safeloader.analysis.main_guard import is_main_guard, names_called_on_import


@pytest.mark.parametrize("test, expected", [
    ("__name__ == '__main__'", True),
    ("'__main__' == __name__", True),
    ("__name__ != '__main__'", False),
    ("__name__ == '__main__' and ready", False),
    ("name == '__main__'", False),
    ("__name__ == 'main'", False),
    ("__name__ == '__main__' == x", False),
])
def test_is_main_guard(test: str, expected: bool) -> None:
    stmt = ast.parse(f"if {test}:\n    pass\n").body[0]
    assert is_main_guard(stmt) is expected


def test_names_called_on_import_skip_the_guard_and_function_bodies() -> None:
    tree = ast.parse(
        "setup()\n"
        "try:\n    load()\nexcept ImportError:\n    fallback()\n"
        "for i in range(2):\n    step(i)\n"
        "x = build()\n"
        "@decorate()\ndef f(x=default()):\n    inside()\n"
        "class C:\n    in_class()\n\n    def m(self):\n        in_method()\n"
        "if __name__ == '__main__':\n    main()\nelse:\n    imported()\n"
    )
    assert names_called_on_import(tree) == {
        "setup", "load", "fallback", "range", "step", "build", "imported", "decorate",
        "default", "in_class",
    }


def test_functions_called_on_import_call_on_import_too_transitively() -> None:
    tree = ast.parse(
        "def train():\n    fit()\n\n\n"
        "def main():\n    prepare()\n    train()\n\n\n"
        "def prepare():\n    main()\n\n\n"
        "def unused():\n    never()\n\n\n"
        "main()\n"
        "if __name__ == '__main__':\n    unused()\n"
    )
    assert names_called_on_import(tree) == {"main", "prepare", "train", "fit"}
