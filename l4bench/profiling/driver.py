"""Drive one in-process vLLM engine step by step and time its steps for chosen batch compositions.

The engine runs in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0) so the profiler can wrap the
engine core's step (the timed region: schedule + model forward + sampling + output update, which ends
with a device-to-host copy of the sampled ids, so GPU work is included) and its scheduler's
schedule() (to read the exact composition vLLM ran). Written against vLLM 0.25 - 0.32 (V1 engine).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l4bench.engines.attention import backend_label
from l4bench.perf.base import BatchShape
from l4bench.profiling.grid import Composition
from l4bench.profiling.prompts import chunk_prompt, decode_slots, slot_tokens
from l4bench.profiling.shape import ScheduledSeq, batch_shape, longest_decode_position

MAX_SETUP_STEPS = 20_000


@dataclass(frozen=True, slots=True)
class StepSample:
    """One measured engine step: core step seconds, whole LLMEngine.step seconds, composition run."""

    core_step_s: float
    engine_step_s: float
    shape: BatchShape
    max_position: float = float("nan")  # where the longest decode sits in the scheduler's order: 0 first, 1 last


def _attention_of_worker(worker: Any) -> tuple[list[str], list[int | None]]:
    """(backend name, FlashAttention version) of every attention layer of one vLLM worker."""
    layers = worker.vllm_config.compilation_config.static_forward_context
    names, versions = [], []
    for layer in layers.values():
        backend = getattr(layer, "attn_backend", None)
        if backend is None:
            continue
        names.append(str(backend.get_name()))
        version = getattr(getattr(layer, "impl", None), "vllm_flash_attn_version", None)
        versions.append(int(version) if version is not None else None)
    return names, versions


class VllmStepDriver:
    """An in-process vLLM engine whose steps are timed one by one (build with `start`)."""

    def __init__(self, llm: Any, vocab_size: int, max_model_len: int, seed: int = 0):
        self.llm = llm
        self.engine = llm.llm_engine
        self.core = self.engine.engine_core.engine_core  # InprocClient -> EngineCore
        self.vocab_size = vocab_size
        self.max_model_len = max_model_len
        self.seed = seed
        self._next_id = 0
        self._next_fresh = 0
        self._last_sched: Any = None
        self._last_core_s = float("nan")
        self._installed = False
        self.last_outputs: list[Any] = []

    @classmethod
    def start(cls, model_dir: Path, engine_kwargs: dict[str, Any], vocab_size: int, seed: int = 0) -> VllmStepDriver:
        """Start vLLM in this process with dummy weights and no tokenizer; install the step probes."""
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        from vllm import LLM

        kwargs = {"load_format": "dummy", "skip_tokenizer_init": True, "seed": seed, **engine_kwargs}
        llm = LLM(model=str(model_dir), **kwargs)
        max_len = int(llm.llm_engine.vllm_config.model_config.max_model_len)
        driver = cls(llm, vocab_size, max_len, seed)
        driver.install_probes()
        return driver

    def install_probes(self) -> None:
        """Wrap the core's step_fn (timing) and the scheduler's schedule (composition capture)."""
        if self._installed:
            return
        if getattr(self.core, "batch_queue", None) is not None:
            raise RuntimeError("profiling needs a synchronous engine core: pass async_scheduling=False")
        scheduler, schedule, step_fn = self.core.scheduler, self.core.scheduler.schedule, self.core.step_fn

        def timed_step() -> Any:
            t0 = time.perf_counter()
            result = step_fn()
            self._last_core_s = time.perf_counter() - t0
            return result

        def capturing_schedule(*args: Any, **kwargs: Any) -> Any:
            out = schedule(*args, **kwargs)
            self._last_sched = out
            return out

        self.core.step_fn = timed_step
        scheduler.schedule = capturing_schedule
        self._installed = True

    def kv_capacity_tokens(self) -> int:
        """KV cache size in tokens as vLLM allocated it (num_gpu_blocks * block_size)."""
        cache = self.engine.vllm_config.cache_config
        return int(cache.num_gpu_blocks) * int(cache.block_size)

    def step(self) -> StepSample:
        """Run one engine step; return its times and the composition the scheduler chose."""
        requests = self.core.scheduler.requests
        prior = {rid: (int(r.num_computed_tokens), int(r.num_prompt_tokens)) for rid, r in requests.items()}
        self._last_sched, self._last_core_s = None, float("nan")
        t0 = time.perf_counter()
        self.last_outputs = self.engine.step()
        engine_s = time.perf_counter() - t0
        seqs = self._seqs(self._last_sched, prior)
        return StepSample(self._last_core_s, engine_s, batch_shape(seqs), longest_decode_position(seqs))

    @staticmethod
    def _seqs(sched: Any, prior: dict[str, tuple[int, int]]) -> list[ScheduledSeq]:
        if sched is None:
            return []
        new_prior = {d.req_id: int(d.num_computed_tokens) for d in sched.scheduled_new_reqs}
        seqs = []
        for rid, num in sched.num_scheduled_tokens.items():
            computed, prompt = prior.get(rid, (0, 0))
            seqs.append(ScheduledSeq(new_prior.get(rid, computed), int(num), prompt))
        return seqs

    def selected_attention(self) -> dict[str, Any]:
        """The attention backend (and FlashAttention version) the model's attention layers really use."""
        try:
            found = self.llm.collective_rpc(_attention_of_worker)
        except Exception as err:  # noqa: BLE001 - recording must never kill a profile
            return {"selected": None, "flash_attn_version": None, "label": None, "error": repr(err)[:200]}
        names, versions = found[0] if found else ([], [])
        selected = names[0] if len(set(names)) == 1 else (",".join(sorted(set(names))) or None)
        version = versions[0] if len(set(versions)) == 1 else None
        return {"selected": selected, "flash_attn_version": version, "label": backend_label(selected, version),
                "num_layers": len(names)}

    def add(self, prompt_ids: list[int], max_tokens: int) -> str:
        """Queue one token-id request that ignores EOS; returns its id."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        rid = f"p{self._next_id}"
        self._next_id += 1
        params = SamplingParams(max_tokens=max_tokens, ignore_eos=True, temperature=0.0, detokenize=False,
                                output_kind=RequestOutputKind.DELTA)
        self.engine.add_request(rid, {"prompt_token_ids": prompt_ids}, params)
        return rid

    def abort(self, request_ids: list[str]) -> None:
        """Drop requests (their KV blocks stay in the prefix cache)."""
        if request_ids:
            self.engine.abort_request(request_ids)

    def _all_prefilled(self) -> bool:
        requests = self.core.scheduler.requests.values()
        return all(r.num_computed_tokens >= r.num_prompt_tokens for r in requests)

    def _step_until(self, done: Any) -> None:
        for _ in range(MAX_SETUP_STEPS):
            if done():
                return
            self.engine.step()
        raise RuntimeError("engine did not reach the requested state; is the batch too big for the KV cache?")

    def start_decodes(self, comp: Composition) -> list[str]:
        """Add the composition's decode requests and step until all of them are decoding."""
        contexts = [ctx for ctx, count in comp.decode_groups for _ in range(count)]
        ids = []
        for ctx, slot in zip(contexts, decode_slots(contexts), strict=True):
            max_tokens = max(16, min(8192, self.max_model_len - ctx - 1))
            ids.append(self.add(slot_tokens(slot, ctx, self.vocab_size, self.seed), max_tokens))
        self._step_until(lambda: self._all_prefilled() and len(self.core.scheduler.requests) > 0)
        return ids

    def measure_decode(self, comp: Composition, warmup_steps: int, measure_steps: int) -> list[StepSample]:
        """Steady decode steps of the composition's batch (after `warmup_steps` untimed ones)."""
        ids = self.start_decodes(comp)
        try:
            for _ in range(warmup_steps):
                self.engine.step()
            return [self.step() for _ in range(measure_steps)]
        finally:
            self.abort(ids)

    def measure_chunk(self, comp: Composition, warmup_steps: int, num_samples: int) -> list[StepSample]:
        """Steps that run one fresh prefill chunk beside the steady decodes (first sample untimed)."""
        ids = self.start_decodes(comp) if comp.num_decodes else []
        try:
            for _ in range(warmup_steps if ids else 0):
                self.engine.step()
            samples = []
            for sample in range(num_samples + 1):
                prompt = chunk_prompt(comp.chunk_prior_tokens, comp.chunk_tokens, self._next_fresh, self.vocab_size,
                                      self.seed)
                self._next_fresh += 1
                rid = self.add(prompt, max_tokens=1)
                if sample > 0:  # sample 0 caches the shared prefix and warms this token count
                    samples.append(self.step())
                self._step_until(lambda: len(self.core.scheduler.requests) <= len(ids))
                self.abort([rid])
            return samples
        finally:
            self.abort(ids)
