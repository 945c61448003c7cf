"""The fixer, ``safeloader-fix``: applies the analysis' fixes with LibCST.

- :mod:`~safeloader.fix.cli`: the command line (paths, selection, exit codes);
- :mod:`~safeloader.fix.runner`: per file, plan with the analysis, then rewrite;
  :mod:`~safeloader.fix.module_files`: a file as the module they work on (a
  Python file, or a notebook's code cells) and the fixed module back as the
  file's text; :mod:`~safeloader.fix.options`: the options ``safeloader lint``
  shares;
- :mod:`~safeloader.fix.flake8_reporting`: the files and findings flake8 would
  report with the same configuration (``select``, ``per-file-ignores``,
  ``# noqa``, ``exclude``);
- :mod:`~safeloader.fix.selection`: which fixes ``--select``/``--ignore``/
  ``--unsafe-fixes`` allow;
- :mod:`~safeloader.fix.interruptible`: the process pool, stopped between files
  by Ctrl-C;
- :mod:`~safeloader.fix.engine`: applies them to a file's text, giving LibCST only
  the statements they need (:mod:`~safeloader.fix.module_layout`,
  :mod:`~safeloader.fix.partial_module`, :mod:`~safeloader.fix.reprint`,
  :mod:`~safeloader.fix.imports`);
- :mod:`~safeloader.fix.codemod`: the same fixes as a LibCST codemod, for LibCST's
  own runner;
- :mod:`~safeloader.fix.applier`: the one walk both use; :mod:`~safeloader.fix.fixes`:
  one handler module per fix kind (:mod:`~safeloader.fix.fixes.layout`: argument
  lists edited in their own layout);
- :mod:`~safeloader.fix.realign`: continuation lines moved with their bracket
  after the fixes; :mod:`~safeloader.fix.unused_parameters`: the parameters a
  fix leaves unused, named in a warning;
- :mod:`~safeloader.fix.span_matching`, :mod:`~safeloader.fix.unified_diff`,
  :mod:`~safeloader.fix.atomic_write`, :mod:`~safeloader.fix.progress`,
  :mod:`~safeloader.fix.text_fix`: the helpers those need.
"""
