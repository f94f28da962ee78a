"""A clone of the repository is all a reader has: nothing in it may point outside it.

The team keeps working notes beside the checkout; a clone lacks them, so a docstring or a
README line that sends the reader there sends them nowhere. The project's own account lives
in ``docs/``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Spelt in pieces so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + "shared" + r"\b|\b" + "shared" + r"/(design|tools|data)\b")
# An upper-case document name (like the repository's own README) that names no file of it.
NOTE_NAME = re.compile(r"(?<![\w./-])([A-Z][A-Z_]+\.md)\b")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def test_no_tracked_file_refers_outside_the_repository() -> None:
    offenders = []
    for path in _tracked():
        text = _text(path)
        for n, line in enumerate((text or "").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:90]}")
    assert not offenders, "these lines point outside the repository:\n" + "\n".join(offenders)


def test_every_named_note_is_a_file_of_the_repository() -> None:
    tracked = _tracked()
    names = {p.name for p in tracked}
    offenders = []
    for path in tracked:
        text = _text(path)
        for n, line in enumerate((text or "").splitlines(), 1):
            for name in NOTE_NAME.findall(line):
                if name not in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {name}")
    assert not offenders, "these name a document the repository lacks:\n" + "\n".join(offenders)


def test_every_relative_link_in_the_markdown_resolves() -> None:
    offenders = []
    for path in _tracked():
        if path.suffix != ".md":
            continue
        for n, line in enumerate((_text(path) or "").splitlines(), 1):
            for target in MD_LINK.findall(line):
                if re.match(r"[a-z]+:", target):  # https:, mailto:, file: ...
                    continue
                if not (path.parent / target).exists():
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {target}")
    assert not offenders, "these links lead nowhere:\n" + "\n".join(offenders)


# A path into the repository, written as code in a document: `hq/ingest.py`, `tests/fuzz/`.
# MQTT topics (`rekam/v1/...`) share the ``rekam/`` prefix and are not paths.
REPO_PATH = re.compile(
    r"`((?:edge|hal|tui|sync|hq|rekam|bench|tests|systemd|image-build|docs|requirements)"
    r"/(?!v\d)[\w./-]*)`")


def _ignored(named: str) -> bool:
    """Made by a build, not kept in git (``image-build/out/``): named, never committed."""
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", named], cwd=ROOT,
                          capture_output=True).returncode == 0


def test_every_path_the_documents_name_exists() -> None:
    """The docs describe the code; a module that moved must take its mentions with it."""
    offenders = []
    for path in _tracked():
        if path.suffix != ".md":
            continue
        for n, line in enumerate((_text(path) or "").splitlines(), 1):
            for named in REPO_PATH.findall(line):
                named = named.rstrip(".,:")
                if not (ROOT / named).exists() and not _ignored(named):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {named}")
    assert not offenders, "these paths are not in the repository:\n" + "\n".join(offenders)
