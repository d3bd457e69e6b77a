"""`l4bench-router` (also `python -m l4bench.router`): the L4 router, or any l4bench scheduler, in
front of running OpenAI-compatible engines.

    l4bench-router --worker-urls http://10.0.0.5:8000 http://10.0.0.6:8000 --scheduler l4 --port 8080

Model facts (served name, max_model_len) come from the workers' /v1/models and their KV capacity
from the engines' /metrics (vLLM: vllm:cache_config_info). L4's cost model is a fitted profile
(`--perf-profile <gpu>/<model>[/<backend>]` under results/profiles) or, with a warning, the analytic
roofline model. `--kv-transfer nixl` (workers started with vLLM's NixlConnector, kv_role kv_both) makes
bound hops pull the source's KV instead of recomputing it, and L4 prices them by conf/migration/kv_transfer.yaml
(a fitted stall: refit it for your host, `--migration-arg bandwidth_bytes_per_s=...`). SIGTERM/SIGINT drain: stop accepting, let requests in flight finish (at most
--drain-timeout-s), exit 0. Every bad argument is one `error:` line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from l4bench.errors import ConfigError

log = logging.getLogger("l4bench.router")

ENGINES = ("vllm", "sglang")


def parser() -> argparse.ArgumentParser:
    """The command line of l4bench-router."""
    from l4bench.live.router import RouterConfig

    p = argparse.ArgumentParser(prog="l4bench-router", description=__doc__.split("\n\n")[0])
    p.add_argument("--worker-urls", nargs="+", required=True, metavar="URL", help="engine base URLs")
    p.add_argument("--scheduler", default="l4", help="a conf/scheduler option (default l4)")
    p.add_argument("--scheduler-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="scheduler constructor argument (YAML value), repeatable")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=None, help="clients must send 'Authorization: Bearer KEY'")
    p.add_argument("--engine", choices=ENGINES, default="vllm", help="the workers' engine (default vllm)")
    p.add_argument("--model", default=None, help="a conf/model option (default: matched to the workers' model)")
    p.add_argument("--perf-profile", default=None, metavar="GPU/MODEL[/BACKEND]",
                   help="fitted step-time profile under results/profiles (default: analytic model)")
    p.add_argument("--gpu", default="h100", help="conf/gpu option of the analytic model (default h100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-num-seqs", type=int, default=256, help="the engines' batch limit, for the cost model")
    p.add_argument("--max-num-batched-tokens", type=int, default=8192, help="the engines' token budget per step")
    p.add_argument("--ready-timeout-s", type=float, default=60.0, help="wait this long for the workers")
    p.add_argument("--drain-timeout-s", type=float, default=30.0, help="on SIGTERM, wait this long for requests")
    p.add_argument("--max-hop-retries", type=_non_negative_int, default=RouterConfig.max_hop_retries, metavar="N",
                   help="continue a request on another worker after at most N worker failures "
                        f"(default {RouterConfig.max_hop_retries}; 0: fail it at the first)")
    p.add_argument("--kv-transfer", choices=("nixl",), default=None,
                   help="bound hops move the KV through the workers' NixlConnector (default: recompute)")
    p.add_argument("--migration-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="override conf/migration/<mode>.yaml (e.g. fixed_s=0.05, bandwidth_bytes_per_s=2e10)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _key_values(pairs: list[str], flag: str = "--scheduler-arg") -> dict[str, Any]:
    """KEY=VALUE arguments of a repeatable flag as a dict of YAML values (numbers like 2e10 as floats)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{flag} {key}: not a YAML value: {value!r}") from None
        if isinstance(out[key], str):  # YAML 1.1 reads 2e10 as a string; a shell user means the number
            with contextlib.suppress(ValueError):
                out[key] = float(out[key])
    return out


def _adapter(engine: str) -> Any:
    if engine == "sglang":
        from l4bench.engines.sglang import SglangEngine

        return SglangEngine()
    from l4bench.engines.vllm import VllmEngine

    return VllmEngine()


def _model_name(args: argparse.Namespace, model_id: str, root: str | None, profile_model: str | None) -> str | None:
    """The conf/model option: --model, else the profile's model, else one the workers' model matches."""
    from l4bench.cli import options

    if args.model:
        return str(args.model)
    if profile_model:
        return profile_model
    names = {Path(x).name.lower() for x in (model_id, root or "") if x}
    for opt in options("model"):
        if any(n == opt or n.startswith(opt + "-") for n in names):
            return opt
    return None


