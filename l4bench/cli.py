"""The command line: `python -m l4bench +experiment=NAME [hydra overrides]`.

This is the only module that imports Hydra/OmegaConf. It turns the composed config into plain
objects (workload, arrivals, performance model, engine, schedulers) and hands them to
``l4bench.replay``, which knows nothing about configs.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from l4bench.errors import ConfigError

log = logging.getLogger("l4bench")

#: Config groups a user picks with `group=option` on the command line.
GROUPS = (
    "cluster", "engine", "model", "gpu", "perf", "workload", "arrival", "max_tokens", "experiment", "scheduler",
    "migration",
)


def conf_dir() -> Path:
    """The config tree: shipped inside the wheel as l4bench/conf, or the repo's conf/ in a checkout."""
    here = Path(__file__).resolve().parent
    for cand in (here / "conf", here.parent / "conf"):
        if (cand / "config.yaml").is_file():
            return cand
    raise ConfigError(f"config tree not found next to {here} (expected conf/config.yaml)")


def options(group: str) -> list[str]:
    """Names of the options of one config group."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def load_option(group: str, name: str, option: str) -> dict[str, Any]:
    """conf/<group>/<name>.yaml as a plain dict; ConfigError naming `option` and the valid names."""
    from omegaconf import OmegaConf

    path = conf_dir() / group / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"{option}: unknown {group} '{name}'; valid: {', '.join(options(group))}")
    doc = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(doc, dict)
    return {str(k): v for k, v in doc.items()}


def model_dir(model_name: str) -> Path:
    """Folder holding the model's config.json (architecture only) for engines started with dummy weights."""
    return Path(__file__).resolve().parent / "models" / model_name


def check_overrides(argv: list[str]) -> None:
    """Reject `group=unknown` before Hydra starts, with one line naming the valid choices."""
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~")
        if key in GROUPS and value and "," not in value and value != "null":
            if value not in options(key):
                raise ConfigError(f"{key}: unknown option '{value}'; valid: {', '.join(options(key))}")


