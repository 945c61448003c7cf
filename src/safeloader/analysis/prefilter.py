"""The cheap text test that lets the analysis skip most files.

Every rule needs one of these words in the source: the call-site rules a
loader method (``fit``, ``evaluate``, ``predict``, ``*_generator``) or a
loader setting; the class rules ``next``, ``Sequence``, ``PyDataset`` or a
hand-written wrapper's name (``threadsafe``, ``Lock``). A source without any
of them has no finding.
"""

from __future__ import annotations

import re

_ANY_RULE = re.compile(
    r"fit|evaluate|predict|_generator|workers|next|PyDataset|Sequence|threadsafe"
    r"|thread_safe|ThreadSafe|Threadsafe|Lock"
)


def might_have_findings(source: str) -> bool:
    """Return ``False`` only when no rule can fire on ``source``."""
    return _ANY_RULE.search(source) is not None
