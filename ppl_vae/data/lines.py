"""Reading text files line by line with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ppl_vae.data.errors import DataError


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, numbered from 1.

    :raises DataError: if the file is missing or a line is not valid UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    path, f"invalid UTF-8 at byte {e.start} of the line ({e.reason})", lineno
                ) from None
            yield lineno, text.rstrip("\r\n")
