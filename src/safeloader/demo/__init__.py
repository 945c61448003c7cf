"""``safeloader demo``: the whole story, chapter by chapter, on built-in data.

:data:`CHAPTERS` names the chapter modules in the order they run. A chapter
module defines:

- ``TITLE``: a one-line heading;
- ``run(earlier, out)``: prints its part of the story to ``out`` and returns
  what it measured. ``earlier`` maps the short name of every chapter that ran
  before it (``"threads"`` for ``safeloader.demo.threads``) to that chapter's
  result, so a later chapter can compare against an earlier one.

Adding a chapter is one line: append its module name to :data:`CHAPTERS`.
Chapters are imported only when they run, so ``import safeloader.demo``
stays free of TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, TextIO

#: What ``pip install 'safeloader[tf]'`` brings; a chapter may import any of them.
_TF_EXTRA = frozenset({"tensorflow", "tf_keras", "keras", "numpy"})

#: The chapter modules, in order.
CHAPTERS: tuple[str, ...] = (
    "safeloader.demo.threads",
    "safeloader.demo.fixing",
    "safeloader.demo.loader",
    "safeloader.demo.doctor",
)


def chapter_name(module_name: str) -> str:
    """The key of a chapter's result in ``earlier``: its module's last component."""
    return module_name.rpartition(".")[2]


def run_demo(out: TextIO | None = None, chapters: tuple[str, ...] = CHAPTERS) -> int:
    """Run every chapter in order; return the exit status of ``safeloader demo``."""
    out = sys.stdout if out is None else out
    # TensorFlow reads this once, at import: keep its C++ start-up lines out of the story.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results: dict[str, Any] = {}
    for number, module_name in enumerate(chapters, start=1):
        try:
            chapter = importlib.import_module(module_name)
        except ImportError as error:
            missing = (error.name or "").partition(".")[0]
            if missing not in _TF_EXTRA:
                raise
            print(
                f"safeloader demo needs TensorFlow and Keras ({missing} is not installed): "
                f"pip install 'safeloader[tf]'",
                file=sys.stderr,
            )
            return 2
        title = f"Chapter {number}: {chapter.TITLE}"
        print(f"\n{title}\n{'=' * len(title)}", file=out, flush=True)
        results[chapter_name(module_name)] = chapter.run(dict(results), out)
    return 0
