"""Synthetic prompt token ids: exact length, safe range, shared prefixes, determinism, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from l4bench.types import Request
from l4bench.workloads.tokens import MIN_TOKEN_ID, RESERVED_TOP_IDS, prompt_token_ids

VOCAB = 128256


def _req(rid: int, n: int, hashes: tuple[int, ...] = ()) -> Request:
    return Request(request_id=rid, arrival_s=0.0, prompt_tokens=n, output_tokens=8, prefix_hash_ids=hashes)


@pytest.mark.parametrize("n", [1, 511, 512, 513, 5000])
def test_exact_length_and_safe_range(n):
    ids = prompt_token_ids(_req(3, n, tuple(range(-(-n // 512)))), VOCAB)
    assert len(ids) == n
    assert min(ids) >= MIN_TOKEN_ID and max(ids) < VOCAB - RESERVED_TOP_IDS


def test_equal_leading_hashes_give_equal_leading_ids():
    a = prompt_token_ids(_req(0, 2000, (7, 8, 9, 10)), VOCAB)
    b = prompt_token_ids(_req(1, 1300, (7, 8, 11)), VOCAB)
    assert a[:1024] == b[:1024]  # blocks 7, 8 shared
    assert a[1024:1300] != b[1024:1300]  # block 9 vs 11
    c = prompt_token_ids(_req(2, 700, (7,)), VOCAB)  # one hash, then an id-derived block
    assert c[:512] == a[:512] and c[512:] != a[512:700]


def test_without_hashes_ids_depend_on_request_id_only():
    a1 = prompt_token_ids(_req(5, 1000), VOCAB)
    a2 = prompt_token_ids(_req(5, 1000), VOCAB)
    b = prompt_token_ids(_req(6, 1000), VOCAB)
    assert a1 == a2 and a1 != b
    assert prompt_token_ids(_req(5, 600), VOCAB) == a1[:600]
    assert len(set(a1)) > 900  # not a constant filler


def test_hash_blocks_differ_from_id_blocks():
    assert prompt_token_ids(_req(0, 512, (0,)), VOCAB) != prompt_token_ids(_req(0, 512), VOCAB)


def test_mooncake_fixture_prefix_sharing(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from l4bench.workloads import MooncakeWorkload

    monkeypatch.delenv("L4BENCH_DATA_DIR", raising=False)
    (tmp_path / "mooncake").mkdir()
    shutil.copy(
        Path(__file__).resolve().parents[1] / "data" / "mooncake_tiny.jsonl",
        tmp_path / "mooncake" / "conversation_trace.jsonl",
    )
    reqs = MooncakeWorkload(data_dir=str(tmp_path)).load(np.random.default_rng(0))
    ids = [prompt_token_ids(r, VOCAB) for r in reqs]
    assert ids[0][:1024] == ids[1][:1024] and ids[0][1024:1100] != ids[1][1024:1100]
    assert ids[0][:512] == ids[3][:512] and ids[0][512:1024] != ids[3][512:1024]


def test_100k_prompt_is_fast():
    req = _req(0, 100_000, tuple(range(100)))
    prompt_token_ids(req, VOCAB)
    t0 = time.perf_counter()
    for _ in range(5):
        prompt_token_ids(req, VOCAB)
    assert (time.perf_counter() - t0) / 5 < 0.02  # ~3 ms measured on a 2-core VM


def test_tiny_vocab_rejected():
    with pytest.raises(ValueError, match="vocab_size"):
        prompt_token_ids(_req(0, 10), 1000)
