"""Where v0.1 documented the codemod for LibCST's own runner.

``python -m libcst.tool codemod -x safeloader.codemod.SafeloaderFixCommand``
(and ``codemod.SafeloaderFixCommand`` with ``modules: [safeloader]`` in
``.libcst.codemod.yaml``) keep working; the fixer itself lives in
:mod:`safeloader.fix`.
"""

from safeloader.fix.codemod import SafeloaderFixCommand

__all__ = ["SafeloaderFixCommand"]