def call_accepted(factory: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a partial with only the keyword arguments its target accepts (engines differ in needs)."""
    target = getattr(factory, "func", factory)
    params = inspect.signature(target).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return factory(**kwargs)
    return factory(**{k: v for k, v in kwargs.items() if k in params})


def make_partial(node: Any, option: str, drop_unknown: bool = False) -> Any:
    """instantiate(node, _partial_=True) after checking its keys against the target's constructor.

    Unknown keys are a ConfigError naming the valid ones, or, with drop_unknown (engines: a live
    experiment replayed with engine=sim keeps its live-only keys), dropped with a warning.
    """
    from hydra.utils import get_method, instantiate
    from omegaconf import OmegaConf

    target = get_method(str(node._target_))
    params = inspect.signature(target).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in node if not str(k).startswith("_") and k not in params]
        if unknown and not drop_unknown:
            valid = ", ".join(k for k in params if k not in ("self", "cluster", "perf", "rng")) or "(none)"
            raise ConfigError(f"{option}.{unknown[0]}: not an option of {node._target_}; valid: {valid}")
        if unknown:
            log.warning("%s: %s ignored by %s", option, ", ".join(map(str, unknown)), node._target_)
            node = OmegaConf.masked_copy(node, [k for k in node if k not in unknown])
    return instantiate(node, _partial_=True, _convert_="all")


def is_external(name: str) -> bool:
    """Whether conf/scheduler/NAME.yaml is an external router (vllm-router, sglang-router): live only."""
    from omegaconf import OmegaConf

    return str(OmegaConf.load(conf_dir() / "scheduler" / f"{name}.yaml").get("_target_", "")).endswith(
        "ExternalRouter"
    )


def scheduler_factory(
    name: str,
    cluster: Any,
    perf: Any,
    seed: int,
    overrides: dict[str, Any] | None = None,
    option: str = "experiment.schedulers",
    migration: Any = None,
) -> Callable[[], Any]:
    """A zero-argument factory for scheduler NAME (conf/scheduler/NAME.yaml + constructor overrides).

    Config-free: the harness (build_scheduler_factory) and l4bench-router both build schedulers here.
    """
    from omegaconf import OmegaConf

    path = conf_dir() / "scheduler" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"{option}: unknown scheduler '{name}'; valid: {', '.join(options('scheduler'))}")
    node = OmegaConf.load(path)
    if overrides:
        node = OmegaConf.merge(node, overrides)
    where = "experiment.scheduler_overrides" if option == "experiment.schedulers" else option
    partial = make_partial(node, f"{where}.{name}")  # bad keys fail before the run

    def make(seed: int = seed) -> Any:
        """The scheduler, its rng seeded by the repeat's seed (repeat 0: cfg.seed)."""
        deps = {"migration": migration} if migration is not None else {}  # L4 prices hops by it
        return call_accepted(partial, cluster=cluster, perf=perf, rng=np.random.default_rng(seed), **deps)

    return make


def build_scheduler_factory(cfg: Any, name: str, cluster: Any, perf: Any, migration: Any = None) -> Callable[[], Any]:
    """scheduler_factory for NAME with the experiment's scheduler_overrides and seed."""
    path = conf_dir() / "scheduler" / f"{name}.yaml"
    if path.is_file() and is_external(name) and str(cfg.engine._target_).endswith("Simulator"):
        raise ConfigError(
            f"experiment.schedulers: '{name}' is an external router and runs only live (engine=vllm|sglang|attach), "
            "not in the simulator"
        )
    extra = (cfg.experiment.get("scheduler_overrides") or {}).get(name)
    return scheduler_factory(name, cluster, perf, int(cfg.seed), extra, migration=migration)


def validate(cfg: Any) -> None:
    """Reject invalid values before any work starts."""
    c = cfg.cluster
    checks = [
        (int(c.num_instances) >= 1, f"cluster.num_instances: must be >= 1, got {c.num_instances}"),
        (int(c.max_num_seqs) >= 1, f"cluster.max_num_seqs: must be >= 1, got {c.max_num_seqs}"),
        (int(c.max_num_batched_tokens) >= 16, f"cluster.max_num_batched_tokens: must be >= 16, got {c.max_num_batched_tokens}"),
        (0 < float(c.gpu_memory_utilization) <= 1, f"cluster.gpu_memory_utilization: must be in (0, 1], got {c.gpu_memory_utilization}"),
        (len(cfg.experiment.schedulers) > 0, "experiment.schedulers: empty; name at least one scheduler"),
        (cfg.experiment.task in ("replay", "profile"), f"experiment.task: unknown '{cfg.experiment.task}'; valid: replay, profile"),
        (_is_whole(cfg.experiment.get("repeats", 1)) and int(cfg.experiment.get("repeats", 1)) >= 1,
         f"experiment.repeats: {cfg.experiment.get('repeats')!r}; valid: a whole number >= 1"),
        (_is_whole(cfg.experiment.get("first_repeat", 0)) and int(cfg.experiment.get("first_repeat", 0)) >= 0,
         f"experiment.first_repeat: {cfg.experiment.get('first_repeat')!r}; valid: a whole number >= 0"),
        (_is_whole(cfg.metrics.get("bootstrap_resamples", 0)) and int(cfg.metrics.get("bootstrap_resamples", 0)) >= 0,
         f"metrics.bootstrap_resamples: {cfg.metrics.get('bootstrap_resamples')!r}; valid: a whole number >= 0 (0: off)"),
    ]
    edges = list(cfg.length_buckets_tokens)
    checks.append((edges == sorted(edges) and len(edges) >= 2, "length_buckets_tokens: need >= 2 increasing edges"))
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)


