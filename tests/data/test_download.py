import pytest

from ppl_vae.data import DataError, data_root, load_documents
from ppl_vae.data.download import download_corpus

NEWS = data_root() / "20news"


@pytest.mark.skipif(not (NEWS / "train.feat").exists(), reason=f"no corpus at {NEWS}")
def test_download_from_a_local_mirror_verifies_and_loads(tmp_path):
    target = download_corpus("20news", tmp_path, base_url=NEWS.resolve().as_uri())
    assert len(load_documents(target, valid_fraction=0).test) == 7505
    again = download_corpus("20news", tmp_path, base_url="file:///nonexistent")  # all present
    assert again == target


def test_checksum_mismatch_keeps_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("train.feat", "test.feat", "vocab.new"):
        (mirror / name).write_text("1 1:1\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        download_corpus("20news", tmp_path / "out", base_url=mirror.as_uri())
    assert list((tmp_path / "out" / "20news").iterdir()) == []


def test_unreachable_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="download failed"):
        download_corpus("ptb", tmp_path, base_url=(tmp_path / "missing").as_uri())
