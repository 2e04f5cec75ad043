"""Errors raised for bad input files."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A corpus, vocabulary or checkpoint file that cannot be used as it is.

    The message always names the file and, where there is one, the line.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