def _is_whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def run(cfg: Any) -> Path:
    """Run one experiment from a composed config; returns the path of summary.json."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from l4bench.metrics.window import MeasurementWindow
    from l4bench.perf.base import GpuSpec, ModelSpec
    from l4bench.provenance import recorded_config
    from l4bench.replay import ReplayPlan, replay_and_write, sweep_and_write
    from l4bench.types import ClusterSpec

    validate(cfg)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.experiment.task == "profile":
        from l4bench.profiling.runner import run_profile

        kwargs = OmegaConf.to_container(cfg.experiment.profile, resolve=True)
        return Path(run_profile(out_dir=out_dir, model_dir=model_dir(cfg.model.name), **kwargs))

    model = ModelSpec(**OmegaConf.to_container(cfg.model, resolve=True))
    gpu = GpuSpec(**OmegaConf.to_container(cfg.gpu, resolve=True))
    max_model_len = int(cfg.cluster.max_model_len or model.max_model_len)
    perf = call_accepted(
        make_partial(cfg.perf, "perf"),
        model=model, gpu=gpu, gpu_memory_utilization=float(cfg.cluster.gpu_memory_utilization),
    )
    kv_override = cfg.cluster.get("kv_capacity_tokens")
    cluster = ClusterSpec(
        num_instances=int(cfg.cluster.num_instances),
        max_model_len=max_model_len,
        kv_capacity_tokens=int(kv_override or perf.kv_capacity_tokens),
        max_num_seqs=int(cfg.cluster.max_num_seqs),
        max_num_batched_tokens=int(cfg.cluster.max_num_batched_tokens),
    )
    workload = call_accepted(make_partial(cfg.workload, "workload"))
    arrival_partial = make_partial(cfg.arrival, "arrival")
    rates = rate_list(cfg.arrival)
    max_tokens_rule = call_accepted(make_partial(cfg.max_tokens, "max_tokens"))

    def make_requests(seed: int, rate: float | None = None) -> list[Any]:
        """The workload with arrivals drawn from seed, at this rate (None: the config's own)."""
        rng = np.random.default_rng(seed)
        arrival = call_accepted(arrival_partial, **({} if rate is None else {"rate": rate}))
        reqs: list[Any] = arrival.assign(workload.load(rng), rng)
        reqs = max_tokens_rule.assign(reqs, max_model_len)  # the client's cap: what routers see
        if not reqs:
            raise ConfigError("workload: no requests to replay (check workload.num_requests / arrival.max_duration_s)")
        return list(reqs)

    requests = make_requests(int(cfg.seed), rates[0])

    engine_partial = make_partial(cfg.engine, "engine", drop_unknown=True)
    migration = None
    if cfg.engine.get("migration") is not None:  # priced for this model's KV bytes per token
        migration = call_accepted(make_partial(cfg.engine.migration, "migration"),
                                  kv_bytes_per_token=model.kv_bytes_per_token)

    def make_engine() -> Any:
        return call_accepted(
            engine_partial, perf=perf, cluster=cluster, rng=np.random.default_rng(int(cfg.seed)), migration=migration,
            model_dir=model_dir(model.name), model_name=model.name, out_dir=out_dir,
            show_progress=bool(cfg.progress),
        )

    is_sim = str(cfg.engine._target_).endswith("Simulator")
    plan = ReplayPlan(
        experiment=str(cfg.experiment.name),
        requests=requests,
        seed=int(cfg.seed),
        repeats=int(cfg.experiment.get("repeats", 1)),
        first_repeat=int(cfg.experiment.get("first_repeat", 0)),
        make_requests=lambda seed: make_requests(seed, rates[0]),
        shuffle_order=_shuffle_order(cfg, is_sim),
        window=MeasurementWindow(**{k: cfg.metrics[k] for k in WINDOW_KEYS if k in cfg.metrics}),
        bootstrap_resamples=int(cfg.metrics.get("bootstrap_resamples", 0)),
        provenance=provenance_hints(cfg, perf, gpu, is_sim),
        show_progress=bool(cfg.progress),
        make_engine=make_engine,
        schedulers={n: build_scheduler_factory(cfg, n, cluster, perf, migration) for n in cfg.experiment.schedulers},
        out_dir=out_dir,
        slo=dict(cfg.slo),
        length_buckets_tokens=[int(x) for x in cfg.length_buckets_tokens],
        meta={
            "engine": str(cfg.engine._target_).rsplit(".", 1)[-1],
            "num_instances": cluster.num_instances,
            "gpu": gpu.name,
            "model": model.name,
            "perf_model": perf.name,
            "workload": getattr(workload, "name", str(cfg.workload._target_)),
            "workload_info": workload.describe() if hasattr(workload, "describe") else {},
            "arrival": OmegaConf.to_container(cfg.arrival, resolve=True),
            "max_tokens": max_tokens_rule.describe(),
            "seed": int(cfg.seed),
            "kv_capacity_tokens": cluster.kv_capacity_tokens,
            "max_model_len": cluster.max_model_len,
            "migration": dataclasses.asdict(migration) if migration is not None else {"mode": "recompute"},
        },
        resolved_config=recorded_config(cfg),
    )
    if rates == [None]:
        return replay_and_write(plan)
    plans = {
        float(r): dataclasses.replace(
            plan,
            requests=requests if i == 0 else make_requests(int(cfg.seed), r),
            make_requests=functools.partial(make_requests, rate=r),
            out_dir=out_dir / f"rate_{r:g}",
            meta={**plan.meta, "arrival": {**plan.meta["arrival"], "rate": r}},
        )
        for i, r in enumerate(rates)
    }
    return sweep_and_write(plans, out_dir)


def rate_list(arrival: Any) -> list[float | None]:
    """arrival.rate as a sweep: a list of rates (`'arrival.rate=[3,6]'`: one run, one cluster), or [None]."""
    from omegaconf import OmegaConf

    rate = arrival.get("rate") if OmegaConf.is_dict(arrival) else None
    if not OmegaConf.is_list(rate):
        return [None]
    try:
        rates = [float(r) for r in rate]
    except (TypeError, ValueError):
        rates = []
    if not rates or min(rates) <= 0 or len(set(rates)) < len(rates):
        raise ConfigError(f"arrival.rate: {list(rate)}; valid: a rate > 0 or a list of distinct rates > 0, e.g. [3,6]")
    return list(rates)


#: The ``metrics:`` keys of the warm-up / cool-down exclusion (l4bench.metrics.window).
WINDOW_KEYS = ("warmup_s", "cooldown_s", "warmup_requests", "cooldown_requests")


def _shuffle_order(cfg: Any, is_sim: bool) -> bool:
    """experiment.shuffle_schedulers, where null means: shuffle on live engines, not in the simulator."""
    value = cfg.experiment.get("shuffle_schedulers")
    if value is None:
        return not is_sim
    if not isinstance(value, bool):
        raise ConfigError(f"experiment.shuffle_schedulers: {value!r}; valid: true, false, null (live only)")
    return value


def provenance_hints(cfg: Any, perf: Any, gpu: Any, is_sim: bool) -> dict[str, Any]:
    """Engine name/version, attention backend and GPU for summary.json's provenance block."""
    from l4bench import __version__
    from l4bench.provenance import live_attention_backend, sim_attention_backend

    eng = cfg.engine
    configured = eng.get("attention_backend")
    if is_sim:
        return {
            "engine": "simulator", "engine_version": f"l4bench {__version__}",
            "attention_backend": str(configured) if configured else sim_attention_backend(perf),
            "gpu": {"name": gpu.name, "driver": None, "simulated": True,
                    "source": f"conf/gpu/{gpu.name}.yaml (simulated; perf model {perf.name})"},
        }
    adapter = str((eng.get("adapter") or {}).get("_target_", eng._target_)).rsplit(".", 1)[-1]
    args = dict(eng.get("engine_args") or {})
    env = dict(eng.get("env") or {})
    return {
        "engine": adapter, "engine_version": "unknown (set once the engine answers)",
        "attention_backend": str(configured) if configured else live_attention_backend(args, env),
        "gpu": None,  # nvidia-smi on this host
    }


def _hydra_entry() -> None:
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
    def _main(cfg: DictConfig) -> None:
        try:
            summary = run(cfg)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        print(summary)

    _main()


def main() -> None:
    """Console entry point (also `python -m l4bench`)."""
    from l4bench.cli_overrides import check_all

    try:
        check_overrides(sys.argv[1:])
        check_all(sys.argv[1:], conf_dir(), GROUPS)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    _hydra_entry()
