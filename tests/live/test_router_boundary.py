"""What the router shows its scheduler of max_tokens: the client's cap, never the emulated stop."""

from __future__ import annotations

import asyncio

import pytest

from l4bench.engines.vllm import VllmEngine
from l4bench.live.loadgen import LoadGenConfig, LoadGenerator
from l4bench.live.router_api import ClientError, client_max_tokens, parse_request
from l4bench.live.router_testing import CyclingTestScheduler, FakeCluster
from l4bench.types import ClusterSpec, Request
from l4bench.workloads.max_tokens import ModelMaxTokens


def parsed(**body):
    return parse_request(
        {"prompt": [1, 2, 3], **body}, is_chat=False, model_name="m", max_model_len=4096,
        default_max_tokens=16, tokenizer=None,
    )


def test_ordinary_client_cap_is_the_body_max_tokens():
    assert client_max_tokens(parsed(max_tokens=100), None) == 100


def test_with_ignore_eos_the_body_max_tokens_is_engine_side_only():
    p = parsed(max_tokens=100, ignore_eos=True)  # the benchmark's emulated EOS = true length
    assert client_max_tokens(p, None) is None
    assert client_max_tokens(p, "4000") == 4000  # the loadgen's header carries the client's cap


@pytest.mark.parametrize("header", ["abc", "50"])
def test_bad_or_inconsistent_cap_header_is_a_400(header):
    with pytest.raises(ClientError) as e:
        client_max_tokens(parsed(max_tokens=100, ignore_eos=True), header)
    assert e.value.status == 400


class CapRecorder(CyclingTestScheduler):
    """Records the max_tokens each routed request shows the scheduler."""

    def __init__(self, cluster):
        super().__init__(cluster)
        self.seen: dict[int, int | None] = {}

    def route(self, req, views, now_s):
        assert not hasattr(req, "output_tokens")
        d = super().route(req, views, now_s)
        self.seen[req.prompt_tokens] = req.max_tokens
        return d


def test_loadgen_through_router_scheduler_sees_the_cap_engine_stops_at_the_true_length():
    """End to end: the engine generates the true length; the scheduler only ever sees the cap."""
    reqs = ModelMaxTokens().assign([Request(i, 0.01 * i, 8 + i, 5 + i) for i in range(4)], 2048)
    reqs.append(Request(4, 0.05, 20, 7))  # a client that sends no cap: the scheduler sees None

    async def go():
        sched = CapRecorder(ClusterSpec(2, 2048, kv_capacity_tokens=100_000))
        async with FakeCluster(num_instances=2, scheduler=sched) as fc:
            lg = LoadGenConfig(show_progress=False, request_timeout_s=10.0, extra_body={"ignore_eos": True})
            recs = await LoadGenerator(fc.url, VllmEngine(), lambda r: list(range(100, 100 + r.prompt_tokens)), lg, "t").run(reqs)
        return sched, recs

    sched, recs = asyncio.run(go())
    assert [r.num_generated_tokens for r in recs] == [r.output_tokens for r in reqs]
    assert all(r.error is None for r in recs)
    assert sched.seen == {r.prompt_tokens: r.max_tokens for r in reqs}
    assert sched.seen[20] is None and sched.seen[8] == 2040
