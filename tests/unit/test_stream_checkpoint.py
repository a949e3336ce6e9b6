"""FileCheckpoint: atomic, durable replacement; a crash mid-save leaves the previous token whole."""
import os

import pytest

from bloop.stream.checkpoint import FileCheckpoint

TOKEN = {"stream_arn": "arn", "active": ["s"], "shards": [{"shard_id": "s", "iterator_type": "trim_horizon"}]}


def test_nothing_saved_loads_as_none_then_round_trips(tmp_path):
    store = FileCheckpoint(tmp_path / "token.json")
    assert store.load() is None
    store.save(TOKEN)
    assert store.load() == TOKEN
    assert os.listdir(tmp_path) == ["token.json"]


def test_a_crash_before_the_rename_keeps_the_old_token_and_no_temporary_file(tmp_path, monkeypatch):
    store = FileCheckpoint(tmp_path / "token.json")
    store.save(TOKEN)

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        store.save({"stream_arn": "new", "active": [], "shards": []})
    assert store.load() == TOKEN
    assert os.listdir(tmp_path) == ["token.json"]


def test_the_data_and_the_rename_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    FileCheckpoint(tmp_path / "token.json").save(TOKEN)
    assert len(synced) == 2  # the temporary file, then its directory
