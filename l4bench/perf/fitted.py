"""Step time from a fit to a measured vLLM profile (results/profiles/<gpu>/<model>/<backend>/fit.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from l4bench.errors import ConfigError
from l4bench.perf.analytic import kv_capacity_from_memory
from l4bench.perf.base import BatchShape, GpuSpec, ModelSpec
from l4bench.perf.features import DEFAULT_BACKEND, FEATURES, FeatureParams, feature_vector

#: Where the repository keeps its committed profiles (used when ./results/profiles has none).
REPO_PROFILES = Path(__file__).resolve().parents[2] / "results" / "profiles"
#: The same profiles as shipped inside the wheel (pyproject force-includes results/profiles there).
PACKAGED_PROFILES = Path(__file__).resolve().parents[1] / "profiles"


def available_profiles(root: Path) -> list[str]:
    """'<gpu>/<model>/<backend>' of every fit.json under `root` (the first layout, <gpu>/<model>/, is FLASH_ATTN)."""
    if not root.is_dir():
        return []
    new = [str(p.parent.relative_to(root)) for p in root.glob("*/*/*/fit.json")]
    old = [f"{p.parent.relative_to(root)}/{DEFAULT_BACKEND}" for p in root.glob("*/*/fit.json")]
    return sorted(set(new + old))


def parse_profile(profile: str) -> tuple[str, str, str | None]:
    """'<gpu>/<model>[/<backend>]' -> (gpu, model, backend or None)."""
    parts = [p for p in str(profile).strip("/").split("/") if p]
    if len(parts) not in (2, 3):
        raise ConfigError(f"perf.profile: {profile!r}; valid: <gpu>/<model>/<backend>, e.g. h200/llama-3.1-8b/TRITON_ATTN")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def find_fit(gpu_name: str, model_name: str, profile_dir: str | None, backend: str | None = None) -> Path:
    """Path of <profile_dir>/<gpu>/<model>/<backend>/fit.json (default: ./results/profiles, then the repo's).

    The first layout, <gpu>/<model>/fit.json, holds a FLASH_ATTN (FA3) profile: it answers backend
    FLASH_ATTN, and no backend when nothing else is asked.
    """
    roots = [Path(profile_dir)] if profile_dir else [Path("results") / "profiles", REPO_PROFILES, PACKAGED_PROFILES]
    subdirs = [backend] if backend else []
    if backend in (None, DEFAULT_BACKEND):
        subdirs += ["", DEFAULT_BACKEND] if backend is None else [""]
    for root in roots:
        for sub in subdirs:
            path = root / gpu_name / model_name / sub / "fit.json"
            if path.is_file():
                return path
    found = sorted({p for root in roots for p in available_profiles(root)})
    raise ConfigError(
        f"perf.profile: no fitted profile for gpu={gpu_name} model={model_name} backend={backend or DEFAULT_BACKEND} "
        f"under {', '.join(str(r) for r in roots)}; valid: {', '.join(found) or 'none (run python -m l4bench.profiling)'}"
    )


class FittedPerfModel:
    """Step time = nonnegative linear model over BatchShape features, fitted to a measured profile.

    Args:
        model, gpu: what the simulator runs; their names pick the profile unless overridden.
        gpu_memory_utilization: used for the KV capacity when the profile ran at another utilization.
        profile_dir: root holding <gpu>/<model>/<backend>/fit.json (default results/profiles).
        profile: '<gpu>/<model>/<backend>' (e.g. h200/llama-3.1-8b/TRITON_ATTN) or '<gpu>/<model>'
            (its FLASH_ATTN fit); overrides gpu_name, model_name and attention_backend.
        gpu_name, model_name: profile to use instead of gpu.name / model.name.
        attention_backend: the profiled backend's folder (null: FLASH_ATTN, or the first layout's fit).
        step_offset_s: added to every step (floored at 0). The profile times EngineCore.step with
            async scheduling off, so its constant holds CPU work (scheduling, sampling bookkeeping) that
            a served vLLM with async scheduling (its default) overlaps with the GPU; a negative offset
            calibrated on one live point removes it (results/live/gpu_pair2_h100/README.md).
        gpu_share: the share of one GPU's time an instance gets (1 = a GPU of its own). Instances that
            share a GPU time-slice its SMs, so each step is taken as 1 / gpu_share as long (0.5: twice),
            as if every sharer were always busy: an upper bound on the slowdown when some sit idle.
            Set it from the cluster's layout (engine.gpus_per_instance), never fitted to a run.
    """

    name = "fitted"

    def __init__(
        self,
        model: ModelSpec,
        gpu: GpuSpec,
        gpu_memory_utilization: float = 0.9,
        profile_dir: str | None = None,
        gpu_name: str | None = None,
        model_name: str | None = None,
        step_offset_s: float = 0.0,
        profile: str | None = None,
        attention_backend: str | None = None,
        gpu_share: float = 1.0,
    ):
        if not 0.0 < float(gpu_share) <= 1.0:
            raise ConfigError(f"perf.gpu_share: must be in (0, 1], got {gpu_share}")
        self.model = model
        self.gpu = gpu
        self.gpu_memory_utilization = gpu_memory_utilization
        self.profile_dir = profile_dir
        self.gpu_name = gpu_name or gpu.name
        self.model_name = model_name or model.name
        self.backend = attention_backend
        if profile:
            self.gpu_name, self.model_name, self.backend = parse_profile(profile)
        self.step_offset_s = float(step_offset_s)
        self.gpu_share = float(gpu_share)
        self._coef: np.ndarray | None = None
        self._features: tuple[str, ...] = ()
        self._params = FeatureParams()
        self._kv_capacity_tokens: int | None = None
        self._backend = DEFAULT_BACKEND

    def _load(self) -> None:
        path = find_fit(self.gpu_name, self.model_name, self.profile_dir, self.backend)
        fit = json.loads(path.read_text())
        recorded = fit.get("attention_backend") or (fit.get("profile") or {}).get("attention_backend")
        self._backend = str(recorded or DEFAULT_BACKEND)
        features = tuple(fit["features"])
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ConfigError(f"perf.profile_dir: {path} uses features {unknown} this version lacks; "
                              f"valid: {', '.join(FEATURES)}")
        self._features = features
        self._params = FeatureParams(**fit.get("params", {}))
        self._coef = np.array([float(fit["coefficients"][f]) for f in features])
        prof = fit.get("profile") or {}
        measured = prof.get("kv_capacity_tokens")
        used = (prof.get("engine_kwargs") or {}).get("gpu_memory_utilization")
        if measured and (used is None or abs(float(used) - self.gpu_memory_utilization) < 1e-9):
            self._kv_capacity_tokens = int(measured)
        else:  # the profile ran at another utilization: fall back to the memory arithmetic
            self._kv_capacity_tokens = kv_capacity_from_memory(self.model, self.gpu, self.gpu_memory_utilization,
                                                               activation_reserve_bytes=2.0e9)

    @property
    def kv_capacity_tokens(self) -> int:
        """KV tokens per instance: as vLLM reported at the profile's start-up (same utilization)."""
        if self._kv_capacity_tokens is None:
            self._load()
        assert self._kv_capacity_tokens is not None
        return self._kv_capacity_tokens

    @property
    def attention_backend(self) -> str:
        """The backend the loaded fit was profiled with (FLASH_ATTN for the first layout)."""
        if self._coef is None:
            self._load()
        return self._backend

    @property
    def features(self) -> tuple[str, ...]:
        """Feature names of the loaded fit."""
        if self._coef is None:
            self._load()
        return self._features

    def step_time_s(self, batch: BatchShape) -> float:
        """Seconds one engine step takes for this batch composition (0 for an empty batch)."""
        if self._coef is None:
            self._load()
        assert self._coef is not None
        if batch.num_tokens == 0:
            return 0.0
        t = float(feature_vector(batch, self._features, self._params) @ self._coef) + self.step_offset_s
        return t / self.gpu_share if t > 0.0 else 0.0