def build_perf(args: argparse.Namespace, model_id: str, root: str | None, needs_perf: str) -> tuple[Any, str]:
    """(performance model or None, a description) for the scheduler's cost model.

    needs_perf: "required" (L4: an unknown model is an error), "optional" (built when the model is
    known, as the harness passes it) or "none".
    """
    from l4bench.cli import load_option, options
    from l4bench.perf.base import GpuSpec, ModelSpec
    from l4bench.perf.fitted import find_fit, parse_profile

    try:
        profile = parse_profile(args.perf_profile) if args.perf_profile else None
    except ConfigError:
        raise ConfigError(f"--perf-profile: expected GPU/MODEL or GPU/MODEL/BACKEND, got {args.perf_profile!r}") from None
    if profile is not None:
        find_fit(profile[0], profile[1], None, profile[2])  # one line naming the available profiles
    name = _model_name(args, model_id, root, profile[1] if profile else None)
    if needs_perf == "none" or (needs_perf == "optional" and name is None and profile is None):
        return None, "none"
    if name is None:
        raise ConfigError(
            f"--model: the workers serve '{model_id}', which matches no conf/model option; "
            f"valid: {', '.join(options('model'))}"
        )
    model = ModelSpec(**load_option("model", name, "--model" if args.model or not profile else "--perf-profile"))
    if profile is not None:
        from l4bench.perf.fitted import FittedPerfModel

        gpu = GpuSpec(**load_option("gpu", profile[0], "--perf-profile"))
        perf = FittedPerfModel(model, gpu, profile=str(args.perf_profile))
        return perf, f"fitted profile {args.perf_profile}"
    from l4bench.perf.analytic import AnalyticPerfModel

    gpu = GpuSpec(**load_option("gpu", args.gpu, "--gpu"))
    print(
        f"warning: no --perf-profile: the cost model falls back to the analytic roofline model "
        f"(gpu={gpu.name}, model={model.name}); pass --perf-profile GPU/MODEL[/BACKEND] for a fitted one",
        file=sys.stderr,
    )
    return AnalyticPerfModel(model, gpu), f"analytic (gpu={gpu.name}, model={model.name})"


def build_migration(args: argparse.Namespace, perf: Any) -> Any:
    """How hops cost (conf/migration/<mode>.yaml + --migration-arg), sized by the model's KV bytes per token."""
    from omegaconf import OmegaConf

    from l4bench.cli import call_accepted, conf_dir, make_partial

    mode = "kv_transfer" if args.kv_transfer else "recompute"
    node = OmegaConf.load(conf_dir() / "migration" / f"{mode}.yaml")
    extra = _key_values(args.migration_arg, "--migration-arg")
    partial = make_partial(OmegaConf.merge(node, extra), f"--migration-arg.{mode}")
    per_token = int(perf.model.kv_bytes_per_token) if perf is not None and hasattr(perf, "model") else 0
    return call_accepted(partial, kv_bytes_per_token=per_token)


def _needs_perf(scheduler: str) -> str:
    """required | optional | none: whether the scheduler's constructor takes a performance model."""
    from hydra.utils import get_method

    from l4bench.cli import load_option

    target = get_method(str(load_option("scheduler", scheduler, "--scheduler")["_target_"]))
    param = inspect.signature(target).parameters.get("perf")
    if param is None:
        return "none"
    return "required" if param.default is inspect.Parameter.empty else "optional"


async def build(args: argparse.Namespace) -> Any:
    """Read the workers, build the scheduler exactly as the harness does, start the router."""
    from l4bench.cli import is_external, load_option, scheduler_factory
    from l4bench.live.endpoint import Endpoint
    from l4bench.live.router import RouterConfig
    from l4bench.live.router_setup import discover, open_router, wait_ready
    from l4bench.types import ClusterSpec

    load_option("scheduler", args.scheduler, "--scheduler")
    if is_external(args.scheduler):
        raise ConfigError(f"--scheduler: '{args.scheduler}' is an external router; run that router itself")
    overrides = _key_values(args.scheduler_arg)
    urls = [u.rstrip("/") for u in args.worker_urls]
    adapter = _adapter(args.engine)
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, urls, adapter, args.ready_timeout_s)
        facts = await discover(session, urls, adapter)
    perf, cost_model = build_perf(args, facts.model_id, facts.root, _needs_perf(args.scheduler))
    kv = facts.kv_capacity_tokens
    if kv is None:
        kv = int(perf.kv_capacity_tokens) if perf is not None else 0
        print(f"warning: the engines report no KV capacity; using the modelled {kv} tokens", file=sys.stderr)
    max_len = facts.max_model_len or (perf.model.max_model_len if perf is not None else 0)
    if not max_len:
        raise ConfigError("--worker-urls: the workers report no max_model_len; pass --model NAME")
    cluster = ClusterSpec(len(urls), int(max_len), int(kv), args.max_num_seqs, args.max_num_batched_tokens)
    migration = build_migration(args, perf)
    make = scheduler_factory(args.scheduler, cluster, perf, args.seed, overrides, option="--scheduler-arg",
                             migration=migration)
    scheduler = make()
    config = RouterConfig(model_name=facts.model_id, max_model_len=cluster.max_model_len,
                          api_key=args.api_key, kv_capacity_tokens=cluster.kv_capacity_tokens,
                          kv_transfer=args.kv_transfer, kv_bytes_per_token=migration.kv_bytes_per_token,
                          max_hop_retries=args.max_hop_retries)
    endpoints = [Endpoint(i, u) for i, u in enumerate(urls)]
    router = await open_router(endpoints, scheduler, adapter, config, args.host, args.port)
    print(
        f"l4bench-router: {router.url} -> {len(urls)} workers of {facts.model_id} "
        f"(max_model_len {cluster.max_model_len}, KV {cluster.kv_capacity_tokens} tokens each); "
        f"scheduler {args.scheduler}; cost model {cost_model}; hops {migration.mode}",
        flush=True,
    )
    return router


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT, then drain; returns the exit status."""
    router = await build(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"l4bench-router: draining {len(router.state.flights)} requests in flight", flush=True)
    left = await router.drain(args.drain_timeout_s)
    await router.stop()
    if left:
        print(f"l4bench-router: {left} requests still running after {args.drain_timeout_s:g} s were cut", flush=True)
    print("l4bench-router: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = asyncio.run(serve(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except OSError as exc:  # the port is taken, ...
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        code = 2
    sys.exit(code)
