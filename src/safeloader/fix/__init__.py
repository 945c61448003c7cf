"""The fixer, ``safeloader-fix``: applies the analysis' fixes with LibCST.

- :mod:`~safeloader.fix.cli`: the command line (paths, selection, exit codes);
- :mod:`~safeloader.fix.runner`: per file, plan with the analysis, then rewrite;
- :mod:`~safeloader.fix.flake8_reporting`: the files and findings flake8 would
  report with the same configuration (``select``, ``per-file-ignores``,
  ``# noqa``, ``exclude``);
- :mod:`~safeloader.fix.selection`: which fixes ``--select``/``--ignore``/
  ``--unsafe-fixes`` allow;
- :mod:`~safeloader.fix.interruptible`: the process pool, stopped between files
  by Ctrl-C;
- :mod:`~safeloader.fix.codemod`: the LibCST codemod that applies them in one pass;
- :mod:`~safeloader.fix.fixes`: one handler module per fix kind;
- :mod:`~safeloader.fix.span_matching`, :mod:`~safeloader.fix.unified_diff`,
  :mod:`~safeloader.fix.atomic_write`, :mod:`~safeloader.fix.progress`: the helpers those need.
"""
