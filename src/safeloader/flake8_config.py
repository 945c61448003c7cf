"""The safeloader settings of the flake8 configuration, for ``safeloader-fix``.

``safeloader-fix`` reads ``safeloader-keras-version`` and ``safeloader-guards``
where flake8 reads them, so that the fixer and the linter see one
configuration: from the current directory upwards, the first of
``setup.cfg``, ``tox.ini`` and ``.flake8`` with a ``[flake8]`` section.
"""

from __future__ import annotations

import configparser
from pathlib import Path

CONFIG_FILES = ("setup.cfg", "tox.ini", ".flake8")


def find_flake8_config(start: Path) -> Path | None:
    """The configuration file flake8 would use when run in ``start``, if any.

    As flake8 looks: in ``start``, then each parent up to (not including) the
    home directory, the first file with a ``[flake8]`` or
    ``[flake8:local-plugins]`` section.
    """
    home = Path.home().resolve()
    directory = start.resolve()
    while True:
        for name in CONFIG_FILES:
            parser = _parser(directory / name)
            if parser.has_section("flake8") or parser.has_section("flake8:local-plugins"):
                return directory / name
        if directory.parent in (directory, home):
            return None
        directory = directory.parent


def safeloader_settings(start: Path) -> dict[str, str]:
    """``{"keras_version": ..., "guards": ...}`` as far as the flake8 configuration sets them."""
    path = find_flake8_config(start)
    if path is None:
        return {}
    parser = _parser(path)
    if not parser.has_section("flake8"):
        return {}
    section = parser["flake8"]
    settings = {}
    for option, key in (("keras-version", "keras_version"), ("guards", "guards")):
        for spelling in (f"safeloader-{option}", f"safeloader_{option.replace('-', '_')}"):
            if spelling in section:
                settings[key] = section[spelling].strip()
    return settings


def _parser(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return configparser.RawConfigParser()
    return parser
