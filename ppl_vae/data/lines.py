"""Reading text files line by line with errors that name the file and line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ppl_vae.data.errors import DataError

#: control characters, but for the white space of text (tab, line and page breaks)
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, numbered from 1.

    :raises DataError: if the file is missing, or a line is not valid UTF-8 or holds a control
        character (a NUL byte, say: a binary file, or text damaged on the way).
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
            bad = CONTROL.search(text)
            if bad:
                raise DataError(
                    path, f"control character {bad.group()!r} at column {bad.start() + 1}", lineno
                )
            yield lineno, text.rstrip("\r\n")


#: the names people give the validation split
VALID_NAMES = ("valid", "val", "dev")


def split_files(directory: Path, suffix: str) -> tuple[Path, Path | None, Path]:
    """The ``(train, valid, test)`` files of a corpus directory: ``PREFIXtrain.SUFFIX``,
    ``PREFIXtest.SUFFIX`` and, if there is one, ``PREFIXvalid``, ``PREFIXval`` or
    ``PREFIXdev.SUFFIX``, for any one prefix (``""``, ``"ptb."``, ...).

    :raises DataError: naming the directory, if it has no train and test pair, or several.
    """
    trains = sorted(directory.glob(f"*train.{suffix}"))
    pairs = [t for t in trains if (t.parent / t.name.replace("train.", "test.", 1)).is_file()]
    pairs = [t for t in pairs if t.name.endswith(f"train.{suffix}")]
    if len(pairs) != 1:
        found = ", ".join(t.name for t in pairs) or "none"
        raise DataError(
            directory,
            f"expected one pair of train.{suffix} and test.{suffix} (with one prefix, e.g. "
            f"ptb.train.{suffix}); found {found}",
        )
    train = pairs[0]
    prefix = train.name[: -len(f"train.{suffix}")]
    valid = next(
        (directory / f"{prefix}{n}.{suffix}" for n in VALID_NAMES
         if (directory / f"{prefix}{n}.{suffix}").is_file()),
        None,
    )  # fmt: skip
    return train, valid, directory / f"{prefix}test.{suffix}"
