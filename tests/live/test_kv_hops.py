"""KV-transfer hops (engine.kv_transfer=nixl) against fake backends: params round trip, fallbacks, records."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp

from l4bench.engines.vllm import VllmEngine
from l4bench.live.fake_backend import FakeBackendConfig, expected_tokens
from l4bench.live.kv_hops import REMOTE_DECODE_PARAMS, has_blocks
from l4bench.live.router_testing import CyclingTestScheduler, FakeCluster
from l4bench.types import ClusterSpec

PROMPT = list(range(100, 140))  # 40 tokens
KV_ON = {"kv_transfer": "nixl", "kv_bytes_per_token": 128}


def _serve(configs, router, max_tokens=12, hop_every=4, prompt=PROMPT):
    """One non-streamed request through a cycling router that hops every hop_every tokens."""

    async def go():
        sched = CyclingTestScheduler(ClusterSpec(len(configs), 4096, kv_capacity_tokens=100_000), hop_every=hop_every)
        async with FakeCluster(len(configs), backend_configs=configs, router_overrides=router, scheduler=sched) as fc:
            async with aiohttp.ClientSession() as s:
                body = {"model": "fake-model", "prompt": prompt, "max_tokens": max_tokens, "return_token_ids": True}
                async with s.post(fc.url + "/v1/completions", json=body) as resp:
                    doc = await resp.json()
            return doc, fc.backends, fc.router.state.counters

    return asyncio.run(go())


def _ids(doc):
    return doc["choices"][0]["token_ids"]


def test_params_round_trip_between_two_fake_instances():
    cfg = FakeBackendConfig()
    doc, backends, counters = _serve([cfg, cfg], KV_ON)
    assert doc["l4bench"]["error"] is None
    assert _ids(doc) == expected_tokens(PROMPT, 12)  # the hop chain continues the same sequence
    info = doc["l4bench"]
    assert info["instances"] == [0, 1, 0]
    assert [h["mode"] for h in info["hops"]] == ["kv_transfer", "kv_transfer"]
    assert [h["at_tokens"] for h in info["hops"]] == [44, 48]
    assert [h["kv_bytes_estimate"] for h in info["hops"]] == [44 * 128, 48 * 128]
    assert all(h["stall_s"] is not None and h["stall_s"] >= 0 for h in info["hops"])
    assert counters.kv_hops == 2 and counters.kv_fallbacks == 0
    # the source got a non-streamed max_tokens=1 handoff asking to keep its blocks ...
    handoff = [b for b in backends[0].bodies if b.get("kv_transfer_params", {}).get("do_remote_decode")]
    assert len(handoff) == 1 and handoff[0]["stream"] is False and handoff[0]["max_tokens"] == 1
    assert handoff[0]["prompt"] == PROMPT + _ids(doc)[:4]
    assert handoff[0]["kv_transfer_params"] == REMOTE_DECODE_PARAMS
    # ... and the destination the params it returned, with the same context as its prompt
    pulled = [b for b in backends[1].bodies if "kv_transfer_params" in b and b["stream"]]
    assert len(pulled) == 1 and pulled[0]["prompt"] == handoff[0]["prompt"]
    params = pulled[0]["kv_transfer_params"]
    assert params["do_remote_prefill"] is True and params["remote_engine_id"] == backends[0].kv.engine_id
    assert has_blocks(params)
    assert backends[1].kv.stats["pulled_tokens"] == 44 and backends[0].kv.stats["pulled_tokens"] == 48
    assert all(b.kv.num_held() == 0 for b in backends)  # every held context was pulled (freed)
    assert info["recomputed_tokens"] == 2  # one token per KV hop, not the context


def test_pull_failure_falls_back_to_recompute_on_the_same_destination():
    """Fails if the fallback is removed: the hop would fail over (or error) instead of resending there."""
    good = FakeBackendConfig(kv_lease_s=0.3)
    bad = dataclasses.replace(good, kv_failure="pull")
    doc, backends, counters = _serve([good, bad], KV_ON, max_tokens=8)
    info = doc["l4bench"]
    assert info["error"] is None and _ids(doc) == expected_tokens(PROMPT, 8)
    assert info["instances"] == [0, 1]
    assert info["hops"][0]["mode"] == "recompute_fallback" and "KV transfer failed" in info["hops"][0]["reason"]
    assert info["hops"][0]["kv_bytes_estimate"] == 0
    assert counters.kv_fallbacks == 1 and counters.kv_hops == 0 and counters.failovers == 0
    resent = [b for b in backends[1].bodies if b["stream"]]
    assert "kv_transfer_params" in resent[0] and "kv_transfer_params" not in resent[1]
    assert resent[1]["prompt"] == resent[0]["prompt"]
    assert info["recomputed_tokens"] == 1 + 44
    assert backends[0].kv.num_held() == 1  # not pulled: held on the source until its lease ends
    asyncio.run(asyncio.sleep(0.35))
    assert backends[0].kv.num_held() == 0 and backends[0].kv.stats["expired"] == 1


def test_handoff_without_params_recomputes_without_sending_params():
    bad = FakeBackendConfig(kv_failure="handoff")
    doc, backends, counters = _serve([bad, FakeBackendConfig()], KV_ON, max_tokens=8)
    info = doc["l4bench"]
    assert info["error"] is None and _ids(doc) == expected_tokens(PROMPT, 8)
    assert info["hops"][0]["mode"] == "recompute_fallback" and "no kv_transfer_params" in info["hops"][0]["reason"]
    assert counters.kv_fallbacks == 1
    assert all("kv_transfer_params" not in b for b in backends[1].bodies)


def test_kv_transfer_off_sends_exactly_the_recompute_bodies():
    cfg = FakeBackendConfig()
    doc, backends, counters = _serve([cfg, cfg], {})
    info = doc["l4bench"]
    assert [h["mode"] for h in info["hops"]] == ["recompute", "recompute"]
    assert all(h["kv_bytes_estimate"] == 0 for h in info["hops"])
    adapter, out = VllmEngine(), _ids(doc)
    want0 = [adapter.completion_body(PROMPT, 4, True, {}), adapter.completion_body(PROMPT + out[:8], 4, True, {})]
    assert backends[0].bodies == want0  # no handoff request, no kv_transfer_params: today's bodies
    assert backends[1].bodies == [adapter.completion_body(PROMPT + out[:4], 4, True, {})]
    assert counters.kv_hops == counters.kv_fallbacks == 0
    assert info["recomputed_tokens"] == 44 + 48


def test_kv_hop_skips_the_destination_prefill_and_stalls_less():
    """With a per-token prefill cost, a recompute hop stalls for the context's prefill; a KV hop does not."""
    cfg = FakeBackendConfig(prefill_s_per_token=0.002)
    prompt = list(range(1000, 1200))  # 200 tokens: a recompute hop prefills ~0.4 s
    kv, _, _ = _serve([cfg, cfg], KV_ON, max_tokens=6, hop_every=3, prompt=prompt)
    re, _, _ = _serve([cfg, cfg], {}, max_tokens=6, hop_every=3, prompt=prompt)
    kv_stall = kv["l4bench"]["hops"][0]["stall_s"]
    re_stall = re["l4bench"]["hops"][0]["stall_s"]
    assert re_stall >= 0.002 * 203 * 0.9
    assert kv_stall < re_stall / 4
    assert _ids(kv) == _ids(re) == expected_tokens(prompt, 6)
