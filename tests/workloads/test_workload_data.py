"""Data lookup: data dirs, pinned download into a cache, sha256 checks, helpful errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from l4bench.errors import ConfigError
from l4bench.workloads import data as data_mod
from l4bench.workloads.data import KNOWN_FILES, DataFile, resolve_data_file, sha256_of

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "mooncake_tiny.jsonl"
REL = "mooncake/conversation_trace.jsonl"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No data dir in the environment; the cache in tmp_path/cache; the origin a local file."""
    monkeypatch.delenv("L4BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("L4BENCH_CACHE_DIR", str(tmp_path / "cache"))
    digest = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    monkeypatch.setitem(KNOWN_FILES, REL, DataFile(FIXTURE.as_uri(), digest, "test"))
    return tmp_path


def test_registry_sha256_are_full_and_match_shared_files(data_dir):
    for rel, known in KNOWN_FILES.items():
        assert len(known.sha256) == 64
        assert sha256_of(data_dir / rel) == known.sha256, rel
        assert known.url is None or known.url.startswith("https://raw.githubusercontent.com/")


def test_download_into_cache_then_reuse(isolated):
    path = resolve_data_file(REL, None, "workload.mooncake")
    assert path == isolated / "cache" / REL and path.read_bytes() == FIXTURE.read_bytes()
    assert not list(path.parent.glob("*.part"))
    assert resolve_data_file(REL, None, "workload.mooncake") == path


def test_corrupted_cache_is_fetched_again(isolated):
    cached = isolated / "cache" / REL
    cached.parent.mkdir(parents=True)
    cached.write_text("garbage\n")
    path = resolve_data_file(REL, None, "workload.mooncake")
    assert path == cached and sha256_of(path) == KNOWN_FILES[REL].sha256


def test_download_with_wrong_sha256_is_rejected_and_not_kept(isolated, monkeypatch):
    bad = isolated / "bad.jsonl"
    bad.write_text('{"timestamp": 0}\n')
    monkeypatch.setitem(KNOWN_FILES, REL, DataFile(bad.as_uri(), KNOWN_FILES[REL].sha256, "test"))
    with pytest.raises(ConfigError, match=r"workload.mooncake: download of file://.*has sha256 .*expected"):
        resolve_data_file(REL, None, "workload.mooncake")
    assert not (isolated / "cache" / REL).exists()
    assert not list((isolated / "cache" / "mooncake").glob("*"))


def test_unreachable_origin_is_a_config_error(isolated, monkeypatch):
    missing = (isolated / "absent.jsonl").as_uri()
    monkeypatch.setitem(KNOWN_FILES, REL, DataFile(missing, KNOWN_FILES[REL].sha256, "test"))
    with pytest.raises(ConfigError, match=r"workload.mooncake: could not download"):
        resolve_data_file(REL, None, "workload.mooncake")


def test_data_dir_wins_over_cache_and_env(isolated, monkeypatch):
    d1, d2 = isolated / "d1", isolated / "d2"
    for d in (d1, d2):
        (d / "mooncake").mkdir(parents=True)
        (d / REL).write_bytes(FIXTURE.read_bytes())
    monkeypatch.setenv("L4BENCH_DATA_DIR", str(d2))
    assert resolve_data_file(REL, str(d1), "x") == d1 / REL
    assert resolve_data_file(REL, None, "x") == d2 / REL


def test_unknown_file_error_lists_searched_places(isolated):
    with pytest.raises(ConfigError) as exc:
        resolve_data_file("foo/bar.csv", str(isolated / "dd"), "workload.lengths_csv")
    msg = str(exc.value)
    assert msg.startswith("workload.lengths_csv: cannot find foo/bar.csv")
    assert str(isolated / "dd" / "foo/bar.csv") in msg and "cache" in msg and "L4BENCH_DATA_DIR" in msg


def test_workload_downloads_through_registry(isolated):
    from l4bench.workloads import MooncakeWorkload

    w = MooncakeWorkload()
    reqs = w.load(np.random.default_rng(0))
    assert len(reqs) == 4 and w.describe()["source_file"].startswith(str(isolated / "cache"))


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("L4BENCH_CACHE_DIR", raising=False)
    assert data_mod.cache_dir() == Path.home() / ".cache" / "l4bench"
