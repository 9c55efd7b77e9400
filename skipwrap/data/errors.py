"""The error a data source raises when an expected file or folder is not there.

It is both a ``FileNotFoundError`` (what it is) and a ``ValueError`` (what the sources
promise to raise for bad input), so callers can catch either.
"""
from __future__ import annotations

from pathlib import Path


class MissingPathError(FileNotFoundError, ValueError):
    """An expected file or folder is missing; the message names the expected path."""


def require_path(path: Path, what: str, hint: str = "") -> Path:
    """Return ``path`` if it exists, else raise ``MissingPathError`` naming it and ``what`` it is."""
    if not path.exists():
        message = f"{what} not found: expected {path}"
        raise MissingPathError(f"{message}. {hint}" if hint else message)
    return path
