"""RayLauncher: engine servers as Ray actors placed across the nodes of a Ray cluster.

The path for clusters bigger than one machine. One placement group holds one bundle per instance
({"GPU": g, "CPU": c}); each bundle runs a small actor that starts the engine server as a child
process on its node (Ray has already set CUDA_VISIBLE_DEVICES for the actor's GPUs), on a free port,
with its log on that node, and reports the URL. Teardown stops each server's process group, kills
the actors and removes the placement group; a Ray runtime started here is shut down too.

Needs the `ray` extra (pip install 'l4bench[ray]') on the driver and every node, and l4bench
importable on the nodes (installed, or the repo on PYTHONPATH; a local cluster gets the latter).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from l4bench.engines.base import EngineAdapter
from l4bench.errors import ConfigError
from l4bench.live.endpoint import Endpoint
from l4bench.live.launchers import Launcher, LaunchError, http_ok

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
_REPO = Path(__file__).resolve().parents[2]


class EngineServerActor:
    """Runs inside a Ray actor: one engine server process on this node."""

    def __init__(self, name: str, log_dir: str):
        self.name = name
        self.log_dir = Path(log_dir)
        self.proc: Any = None
        self.url = ""

    def start(
        self, cmd_template: list[str], env: dict[str, str], bind_host: str, health_path: str, timeout_s: float
    ) -> str:
        """Start the server ({port}/{host} in cmd_template are filled here) and wait for health; returns its URL."""
        import ray

        from l4bench.live.procs import ManagedProcess, free_port

        host = bind_host or ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        port = free_port(host)
        cmd = [a.replace("{port}", str(port)).replace("{host}", host) for a in cmd_template]
        full_env = {**os.environ, **env}  # keeps Ray's CUDA_VISIBLE_DEVICES for this actor's GPUs
        self.proc = ManagedProcess(self.name, cmd, full_env, self.log_dir / f"{self.name}.log")
        self.proc.start()
        self.url = f"http://{host}:{port}"
        deadline = time.monotonic() + timeout_s
        while not http_ok(self.url + health_path):
            if not self.proc.is_running():
                raise RuntimeError(f"{self.name} exited during startup:\n{self.proc.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s")
            time.sleep(0.5)
        return self.url

    def kill(self) -> None:
        """SIGKILL the server's process group (fault injection)."""
        if self.proc is not None:
            self.proc.kill()

    def stop(self) -> None:
        """Stop the server (SIGTERM, grace, SIGKILL of its group)."""
        if self.proc is not None:
            self.proc.stop()
        self.proc = None

    def devices(self) -> str:
        """CUDA_VISIBLE_DEVICES Ray gave this actor (empty on CPU)."""
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")


