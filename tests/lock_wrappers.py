"""The forum's hand-written lock wrapper, as tests hand it to the analysis, the
codemod, the doctor and real Keras.

Its text is the registry's: SLD203's example (``import threading`` and the
class ``threadsafe_iter``), which ``rules.py`` holds once. A test may rename
the class or the attribute holding the wrapped iterator, to show that what
recognises the wrapper goes by its structure, not by its names.
"""

from __future__ import annotations

import re

from safeloader.rules import RULES

#: what SLD203's example has above the class
_IMPORT = "import threading\n\n\n"


def forum_wrapper(name: str = "threadsafe_iter", attribute: str = "it",
                  marker: str | None = None) -> str:
    """The class alone (its ``import threading`` left to the caller), named ``name``,
    wrapping the iterator it is given in ``self.<attribute>``; ``marker`` puts a
    ``# @marker`` comment on the ``class`` line (:func:`doctor_helpers.line_of`)."""
    example = RULES["SLD203"].example
    if not example.startswith(_IMPORT):
        raise AssertionError(f"SLD203's example no longer starts with {_IMPORT!r}: {example!r}")
    text = re.sub(r"\bthreadsafe_iter\b", name, example.removeprefix(_IMPORT))
    text = re.sub(r"\bit\b", attribute, text)
    if marker is not None:
        class_line, rest = text.split("\n", 1)
        text = f"{class_line}  # @{marker}\n{rest}"
    return text
