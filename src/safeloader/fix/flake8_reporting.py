"""What ``flake8`` would report, decided by flake8's own machinery.

``safeloader-fix`` fixes exactly the findings ``flake8`` reports with the same
configuration, so that ``safeloader-fix --check`` (the pre-commit hook) and the
linter never disagree. It asks flake8 rather than re-reading its files:

- options: :func:`flake8.options.parse_args.parse_args`, what the ``flake8``
  command itself runs (the configuration file found from the current
  directory, plugins' options such as ``safeloader-keras-version``);
- files: :func:`flake8.discover_files.expand_paths` with flake8's ``exclude``
  (default :data:`flake8.defaults.EXCLUDE`), ``extend-exclude`` and ``filename``
  (plus ``*.ipynb`` when notebooks are wanted: flake8 itself reads only Python);
- codes: flake8's :class:`~flake8.style_guide.StyleGuideManager` (``select``,
  ``ignore``, their ``extend-`` forms, default-off codes, ``per-file-ignores``);
- lines: :class:`~flake8.processor.FileProcessor` reads the file as flake8 does,
  answers ``# flake8: noqa`` and gives the line a ``# noqa`` comment is looked
  for on (a multi-line string's whole range), which
  :class:`~flake8.violation.Violation` then matches. For a notebook it is given
  the lines of the module its code cells make, so ``# noqa`` works in a cell.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterable, Sequence

from flake8.discover_files import expand_paths
from flake8.exceptions import Flake8Exception
from flake8.formatting.default import Nothing
from flake8.options.parse_args import parse_args
from flake8.processor import FileProcessor
from flake8.style_guide import Decision, StyleGuideManager
from flake8.utils import normalize_paths
from flake8.violation import Violation

from safeloader.analysis.config import AnalysisConfig
from safeloader.findings import Finding

#: the files besides flake8's ``filename`` patterns that safeloader reads: notebooks
NOTEBOOK_PATTERN = "*.ipynb"


class Flake8ConfigurationError(Exception):
    """flake8 could not read its configuration, or it has a value safeloader cannot use."""


class Flake8Reporting:
    """flake8's options for one run, and its decisions on files and findings.

    Picklable (the options travel to worker processes); flake8's style guides
    are rebuilt in each process on first use.
    """

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self._style_guides: StyleGuideManager | None = None

    @classmethod
    def from_arguments(cls, argv: Sequence[str], extra_exclude: Sequence[str] = ()
                       ) -> Flake8Reporting:
        """Parse ``argv`` (flake8 command-line arguments) with the configuration
        flake8 would find from the current directory; ``extra_exclude`` globs are
        added to its ``extend-exclude`` (flake8's own ``--extend-exclude`` would
        replace the configuration's)."""
        try:
            _, options = parse_args(list(argv))
            extra = normalize_paths(list(extra_exclude))
            options.extend_exclude = [*options.extend_exclude, *extra]
        except (Flake8Exception, ValueError) as error:
            raise Flake8ConfigurationError(f"flake8 configuration: {error}") from error
        except SystemExit as error:
            # argparse has printed which option and value it rejected (a bad
            # safeloader-keras-version in a config file included: the plugin checks it)
            raise Flake8ConfigurationError("flake8 rejected an option (see above)") from error
        if not hasattr(options, "safeloader_keras_version"):
            raise Flake8ConfigurationError(
                "flake8 does not load the safeloader plugin here (see its "
                "enable-extensions/require-plugins settings)"
            )
        return cls(options)

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"])  # type: ignore[misc]

    def analysis_config(self) -> AnalysisConfig:
        """The analysis settings flake8's safeloader plugin would run with."""
        return AnalysisConfig(
            keras_version=self.options.safeloader_keras_version,
            extra_guards=frozenset(name for name in self.options.safeloader_guards if name),
        )

    def files(self, *, notebooks: bool = False) -> list[Path]:
        """The files flake8 would check: its ``filenames`` expanded as flake8 does
        (a file named explicitly is taken whatever its suffix), each once; with
        ``notebooks``, the ``.ipynb`` files in the directories walked too, under
        the same ``exclude``."""
        options = self.options
        patterns = [*options.filename, *([NOTEBOOK_PATTERN] if notebooks else [])]
        found = expand_paths(
            paths=options.filenames,
            stdin_display_name=options.stdin_display_name,
            filename_patterns=patterns,
            exclude=[*options.exclude, *options.extend_exclude],
        )
        return [Path(name) for name in dict.fromkeys(found)]

    def selects_none_of(self, codes: Iterable[str]) -> bool:
        """Whether flake8's ``select``/``ignore`` (before ``per-file-ignores``) leave
        none of ``codes`` reported, as a ``select = E,F,W`` written before the
        plugin was added does."""
        guide = self._manager().default_style_guide
        return all(guide.should_report_error(code) is not Decision.Selected for code in codes)

    def reported(self, path: Path, findings: Iterable[Finding],
                 lines: list[str] | None = None) -> list[Finding]:
        """The ``findings`` of ``path`` that flake8 would report (not switched off by
        ``select``/``ignore``/``per-file-ignores``, nor by a ``# noqa`` comment);
        ``lines``: the module's lines when they are not the file's (a notebook's)."""
        filename = str(path)
        guide = self._manager().style_guide_for(filename)
        chosen = [
            finding for finding in findings
            if guide.should_report_error(finding.code) is Decision.Selected
        ]
        if not chosen:
            return []
        processor = FileProcessor(filename, self.options, lines=lines)
        if processor.should_ignore_file():
            return []
        return [
            finding for finding in chosen
            if not Violation(
                finding.code, filename, finding.line, finding.col + 1, finding.message,
                processor.noqa_line_for(finding.line),
            ).is_inline_ignored(self.options.disable_noqa)
        ]

    def _manager(self) -> StyleGuideManager:
        if self._style_guides is None:
            # the formatter is never asked to print: only the decisions are used
            self._style_guides = StyleGuideManager(self.options, Nothing(self.options))
        return self._style_guides
