"""The fixer, ``safeloader-fix``: applies the analysis' fixes with LibCST.

- :mod:`~safeloader.fix.cli`: the command line (paths, selection, exit codes);
- :mod:`~safeloader.fix.runner`: per file, plan with the analysis, then rewrite;
- :mod:`~safeloader.fix.selection`: which fixes ``--select``/``--ignore``/
  ``--unsafe-fixes`` allow;
- :mod:`~safeloader.fix.codemod`: the LibCST codemod that applies them in one pass;
- :mod:`~safeloader.fix.fixes`: one handler module per fix kind;
- :mod:`~safeloader.fix.span_matching`, :mod:`~safeloader.fix.unified_diff`,
  :mod:`~safeloader.fix.atomic_write`, :mod:`~safeloader.fix.source_files`,
  :mod:`~safeloader.fix.progress`: the helpers those need.
"""
