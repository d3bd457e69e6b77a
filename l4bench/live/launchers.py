"""Cluster launchers: start N engine servers (or attach to running ones) and hand back their Endpoints.

``LocalLauncher`` runs one server process per instance on this machine, each pinned to its devices
through an environment variable (CUDA_VISIBLE_DEVICES on GPUs; VLLM_CPU_OMP_THREADS_BIND for vLLM's
CPU build), on a free loopback port, with its own log file. ``AttachLauncher`` uses URLs of servers
that already run elsewhere and never stops them. ``RayLauncher`` (ray_launcher.py) places servers
across the nodes of a Ray cluster. All are context managers; ``stop()`` is idempotent.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from l4bench.errors import ConfigError
from l4bench.live.endpoint import Endpoint
from l4bench.live.procs import ManagedProcess, free_port


class LaunchError(RuntimeError):
    """An engine server did not come up (exited, or not ready before the timeout)."""


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """GET url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Launcher(ABC):
    """Starts (or finds) the engine instances of one cluster."""

    name = "launcher"

    @abstractmethod
    def start(self) -> list[Endpoint]:
        """Bring every instance up and return their endpoints, in instance order."""

    @abstractmethod
    def stop(self) -> None:
        """Tear down what start() created (idempotent)."""

    def kill_instance(self, instance_id: int) -> None:
        """Kill one instance abruptly (fault injection); launchers that own no process refuse."""
        raise NotImplementedError(f"{self.name} launcher cannot kill instances")

    def describe(self) -> dict[str, Any]:
        """Facts for RunResult.extra."""
        return {"launcher": self.name}

    def __enter__(self) -> Launcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class AttachLauncher(Launcher):
    """Servers that already run: just their URLs (checked for health, never stopped)."""

    name = "attach"

    def __init__(self, urls: Sequence[str], health_path: str = "/health", ready_timeout_s: float = 30.0):
        if not urls:
            raise ConfigError(
                "engine.urls: attach needs at least one URL; valid: a list like [http://host:8000]"
            )
        self.urls = [u.rstrip("/") for u in urls]
        self.health_path = health_path
        self.ready_timeout_s = ready_timeout_s

    def start(self) -> list[Endpoint]:
        """Wait until every URL answers its health check."""
        deadline = time.monotonic() + self.ready_timeout_s
        for url in self.urls:
            while not http_ok(url + self.health_path):
                if time.monotonic() > deadline:
                    raise LaunchError(
                        f"attach: {url}{self.health_path} not healthy after {self.ready_timeout_s:.0f} s"
                    )
                time.sleep(0.5)
        return [Endpoint(i, url, name=f"attach-{i}") for i, url in enumerate(self.urls)]

    def stop(self) -> None:
        """Nothing to stop: the servers are not ours."""

    def describe(self) -> dict[str, Any]:
        """Launcher name and the URLs."""
        return {"launcher": self.name, "urls": list(self.urls)}


@dataclass(frozen=True)
class LocalClusterSpec:
    """How to start the instances of a local cluster.

    Args:
        command: builds the command line of one instance from (instance_id, port).
        num_instances: how many servers.
        env: environment of every instance (on top of the harness's own).
        devices: per instance, the value of ``device_env_var`` (e.g. "0,1"); None leaves it unset.
        device_env_var: CUDA_VISIBLE_DEVICES on GPUs, VLLM_CPU_OMP_THREADS_BIND on vLLM's CPU build.
        health_path: GET path that answers 200 once a server is ready.
        ready_timeout_s: how long one start() may wait for all servers.
        log_dir: one log file per instance (instance-<i>.log).
        host: loopback by default; servers never listen on other interfaces unless asked.
        serial_start: start instance i+1 only once instance i is ready (instances that share a GPU:
            vLLM sizes its KV cache from the memory it sees free, which a neighbour starting at the
            same moment would skew).
    """

    command: Callable[[int, int], list[str]]
    num_instances: int
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    devices: tuple[str | None, ...] | None = None
    device_env_var: str = "CUDA_VISIBLE_DEVICES"
    health_path: str = "/health"
    ready_timeout_s: float = 600.0
    host: str = "127.0.0.1"
    serial_start: bool = False