class RayLauncher(Launcher):
    """Engine servers as Ray actors, one placement-group bundle per instance.

    Args:
        address: Ray cluster to join ("auto", "ray://head:10001"); None starts a local Ray runtime.
        num_gpus_per_instance / num_cpus_per_instance: each bundle's resources.
        strategy: placement strategy (SPREAD puts instances on different nodes when it can).
        bind_host: address the servers listen on; None: loopback for a local runtime, else the node IP.
    """

    name = "ray"

    def __init__(
        self,
        adapter: EngineAdapter,
        python: str,
        model: str,
        num_instances: int,
        engine_args: dict[str, Any],
        env: dict[str, str],
        log_dir: Path,
        ready_timeout_s: float = 900.0,
        address: str | None = None,
        num_gpus_per_instance: float = 0.0,
        num_cpus_per_instance: float = 1.0,
        strategy: str = "PACK",
        bind_host: str | None = None,
    ):
        if strategy not in STRATEGIES:
            raise ConfigError(f"engine.ray.strategy: unknown '{strategy}'; valid: {', '.join(STRATEGIES)}")
        self.adapter = adapter
        self.python = python
        self.model = model
        self.num_instances = num_instances
        self.engine_args = engine_args
        self.env = env
        self.log_dir = log_dir
        self.ready_timeout_s = ready_timeout_s
        self.address = address
        self.resources = {"CPU": float(num_cpus_per_instance), "GPU": float(num_gpus_per_instance)}
        self.strategy = strategy
        self.bind_host = bind_host if bind_host is not None else ("127.0.0.1" if address is None else "")
        self.actors: list[Any] = []
        self.endpoints: list[Endpoint] = []
        self._pg: Any = None
        self._started_ray = False

    def _cmd_template(self) -> list[str]:
        """The adapter's command with placeholders for the port and host the actor picks on its node."""
        cmd = self.adapter.launch_command(self.python, self.model, 0, self.engine_args)
        out = list(cmd)
        for i, arg in enumerate(cmd[:-1]):
            if arg == "--port":
                out[i + 1] = "{port}"
            elif arg == "--host":
                out[i + 1] = "{host}"
        return out

    def start(self) -> list[Endpoint]:
        """Join/start Ray, reserve the bundles, start one server per bundle, wait until all are healthy."""
        try:
            import ray
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
        except ImportError as e:
            raise ConfigError(
                "engine.launcher: ray needs the `ray` extra; valid: pip install 'l4bench[ray]'"
            ) from e
        if self.endpoints:
            return self.endpoints
        if not ray.is_initialized():
            runtime_env = {"env_vars": {"PYTHONPATH": str(_REPO)}} if self.address is None else None
            ray.init(
                address=self.address, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False
            )
            self._started_ray = True
        try:
            bundles = [{k: v for k, v in self.resources.items() if v > 0} for _ in range(self.num_instances)]
            self._pg = placement_group(bundles, strategy=self.strategy)
            ray.get(self._pg.ready(), timeout=self.ready_timeout_s)
            actor_cls: Any = ray.remote(EngineServerActor)
            template = self._cmd_template()
            futures = []
            for i in range(self.num_instances):
                actor = actor_cls.options(
                    num_cpus=self.resources["CPU"],
                    num_gpus=self.resources["GPU"],
                    scheduling_strategy=PlacementGroupSchedulingStrategy(
                        self._pg, placement_group_bundle_index=i
                    ),
                ).remote(f"instance-{i}", str(self.log_dir))
                self.actors.append(actor)
                futures.append(
                    actor.start.remote(
                        template, self.env, self.bind_host, self.adapter.health_path, self.ready_timeout_s
                    )
                )
            urls = ray.get(futures, timeout=self.ready_timeout_s + 60)
            self.endpoints = [Endpoint(i, u, name=f"instance-{i}") for i, u in enumerate(urls)]
        except BaseException as e:
            self.stop()
            if isinstance(e, Exception) and not isinstance(e, ConfigError):
                raise LaunchError(f"ray launcher: {e}") from e
            raise
        return self.endpoints

    def kill_instance(self, instance_id: int) -> None:
        """SIGKILL one server on its node (fault injection)."""
        import ray

        ray.get(self.actors[instance_id].kill.remote(), timeout=30)

    def stop(self) -> None:
        """Stop servers, kill actors, remove the placement group; shut Ray down if we started it."""
        if not self.actors and self._pg is None and not self._started_ray:
            return
        import ray
        from ray.util.placement_group import remove_placement_group

        for actor in self.actors:
            try:
                ray.get(actor.stop.remote(), timeout=60)
            except Exception:  # a dead actor took its server with it (process group + PDEATHSIG)
                pass
            ray.kill(actor)
        self.actors = []
        self.endpoints = []
        if self._pg is not None:
            remove_placement_group(self._pg)
            self._pg = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def describe(self) -> dict[str, Any]:
        """Launcher facts for RunResult.extra."""
        return {
            "launcher": self.name,
            "urls": [e.url for e in self.endpoints],
            "ray_address": self.address or "local",
            "bundle": self.resources,
            "strategy": self.strategy,
        }

    def healthy(self) -> list[bool]:
        """Health of each instance as seen from the driver."""
        return [http_ok(e.url + self.adapter.health_path) for e in self.endpoints]
