"""A run directory has one writer, and what a kill leaves behind is cleaned up or read past."""

import json
import multiprocessing
import os
import socket

import pytest

from ppl_vae.training.files import (
    LOCK,
    METRICS,
    RunError,
    RunLock,
    read_metrics,
)


def _hold_lock(run_dir, ready, release):
    with RunLock(run_dir):
        ready.set()
        release.wait(30)


def test_a_second_writer_is_refused_while_the_first_lives(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(RunError, match=f"being written by process {holder.pid}"):
            with RunLock(tmp_path):
                pass
    finally:
        release.set()
        holder.join(30)
    with RunLock(tmp_path):  # free again once the holder is done
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    dead = multiprocessing.get_context("spawn").Process(target=int)
    dead.start()
    dead.join()
    (tmp_path / LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with RunLock(tmp_path):
        pass
    assert "stale lock" in caplog.text


def test_a_lock_from_another_host_is_not_guessed_at(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(RunError, match="locked by process 1 on host elsewhere"):
        with RunLock(tmp_path):
            pass


def test_temporary_files_of_an_interrupted_write_are_removed(tmp_path):
    left = [tmp_path / ".checkpoint.pt.abc123.tmp", tmp_path / ".best.pt.x.tmp"]
    for path in left:
        path.write_bytes(b"partial")
    (tmp_path / "notes.tmp").write_text("not ours")
    with RunLock(tmp_path):
        pass
    assert not any(p.exists() for p in left) and (tmp_path / "notes.tmp").exists()


@pytest.mark.parametrize("kind", ["a-file", "read-only"])
def test_an_unusable_directory_is_one_clear_error(tmp_path, kind):
    target = tmp_path / "out"
    if kind == "a-file":
        target.write_text("")
    else:
        target.mkdir()
        target.chmod(0o500)
        if os.access(target, os.W_OK):  # root ignores the mode
            pytest.skip("running as root: a read-only directory is still writable")
    with pytest.raises(RunError, match="cannot be used as a run directory"):
        with RunLock(target):
            pass


def test_a_cut_off_last_metrics_line_is_read_past_and_a_bad_one_elsewhere_named(tmp_path, caplog):
    (tmp_path / METRICS).write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert read_metrics(tmp_path) == [{"epoch": 1}, {"epoch": 2}]
    assert "line 3 is cut off" in caplog.text
    (tmp_path / METRICS).write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(RunError, match=r"metrics.jsonl: line 2 is not a JSON record"):
        read_metrics(tmp_path)
