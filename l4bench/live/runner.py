"""LiveRunner: the `engine=vllm|sglang|attach` counterpart of the simulator.

``run(requests, scheduler)`` replays the workload through a live cluster once per scheduler, exactly
like the simulator: l4bench's RouterServer drives a GlobalScheduler; an ExternalRouter (vllm-router,
sglang-router) is started in front of the same instances instead. The engine cluster starts lazily
on the first run and stays up across schedulers (``close()`` or the context manager tears it down);
before each scheduler the runner waits until every instance is idle and resets the prefix cache, so
no scheduler inherits another's queue or cache. An optional fault kills one instance mid-replay and
the result counts what happened to the requests in flight (see faults.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from l4bench.engines.base import EngineAdapter
from l4bench.engines.vllm import VllmEngine
from l4bench.errors import ConfigError
from l4bench.live.drain import drain_and_reset
from l4bench.live.endpoint import Endpoint
from l4bench.live.external import ExternalRouter
from l4bench.live.faults import FaultPlan, fault_report
from l4bench.live.interpreter import engine_python
from l4bench.live.kv_hops import kv_settings
from l4bench.live.launchers import (
    AttachLauncher,
    Launcher,
    LocalClusterSpec,
    LocalLauncher,
    instance_devices,
    visible_devices,
)
from l4bench.live.loadgen import LoadGenConfig, LoadGenerator
from l4bench.live.timeline import record_timeline
from l4bench.live.versions import engine_version
from l4bench.metrics.records import RequestRecord, RunResult
from l4bench.types import ClusterSpec, Request

log = logging.getLogger("l4bench.live")

LAUNCHERS = ("local", "attach", "ray")


class LiveRunner:
    """Runs schedulers against a live engine cluster (started here, on Ray, or attached).

    Args (YAML keys of conf/engine/{vllm,sglang,attach}.yaml; the rest come from the CLI):
        adapter: the EngineAdapter (VllmEngine, SglangEngine).
        python: the python that starts engine servers; null: this interpreter if it imports the engine,
            else $L4BENCH_ENGINE_PYTHON (l4bench.live.interpreter).
        launcher: local | attach | ray.
        urls: attach only: the instances' base URLs.
        engine_args: engine CLI flags ({"load-format": "dummy", "enforce-eager": true, ...}).
        env: environment of every engine process.
        devices: per instance, the value of device_env_var (GPU lists "0" / "0,1"); null: unset, or
            from gpus_per_instance.
        gpus_per_instance: local launcher: GPUs per instance, whole (1, 2: tensor parallel) or 1/k
            (0.5: two instances share each GPU, started one after the other); sets devices.
        gpu_memory_utilization: the fraction of a GPU's memory one instance may use (engine flag).
        device_env_var: CUDA_VISIBLE_DEVICES (GPU) or VLLM_CPU_OMP_THREADS_BIND (vLLM CPU build).
        ready_timeout_s, idle_timeout_s: waits for startup and for instances to drain between schedulers.
        max_concurrency, request_timeout_s, show_progress: load generator settings.
        router: RouterConfig overrides for l4bench's own router.
        ray: RayLauncher options (address, num_gpus_per_instance, num_cpus_per_instance, strategy).
        fault: {"instance": i, "at_s": t} kills instance i t seconds into every replay (fault test).
        log_dir: server logs (default <out_dir>/logs).
        router_python: python that runs external routers (default: python).
        model_path: what the engine loads (HF id / checkpoint dir for real weights); default: the
            architecture-only model dir, for load-format dummy.
        attention_backend: the engine's attention backend (vLLM: FLASH_ATTN, TRITON_ATTN, FLASH_ATTN_2,
            ...; SGLang: triton, flashinfer, ...); null: its default. Recorded with what it selected.
        kv_transfer: nixl: instances get vLLM's NixlConnector and bound hops pull the source's KV
            (kv_hops.py); null: hops recompute. migration (from the CLI): the cost model L4 prices
            hops by; its mode must match.
        timeline_interval_s: l4bench's router only: every this many seconds of a replay, the
            scheduler's snapshot() (L4: boundaries, stage sizes, loads) and each instance's running
            requests and context tokens go into the run's timeline (timeline.json), as the simulator
            records them; null or <= 0: none.
    """

    def __init__(
        self,
        cluster: ClusterSpec,
        model_dir: Path | str,
        model_name: str,
        out_dir: Path | str,
        adapter: EngineAdapter,
        *,
        python: str | None = None,
        launcher: str = "local",
        urls: list[str] | None = None,
        engine_args: dict[str, Any] | None = None,
        env: dict[str, Any] | None = None,
        devices: list[str | None] | None = None,
        device_env_var: str = "CUDA_VISIBLE_DEVICES",
        gpus_per_instance: float | None = None,
        gpu_memory_utilization: float | None = None,
        ready_timeout_s: float = 900.0,
        idle_timeout_s: float = 300.0,
        max_concurrency: int | None = None,
        request_timeout_s: float = 1800.0,
        show_progress: bool = True,
        router: dict[str, Any] | None = None,
        ray: dict[str, Any] | None = None,
        fault: dict[str, Any] | None = None,
        log_dir: str | None = None,
        router_python: str | None = None,
        model_path: str | None = None,
        attention_backend: str | None = None,
        kv_transfer: str | None = None,
        migration: Any = None,
        perf: Any = None,
        rng: np.random.Generator | None = None,
        timeline_interval_s: float | None = 10.0,
    ):
        if launcher not in LAUNCHERS:
            raise ConfigError(f"engine.launcher: unknown '{launcher}'; valid: {', '.join(LAUNCHERS)}")
        self.cluster = cluster
        self.timeline_interval_s = timeline_interval_s if timeline_interval_s and timeline_interval_s > 0 else None
        self.model_dir = Path(model_dir)
        self.model_name = model_name
        self.out_dir = Path(out_dir)
        self.adapter = adapter
        if devices is not None and gpus_per_instance is not None:
            raise ConfigError("engine.devices and engine.gpus_per_instance: set one of them, not both")
        self.adapter.attention_flags(attention_backend)  # a bad name fails first, before the python lookup
        self.adapter.kv_transfer_flags(kv_transfer)
        self.kv_transfer = kv_transfer
        self._kv_router, self._kv_facts = kv_settings(kv_transfer, migration, self.model_dir, dict(engine_args or {}))
        self._python = python
        self._router_python = router_python
        if launcher != "attach":
            self._python = self.python  # a missing engine python is one ConfigError line, before any work
        self.model_path = model_path or str(self.model_dir)  # real weights: a HF id or checkpoint dir
        self.launcher_kind = launcher
        self.urls = list(urls or [])
        self.engine_args = dict(engine_args or {})
        self.attention_backend = attention_backend
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.devices = devices
        self.device_env_var = device_env_var
        self.gpus_per_instance = gpus_per_instance
        self.gpu_memory_utilization = gpu_memory_utilization
        self._device_list = self._devices() if launcher == "local" else None  # bad fit: ConfigError now
        self.ready_timeout_s = ready_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.loadgen = LoadGenConfig(
            max_concurrency, request_timeout_s, show_progress, {"ignore_eos": True, "temperature": 0.0}
        )
        self.router_overrides = dict(router or {})
        self.ray_options = dict(ray or {})
        self.fault = FaultPlan(**fault) if fault else None
        self.log_dir = Path(log_dir) if log_dir else self.out_dir / "logs"
        self._launcher: Launcher | None = None
        self._endpoints: list[Endpoint] = []
        self._facts: dict[str, Any] = {}

    # ---- cluster lifecycle -------------------------------------------------------------------
    @property
    def python(self) -> str:
        """The interpreter that starts engine servers (resolved on first use, see interpreter.py)."""
        if self._python is None or not os.path.isabs(self._python):
            module = self.adapter.python_module or self.adapter.name
            self._python = engine_python(module, self._python)
        return self._python

    def _python_if_any(self) -> str | None:
        """The engine python if one resolves (attached clusters need none), else None."""
        try:
            return self.python
        except ConfigError:
            return None

    @property
    def router_python(self) -> str:
        """The interpreter that runs external routers (default: the engine's)."""
        return self._router_python or self.python

    def _devices(self) -> tuple[str | None, ...] | None:
        """Per-instance device values: engine.devices, or derived from engine.gpus_per_instance."""
        if self.gpus_per_instance is not None:
            visible = visible_devices(self.device_env_var)
            return instance_devices(self.cluster.num_instances, self.gpus_per_instance, visible)
        return tuple(self.devices) if self.devices is not None else None

    def _served_name(self) -> str:
        return str(getattr(self.adapter, "served_model_name", None) or self.model_name)

    def _make_launcher(self) -> Launcher:
        """The launcher object for this config (not started)."""
        if getattr(self.adapter, "served_model_name", "unset") is None:
            self.adapter.served_model_name = self.model_name  # type: ignore[attr-defined]
        if self.launcher_kind == "attach":
            return AttachLauncher(self.urls, self.adapter.health_path, self.ready_timeout_s)
        span = int(self.gpus_per_instance) if (self.gpus_per_instance or 0) >= 1 else 1
        args = {
            "max-model-len": self.cluster.max_model_len,
            "max-num-seqs": self.cluster.max_num_seqs,
            "max-num-batched-tokens": self.cluster.max_num_batched_tokens,
            **self.adapter.attention_flags(self.attention_backend),
            **self.adapter.kv_transfer_flags(self.kv_transfer),
            **self.adapter.placement_args(span, self.gpu_memory_utilization),
            **self.engine_args,
        }
        env = self.adapter.launch_env(self.env)
        if self.launcher_kind == "ray":
            from l4bench.live.ray_launcher import RayLauncher

            return RayLauncher(
                self.adapter,
                self.python,
                self.model_path,
                self.cluster.num_instances,
                args,
                env,
                self.log_dir,
                self.ready_timeout_s,
                **self.ray_options,
            )

        def command(instance_id: int, port: int) -> list[str]:
            """argv of one instance on its port."""
            return self.adapter.launch_command(self.python, self.model_path, port, args)

        devices = self._device_list
        shared = devices is not None and len(set(devices)) < len(devices)
        spec = LocalClusterSpec(
            command=command,
            num_instances=self.cluster.num_instances,
            log_dir=self.log_dir,
            env=env,
            devices=devices,
            device_env_var=self.device_env_var,
            health_path=self.adapter.health_path,
            ready_timeout_s=self.ready_timeout_s,
            serial_start=shared and self.device_env_var == "CUDA_VISIBLE_DEVICES",
        )
        return LocalLauncher(spec)

    def start(self) -> list[Endpoint]:
        """Start (or attach to) the cluster if it is not up; returns its endpoints."""
        if self._launcher is None:
            launcher = self._make_launcher()
            t0 = time.monotonic()
            self._endpoints = launcher.start()
            self._launcher = launcher
            self._facts = {
                **launcher.describe(),
                "engine": self.adapter.name,
                "engine_version": engine_version(self.adapter.name, self._python_if_any(), self._endpoints[0].url),
                "instance_urls": [e.url for e in self._endpoints],
                "startup_s": round(time.monotonic() - t0, 1),
                "attention_backend": {"requested": self.attention_backend, **self._selected_attention()},
                "kv_transfer": self._kv_facts,
            }
            log.info("live cluster up: %s", self._facts)
        return self._endpoints

    def _selected_attention(self) -> dict[str, Any]:
        """The backend the instances' logs say they selected (read from log_dir; attached: unknown)."""
        logs = sorted(self.log_dir.glob("instance-*.log")) if self.launcher_kind != "attach" else []
        seen = [self.adapter.selected_attention(p.read_text(errors="replace")) for p in logs]
        found = [s for s in seen if s.get("selected")]
        if not found:
            return {"selected": None, "flash_attn_version": None, "label": None,
                    "source": "attached: not visible" if self.launcher_kind == "attach" else "not in the logs"}
        labels = sorted({str(s["label"]) for s in found})
        return {**found[0], "label": labels[0] if len(labels) == 1 else ",".join(labels),
                "source": f"{len(found)} instance logs"}

    def close(self) -> None:
        """Tear the cluster down (idempotent)."""
        if self._launcher is not None:
            self._launcher.stop()
        self._launcher = None
        self._endpoints = []

    def __enter__(self) -> LiveRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- one scheduler -----------------------------------------------------------------------
    def run(self, requests: list[Request], scheduler: Any) -> RunResult:
        """Replay requests through the cluster with this scheduler (or external router)."""
        endpoints = self.start()
        name = str(getattr(scheduler, "name", type(scheduler).__name__))
        t0 = time.monotonic()
        timeline: list[dict[str, Any]] = []
        records, fault_info, router_facts = asyncio.run(
            self._run_async(requests, scheduler, endpoints, name, timeline)
        )
        result = RunResult(scheduler=name, records=records, duration_s=_duration_s(records), timeline=timeline)
        result.extra = {**self._facts, **router_facts, "wall_s": round(time.monotonic() - t0, 2)}
        if fault_info is not None:
            result.extra["fault"] = fault_info
            self.close()  # the killed instance is gone: the next scheduler gets a fresh cluster
        return result

    async def _run_async(
        self, requests: list[Request], scheduler: Any, endpoints: list[Endpoint], name: str,
        timeline: list[dict[str, Any]] | None = None,
    ) -> tuple[list[RequestRecord], dict[str, Any] | None, dict[str, Any]]:
        """Drain + reset the instances, bring the router up, replay (snapshots into timeline), bring it down."""
        facts = await drain_and_reset(self.adapter, endpoints, self.idle_timeout_s)
        router: Any = None
        loadgen = self.loadgen
        if isinstance(scheduler, ExternalRouter):
            if scheduler.needs_text_prompts and any(r.prompt_text is None for r in requests):
                self._check_text_prompts(scheduler.name)
                loadgen = dataclasses.replace(loadgen, ids_as_text=True)
                facts["prompts"] = "text form of the token ids"
            url = await asyncio.to_thread(
                scheduler.start, self.router_python, [e.url for e in endpoints], self.log_dir
            )
            facts.update(scheduler.describe())
        else:
            from l4bench.live.router import RouterConfig
            from l4bench.live.router_setup import open_router

            cfg = RouterConfig(
                model_name=self._served_name(),
                max_model_len=self.cluster.max_model_len,
                **{**self._kv_router, **self.router_overrides},
            )
            router = await open_router(endpoints, scheduler, self.adapter, cfg)  # as l4bench-router does
            url = router.url
            facts["router"] = "l4bench"
            if callable(reads := getattr(scheduler, "reads", None)):
                facts["scheduler_reads"] = reads()
            facts["router_kv_capacity_tokens"] = router.state.kv_capacity_tokens
        # l4bench's router speaks the OpenAI completions API whatever the engine behind it; an external
        # router takes the engine's own API (sglang-router: SGLang's /generate)
        client = self.adapter if isinstance(scheduler, ExternalRouter) else VllmEngine(self._served_name())
        gen = LoadGenerator(url, client, self._token_ids_fn(), loadgen, name)
        fault_task = asyncio.create_task(self._inject_fault(gen)) if self.fault is not None else None
        timeline_task = None
        if router is not None and timeline is not None and self.timeline_interval_s is not None:
            timeline_task = asyncio.create_task(record_timeline(router, scheduler, self.timeline_interval_s, timeline))
        try:
            records = await gen.run(requests)
        finally:
            for task in (fault_task, timeline_task):
                if task is not None:
                    task.cancel()
            if router is not None:
                await router.stop()
            else:
                await asyncio.to_thread(scheduler.stop)
        fault_info = None
        if self.fault is not None and fault_task is not None and fault_task.done() and not fault_task.cancelled():
            fault_info = fault_report(requests, records, self.fault, fault_task.result())
        return records, fault_info, facts

    async def _inject_fault(self, gen: LoadGenerator) -> dict[str, Any]:
        """Kill the planned instance at its time; returns the in-flight set at the kill."""
        assert self.fault is not None and self._launcher is not None
        while gen.t0 is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(max(0.0, self.fault.at_s - gen.now_s()))
        in_flight = sorted(gen.in_flight)
        kill_s = gen.now_s()
        await asyncio.to_thread(self._launcher.kill_instance, self.fault.instance)
        log.warning("fault: killed instance %d at %.2f s with %d requests in flight",
                    self.fault.instance, kill_s, len(in_flight))
        return {"kill_s": kill_s, "in_flight": in_flight}

    def _check_text_prompts(self, name: str) -> None:
        """A text-only router needs engines that tokenize with the word-level t<id> vocabulary."""
        if self.engine_args.get("skip-tokenizer-init"):
            raise ConfigError(
                f"scheduler={name}: sends text prompts, but engine.engine_args.skip-tokenizer-init is "
                "true; valid: skip-tokenizer-init: false (see conf/experiment/smoke_live.yaml)"
            )
        tok = self.model_dir / "tokenizer.json"
        word_level = tok.exists() and json.loads(tok.read_text())["model"]["type"] == "WordLevel"
        if self.model_path != str(self.model_dir) or not word_level:
            raise ConfigError(
                f"scheduler={name}: its text prompts ('t<id> ...') map 1:1 to token ids only with "
                "tiny-llama's word-level tokenizer (scripts/make_tiny_tokenizer.py); valid: model=tiny-llama"
            )

    def _token_ids_fn(self) -> Any:
        """Deterministic prompt ids for the model's vocabulary."""
        from l4bench.workloads.tokens import prompt_token_ids

        vocab = int(json.loads((self.model_dir / "config.json").read_text())["vocab_size"])
        return lambda req: prompt_token_ids(req, vocab)


def _duration_s(records: list[RequestRecord]) -> float:
    """First arrival to last finish (or last token, for runs where nothing finished)."""
    if not records:
        return 0.0
    start = min(r.arrival_s for r in records)
    ends = [r.finish_s for r in records if r.finish_s is not None] + [
        r.token_times_s[-1] for r in records if r.token_times_s
    ]
    return max(ends) - start if ends else 0.0
