"""Load generator against in-process fake backends: timing, completeness, concurrency cap, error records."""

from __future__ import annotations

import asyncio

import pytest

from l4bench.engines.vllm import VllmEngine
from l4bench.live.fake_backend import FakeBackend, FakeBackendConfig
from l4bench.live.loadgen import LoadGenConfig, LoadGenerator
from l4bench.metrics.records import RequestRecord
from l4bench.types import Request

QUIET = LoadGenConfig(show_progress=False, request_timeout_s=10.0, extra_body={"ignore_eos": True})


def _requests(n: int, gap_s: float = 0.01, out: int = 5) -> list[Request]:
    return [Request(i, i * gap_s, 8 + i, out + i % 3, tag=f"t{i % 2}") for i in range(n)]


def _ids(req: Request) -> list[int]:
    return list(range(100, 100 + req.prompt_tokens))


async def _replay(
    cfg: FakeBackendConfig, reqs: list[Request], lg: LoadGenConfig = QUIET, url: str | None = None
) -> tuple[list[RequestRecord], FakeBackend]:
    backend = FakeBackend(cfg)
    base = await backend.start()
    try:
        gen = LoadGenerator(url or base, VllmEngine(), _ids, lg, "rr")
        return await gen.run(reqs), backend
    finally:
        await backend.stop()


def test_every_request_completes_with_exact_tokens_and_sane_times() -> None:
    reqs = _requests(20)
    recs, backend = asyncio.run(_replay(FakeBackendConfig(token_delay_s=0.002), reqs))
    assert [r.request_id for r in recs] == list(range(20))
    for req, rec in zip(reqs, recs, strict=True):
        assert rec.error is None and rec.is_completed, rec.error
        assert rec.num_generated_tokens == req.output_tokens == len(rec.token_times_s)
        assert rec.first_token_s is not None and rec.finish_s is not None
        assert req.arrival_s <= rec.first_token_s == rec.token_times_s[0] <= rec.finish_s
        assert rec.token_times_s == sorted(rec.token_times_s)
        assert (rec.scheduler, rec.tag, rec.prompt_tokens) == ("rr", req.tag, req.prompt_tokens)
    # the body the engine saw: token-id prompt, max_tokens, streaming, ignore_eos
    body = backend.bodies[0]
    assert body["prompt"] == _ids(reqs[0]) and body["stream"] is True and body["ignore_eos"] is True


def test_open_loop_sends_at_arrival_times() -> None:
    reqs = [Request(0, 0.0, 8, 2), Request(1, 0.3, 8, 2)]
    recs, _ = asyncio.run(_replay(FakeBackendConfig(), reqs))
    assert recs[1].first_token_s is not None and 0.3 <= recs[1].first_token_s < 0.6
    assert recs[0].finish_s is not None and recs[0].finish_s < 0.25


def test_max_concurrency_one_serializes_requests() -> None:
    reqs = [Request(i, 0.0, 8, 4) for i in range(4)]
    lg = LoadGenConfig(max_concurrency=1, show_progress=False, request_timeout_s=10.0)
    recs, _ = asyncio.run(_replay(FakeBackendConfig(token_delay_s=0.01), reqs, lg))
    spans = sorted((r.first_token_s, r.finish_s) for r in recs)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # no overlap


def test_crash_mid_stream_gives_error_records_never_lost() -> None:
    reqs = _requests(10, gap_s=0.0, out=20)
    recs, _ = asyncio.run(_replay(FakeBackendConfig(token_delay_s=0.005, fail_after_tokens=30), reqs))
    assert len(recs) == 10 and {r.request_id for r in recs} == set(range(10))
    failed = [r for r in recs if not r.is_completed]
    assert failed and all(r.error for r in failed)
    assert all(("incomplete" in r.error) or ("connection" in r.error) or ("http" in r.error) for r in failed)  # type: ignore[operator]


def test_unreachable_url_and_timeout_are_error_records() -> None:
    recs, _ = asyncio.run(_replay(FakeBackendConfig(), _requests(3), url="http://127.0.0.1:9"))
    assert all(r.error and r.error.startswith("connection error") for r in recs)
    slow = LoadGenConfig(show_progress=False, request_timeout_s=0.2)
    recs, _ = asyncio.run(_replay(FakeBackendConfig(first_token_delay_s=2.0), _requests(2), slow))
    assert all(r.error and r.error.startswith("timeout") for r in recs)


def test_http_error_status_is_recorded() -> None:
    too_long = [Request(0, 0.0, 40, 5)]
    recs, _ = asyncio.run(_replay(FakeBackendConfig(max_model_len=32), too_long))
    assert recs[0].error is not None and recs[0].error.startswith("http 400")


@pytest.mark.parametrize(
    "info", [{"instances": [0, 1], "num_hops": 1, "recomputed_tokens": 12, "stall_s": 0.5, "error": None}]
)
def test_router_info_is_copied_into_the_record(info: dict) -> None:
    from l4bench.live.loadgen import _Stream

    rec = RequestRecord(0, "l4", 0.0, 8, 1)
    st = _Stream(rec, 0.0)
    chunk = {"choices": [{"token_ids": [5], "finish_reason": "length", "text": ""}], "l4bench": info}
    st.add(VllmEngine(), chunk)
    LoadGenerator("http://x", VllmEngine(), _ids)._finish(rec, st)
    assert (
        rec.instances == [0, 1] and rec.num_hops == 1 and rec.recomputed_tokens == 12 and rec.stall_s == 0.5
    )
    assert rec.is_completed
