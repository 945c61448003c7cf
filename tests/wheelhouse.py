"""An offline wheelhouse for tests that build a fresh environment (pre-commit's).

The wheels of safeloader's dependencies are repacked from the distributions
installed in the running environment (their files as listed in their RECORD),
and the setuptools wheel virtualenv ships is copied, so that ``pip install``
with ``PIP_NO_INDEX=1`` and ``PIP_FIND_LINKS`` pointing here needs no network.
:func:`copy_checkout` gives such an environment this checkout to install.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import shutil
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

#: this checkout
ROOT = Path(__file__).resolve().parent.parent

#: files pip writes at install time, not part of a wheel
_INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def repack_installed(name: str, directory: Path) -> Path:
    """Write a wheel of the installed distribution ``name`` into ``directory``."""
    dist = importlib.metadata.distribution(name)
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    # the compressed tag set of the file name: e.g. py2.py3-none-any
    parts = [
        ".".join(dict.fromkeys(tag.split("-")[index] for tag in tags)) for index in range(3)
    ]
    project = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = directory / f"{project}-{dist.version}-{'-'.join(parts)}.whl"
    records = []
    info_dir = None
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or ():
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            if file.parts[0].endswith(".dist-info"):
                info_dir = file.parts[0]
                if file.name in _INSTALL_ONLY:
                    continue
            data = Path(file.locate()).read_bytes()
            archive.writestr(file.as_posix(), data)
            records.append(f"{file.as_posix()},{_record_hash(data)},{len(data)}")
        assert info_dir is not None, f"{name} has no .dist-info in its RECORD"
        records.append(f"{info_dir}/RECORD,,")
        archive.writestr(f"{info_dir}/RECORD", "\n".join(records) + "\n")
    return wheel


def _dependencies(name: str) -> set[str]:
    """``name`` and everything it requires in this environment, recursively."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        key = re.sub(r"[-_.]+", "-", current).lower()
        if key in seen:
            continue
        seen.add(key)
        for line in importlib.metadata.requires(current) or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def build_wheelhouse(directory: Path, requirements: list[str]) -> Path:
    """Fill ``directory`` with wheels for ``requirements`` (and theirs) plus setuptools."""
    directory.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for requirement in requirements:
        names |= _dependencies(requirement)
    for name in sorted(names - {"setuptools"}):
        repack_installed(name, directory)
    import virtualenv.seed.wheels.embed as embedded

    newest = max(
        Path(embedded.__file__).parent.glob("setuptools-*.whl"),
        key=lambda path: tuple(int(part) for part in path.name.split("-")[1].split(".")),
    )
    shutil.copy(newest, directory)
    return directory


def copy_checkout(directory: Path, *extra: str) -> Path:
    """Copy what pip builds safeloader from (``pyproject.toml``, ``README.md``, the
    package's sources) and the ``extra`` files of this checkout into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", *extra):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "src" / "safeloader", directory / "src" / "safeloader",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return directory
