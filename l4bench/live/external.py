"""External baseline routers (vllm-router, sglang-router, smg) as selectable "schedulers" of live runs.

An ``ExternalRouter`` is what conf/scheduler/vllm_router_*.yaml and sglang_router.yaml build. It is
not a GlobalScheduler: the live runner sees it and starts the external router process in front of
the same engine instances instead of l4bench's own RouterServer, replays through it, and stops it.
The simulator cannot run it: every scheduler hook raises ConfigError naming the live engines.
Pins and notes: baselines/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from l4bench.engines.base import flag_args
from l4bench.errors import ConfigError
from l4bench.live.launchers import LaunchError, http_ok
from l4bench.live.procs import ManagedProcess, free_port

#: kind -> (python module run with `python -m`, valid policies of the pinned version)
ROUTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vllm_router": (
        "vllm_router.launch_router",
        (
            "random",
            "round_robin",
            "cache_aware",
            "kv_aware",
            "power_of_two",
            "consistent_hash",
            "sticky_least_loaded",
        ),
    ),
    "sglang_router": (
        "sglang_router.launch_router",
        ("random", "round_robin", "cache_aware", "power_of_two"),
    ),
    # smg 1.13.0 (SGLang Model Gateway, `smg launch`): a console script, not a module (see smg_bin);
    # its regular-mode policies (bucket is prefill-only, for prefill/decode disaggregation)
    "smg": (
        "smg",
        ("random", "round_robin", "cache_aware", "power_of_two", "least_load", "consistent_hashing",
         "prefix_hash"),
    ),
}

#: Routers whose OpenAI routes reject token-id prompts ("StringOrArray": sglang-router 0.3.2, smg 1.13.0).
TEXT_ONLY_ROUTERS = frozenset({"sglang_router", "smg"})

#: smg only: a free metrics port (its default 29000 would clash between runs) and a 1 s worker
#: health poll at startup (default 30 s: every run would wait that long for its first worker).
_SMG_ARGS: dict[str, Any] = {"worker-startup-check-interval": 1}


def smg_bin(python: str) -> str:
    """The `smg` executable: $L4BENCH_SMG_BIN, else smg on PATH, else next to python (same venv)."""
    found = os.environ.get("L4BENCH_SMG_BIN") or shutil.which("smg")
    if found:
        return found
    beside = Path(python).parent / "smg"
    if beside.exists():
        return str(beside)
    raise ConfigError(
        "scheduler smg_*: no smg executable; valid: bash scripts/setup_smg.sh, then "
        "export L4BENCH_SMG_BIN=$PWD/.venv-smg/bin/smg (or put smg on PATH)"
    )

# Never let the baseline's own admission limits (defaults: 100-entry queue, 60 s timeout) reject
# requests that l4bench's router would accept: the comparison is about placement, not admission.
_DEFAULT_ARGS: dict[str, Any] = {
    "max-concurrent-requests": 4096,
    "queue-size": 4096,
    "queue-timeout-secs": 600,
    "request-timeout-secs": 1800,
    "log-level": "error",  # every pinned router accepts it; per-request info logs would dwarf the run
}


class ExternalRouter:
    """An external router process (kind + policy), started in front of a live cluster's instances.

    Args:
        kind: vllm_router or sglang_router.
        policy: that router's load-balancing policy (validated against the pinned version's list).
        args: extra router CLI flags, {"cache-threshold": 0.5, ...} (True -> bare flag).
        name: label in results (default: <kind>_<policy>).
        ready_timeout_s: how long the router may take to report ready.
    """

    rebalance_interval_s: float | None = None

    def __init__(
        self,
        kind: str,
        policy: str,
        args: dict[str, Any] | None = None,
        name: str | None = None,
        ready_timeout_s: float = 120.0,
    ):
        if kind not in ROUTERS:
            raise ConfigError(
                f"scheduler.kind: unknown external router '{kind}'; valid: {', '.join(ROUTERS)}"
            )
        policies = ROUTERS[kind][1]
        if policy not in policies:
            raise ConfigError(
                f"scheduler.policy: '{policy}' is not a {kind} policy; valid: {', '.join(policies)}"
            )
        self.kind = kind
        self.policy = policy
        self.args = {**_DEFAULT_ARGS, **(args or {})}
        self.name = name or f"{kind}_{policy}"
        self.ready_timeout_s = ready_timeout_s
        self.proc: ManagedProcess | None = None
        self.url: str | None = None

    @property
    def needs_text_prompts(self) -> bool:
        """True if this router takes text prompts only (the load generator sends the text form)."""
        return self.kind in TEXT_ONLY_ROUTERS

    def command(
        self, python: str, worker_urls: Sequence[str], port: int, host: str = "127.0.0.1"
    ) -> list[str]:
        """The router's argv for these workers."""
        module = ROUTERS[self.kind][0]
        if self.kind == "smg":
            args = {**_SMG_ARGS, "prometheus-port": free_port(), **self.args}
            base = [smg_bin(python), "launch", "--host", host, "--port", str(port), "--policy", self.policy]
            return base + ["--worker-urls", *worker_urls] + flag_args(args)
        base = [python, "-m", module, "--host", host, "--port", str(port), "--policy", self.policy]
        return base + ["--worker-urls", *worker_urls] + flag_args(self.args)

    def start(self, python: str, worker_urls: Sequence[str], log_dir: Path) -> str:
        """Start the router process and wait until it reports every worker healthy; returns its URL."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} already started")
        port = free_port()
        self.proc = ManagedProcess(
            self.name, self.command(python, worker_urls, port), dict(os.environ), log_dir / f"{self.name}.log"
        )
        self.proc.start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.ready_timeout_s
        while not _ready(self.url, len(worker_urls)):
            if not self.proc.is_running():
                tail = self.proc.log_tail()
                self.stop()
                raise LaunchError(f"{self.name} exited during startup:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise LaunchError(f"{self.name} not ready after {self.ready_timeout_s:.0f} s")
            time.sleep(0.3)
        return self.url

    def stop(self) -> None:
        """Stop the router process (idempotent)."""
        if self.proc is not None:
            self.proc.stop(grace_s=5.0)
        self.proc = None
        self.url = None

    def describe(self) -> dict[str, Any]:
        """Facts for RunResult.extra."""
        return {"external_router": self.kind, "policy": self.policy, "router_args": dict(self.args)}

    def _reject(self) -> ConfigError:
        return ConfigError(
            f"scheduler={self.name}: external routers run only in live experiments "
            "(engine=vllm|sglang|attach), not in the simulator; valid here: l4bench's own schedulers"
        )

    def route(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: the simulator cannot run an external router."""
        raise self._reject()

    def on_bound(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: the simulator cannot run an external router."""
        raise self._reject()

    def rebalance(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: the simulator cannot run an external router."""
        raise self._reject()

    def on_finish(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: the simulator cannot run an external router."""
        raise self._reject()


def _ready(url: str, num_workers: int) -> bool:
    """The router's /readiness says every worker is healthy (/health only where there is no /readiness).

    Its /health answers 200 as soon as the router listens, before any worker passed a health check;
    requests sent then fail with 503 "No available workers" (seen with sglang-router 0.3.2 in front
    of vLLM CPU), so it is not a readiness signal.
    """
    try:
        with urllib.request.urlopen(url + "/readiness", timeout=2.0) as resp:
            doc = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code == 404 and http_ok(url + "/health")
    except (urllib.error.URLError, OSError, ValueError):
        return False
    healthy = doc.get("healthy_workers") if isinstance(doc, dict) else None
    return healthy is None or int(healthy) >= num_workers


def is_external(scheduler: object) -> bool:
    """True for an ExternalRouter (check this before treating a scheduler as a GlobalScheduler)."""
    return isinstance(scheduler, ExternalRouter)
