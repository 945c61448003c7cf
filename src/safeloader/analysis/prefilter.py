"""The cheap text test that lets the analysis skip most files.

Every rule needs one of these words in the source: the call-site rules a
loader method (``fit``, ``evaluate``, ``predict``, ``*_generator``) or a
loader setting; the class rules ``next``, ``Sequence``, ``PyDataset`` or a
hand-written wrapper's name (``threadsafe``, ``Lock``); SLD103 through a
function of another project module an ``import``. A source without any of
them has no finding.
"""

from __future__ import annotations

_WORDS = (
    "fit", "evaluate", "predict", "_generator", "workers", "next", "PyDataset", "Sequence",
    "threadsafe", "thread_safe", "ThreadSafe", "Threadsafe", "Lock",
)


def might_have_findings(source: str) -> bool:
    """Return ``False`` only when no rule can fire on ``source``."""
    # ``import`` first: found near the top of nearly every file, it spares the front end
    # the word searches that analyze_module makes anyway
    return imports_might_start_processes(source) or rules_might_fire_here(source)


def rules_might_fire_here(source: str) -> bool:
    """Return ``False`` only when no rule can fire on ``source`` by what the module
    itself does (everything but SLD103 through another module's function)."""
    return any(word in source for word in _WORDS)


def class_rules_might_fire(source: str) -> bool:
    """Return ``False`` only when no class rule (SLD104-105, SLD201-203) can fire on ``source``.

    They all judge a class that is an iterator (``next``/``__next__``) or a
    ``Sequence``/``PyDataset`` subclass.
    """
    return "class" in source and ("next" in source or "Sequence" in source
                                  or "PyDataset" in source)


def imports_might_start_processes(source: str) -> bool:
    """Return ``False`` only when no call in ``source`` can reach worker processes started
    in another module (SLD103 through a project function): there is no import."""
    return "import" in source