def visible_devices(device_env_var: str) -> list[str]:
    """Device ids instances may use: the harness's own CUDA_VISIBLE_DEVICES, else every GPU nvidia-smi
    lists; for vLLM's CPU build (VLLM_CPU_OMP_THREADS_BIND), the cores this process may run on."""
    if device_env_var != "CUDA_VISIBLE_DEVICES":
        return [str(c) for c in sorted(os.sched_getaffinity(0))]
    own = os.environ.get("CUDA_VISIBLE_DEVICES")
    if own is not None:
        return [d.strip() for d in own.split(",") if d.strip()]
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def instance_devices(num_instances: int, gpus_per_instance: float, visible: list[str]) -> tuple[str, ...]:
    """Device list per instance: g >= 1 whole GPUs each ("0,1", "2,3"), or 1/g instances per GPU ("0", "0").

    Args:
        num_instances: how many instances.
        gpus_per_instance: a whole number (1, 2, 4: tensor parallel) or 1/k (0.5: two per GPU).
        visible: the GPU ids instances may use, in order (the harness's CUDA_VISIBLE_DEVICES, or 0..n-1).
    """
    g = float(gpus_per_instance)
    per_gpu = round(1.0 / g) if 0 < g < 1 else 1
    whole = g >= 1 and g == int(g)
    if not whole and not (0 < g < 1 and abs(per_gpu * g - 1.0) < 0.01):
        raise ConfigError(
            f"engine.gpus_per_instance: {gpus_per_instance}; valid: a whole number (1, 2, 4) or 1/k (0.5, 0.25)"
        )
    span = int(g) if whole else 1
    needed = num_instances * span if whole else -(-num_instances // per_gpu)
    if needed > len(visible):
        raise ConfigError(
            f"engine.gpus_per_instance: {num_instances} instances x {gpus_per_instance} GPUs need {needed} "
            f"GPUs, {len(visible)} visible ({', '.join(visible) or 'none'}); valid: fewer instances or a smaller share"
        )
    if whole:
        groups = [",".join(visible[i * span : (i + 1) * span]) for i in range(num_instances)]
    else:
        groups = [visible[i // per_gpu] for i in range(num_instances)]
    return tuple(groups)


class LocalLauncher(Launcher):
    """One engine server process per instance on this machine; all torn down on stop/exit/signal."""

    name = "local"

    def __init__(self, spec: LocalClusterSpec):
        if spec.devices is not None and len(spec.devices) != spec.num_instances:
            raise ConfigError(
                f"engine.devices: {len(spec.devices)} entries for {spec.num_instances} instances; "
                "valid: one entry per instance, or null"
            )
        self.spec = spec
        self.procs: list[ManagedProcess] = []
        self.endpoints: list[Endpoint] = []

    def _instance_env(self, instance_id: int) -> dict[str, str]:
        """The harness's environment + the spec's env + this instance's device binding."""
        env = dict(os.environ)
        env.update(self.spec.env)
        if self.spec.devices is not None and self.spec.devices[instance_id] is not None:
            env[self.spec.device_env_var] = str(self.spec.devices[instance_id])
        return env

    def start(self) -> list[Endpoint]:
        """Spawn every instance, then wait for all of them to be ready (fails fast on an exit)."""
        if self.endpoints:
            return self.endpoints
        try:
            for i in range(self.spec.num_instances):
                port = free_port(self.spec.host)
                cmd = self.spec.command(i, port)
                proc = ManagedProcess(
                    f"instance-{i}", cmd, self._instance_env(i), self.spec.log_dir / f"instance-{i}.log"
                )
                proc.start()
                self.procs.append(proc)
                self.endpoints.append(Endpoint(i, f"http://{self.spec.host}:{port}", name=f"instance-{i}"))
                if self.spec.serial_start:
                    self._wait_ready()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    def _wait_ready(self) -> None:
        """Poll every instance's health path; raise LaunchError with its log tail if one dies or times out."""
        deadline = time.monotonic() + self.spec.ready_timeout_s
        pending = set(range(len(self.procs)))
        while pending:
            for i in sorted(pending):
                proc, ep = self.procs[i], self.endpoints[i]
                if not proc.is_running():
                    raise LaunchError(
                        f"{proc.name} exited during startup; log {proc.log_path}:\n{proc.log_tail()}"
                    )
                if http_ok(ep.url + self.spec.health_path):
                    pending.discard(i)
            if pending and time.monotonic() > deadline:
                names = ", ".join(self.procs[i].name for i in sorted(pending))
                raise LaunchError(
                    f"not ready after {self.spec.ready_timeout_s:.0f} s: {names} (logs in {self.spec.log_dir})"
                )
            if pending:
                time.sleep(0.5)

    def kill_instance(self, instance_id: int) -> None:
        """SIGKILL one instance's whole process group (fault injection)."""
        self.procs[instance_id].kill()

    def stop(self) -> None:
        """Stop every instance (SIGTERM, grace, SIGKILL of the group)."""
        for proc in self.procs:
            proc.stop()
        self.procs = []
        self.endpoints = []

    def describe(self) -> dict[str, Any]:
        """Launcher name, URLs, devices, log dir."""
        return {
            "launcher": self.name,
            "urls": [e.url for e in self.endpoints],
            "devices": list(self.spec.devices) if self.spec.devices is not None else None,
            "device_env_var": self.spec.device_env_var,
            "log_dir": str(self.spec.log_dir),
        }
