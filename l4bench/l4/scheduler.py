"""L4Scheduler: length-specialized stages planned by a DP, refined and balanced at runtime.

Implements the GlobalScheduler protocol (l4bench/sched/base.py) without importing it: route(),
on_bound(), rebalance(), on_finish(), plus snapshot() for the run's timeline. Time is passed in.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from l4bench.errors import ConfigError
from l4bench.l4.balance import BalanceParams, balance_stage
from l4bench.l4.cost import CostParams, CostTable, Objective, StepTimeModel, fit_affine, stage_cost_table
from l4bench.l4.dispatch import DispatchLedger, prefill_compute_s
from l4bench.l4.histogram import LengthHistogram, WindowSample, make_bin_edges
from l4bench.l4.migration import MigrationCost, RecomputeMigration
from l4bench.l4.partition import Partition, equal_partition, partition
from l4bench.l4.placement import Placement, StageDispatch
from l4bench.l4.plan import ResolvePlan
from l4bench.l4.refine import RefineParams, gate_shifts, refine_boundaries
from l4bench.l4.stages import StageLayout, contiguous_layout, reassign
from l4bench.types import ClusterSpec, Decision, InstanceView, Migration, RequestView

#: Relative predicted-cost gain a re-solved plan needs over the current layout to replace it.
RESOLVE_MIN_GAIN = 0.05


class L4Scheduler(StageDispatch):
    """Length-aware multi-instance scheduler (see l4bench/l4/README.md for the model and knobs)."""

    name = "l4"
    is_migrating = True  # requests hop to the next stage at the stage's upper bound
    resolve_inline = True  # False: the caller runs resolve_snapshot/solve/install (live router)

    def __init__(  # noqa: PLR0913 - flat kwargs are the YAML contract (keys == constructor kwargs)
        self,
        cluster: ClusterSpec,
        perf: StepTimeModel,
        rng: np.random.Generator,
        *,
        objective: str = "mean_e2e",
        num_bins: int = 32,
        min_bin_tokens: int = 64,
        window_s: float = 120.0,
        resolve_interval_s: float = 30.0,
        min_history_requests: int = 64,
        rebalance_interval_s: float | None = 2.0,
        refine_threshold: float = 0.25,
        refine_min_interval_s: float = 10.0,
        balance_threshold: float = 0.3,
        balance_min_gap_s: float = 0.002,
        prior_num_stages: int = 2,
        prior_output_tokens: int = 256,
        max_utilization: float = 0.95,
        hop_recompute: float = 1.0,
        slo_ttft_s: float = 5.0,
        slo_tpot_s: float = 0.1,
        spill: bool = True,
        externality_weight: float = 0.0,
        hop_payback: float = 1.0,
        use_max_tokens_hint: bool = False,
        migration: MigrationCost | None = None,
    ) -> None:
        try:
            obj = Objective(objective)
        except ValueError:
            raise ConfigError(
                f"scheduler.objective: unknown '{objective}'; valid: {', '.join(o.value for o in Objective)}"
            ) from None
        if num_bins < 1 or not 1 <= min_bin_tokens < cluster.max_model_len:
            raise ConfigError(
                f"scheduler.num_bins/min_bin_tokens: need num_bins >= 1 and 1 <= min_bin_tokens < "
                f"max_model_len={cluster.max_model_len}; got {num_bins}, {min_bin_tokens}"
            )
        if not 0.0 < max_utilization <= 1.0:
            raise ConfigError(f"scheduler.max_utilization: must be in (0, 1]; got {max_utilization}")
        self.cluster = cluster
        self.rng = rng
        self.spill = spill
        self.externality_weight = externality_weight
        self.hop_payback = hop_payback
        self.migration: MigrationCost = migration if migration is not None else RecomputeMigration()
        self.hop_recompute = hop_recompute * self.migration.recompute_fraction
        self.use_max_tokens_hint = use_max_tokens_hint
        self.ledger = DispatchLedger()
        self._max_tokens: dict[int, int | None] = {}  # request id -> client's cap (hint mode only)
        self.rebalance_interval_s = rebalance_interval_s
        self.resolve_interval_s = resolve_interval_s
        self.min_history_requests = min_history_requests
        self.num_instances = cluster.num_instances
        self.chunk_tokens = cluster.max_num_batched_tokens
        self.edges = make_bin_edges(num_bins, min_bin_tokens, cluster.max_model_len)
        self._edge_list = [int(e) for e in self.edges]
        self.hist = LengthHistogram(
            self.edges, window_s, prior_output_tokens, sub_window_s=refine_min_interval_s
        )
        self.step = fit_affine(
            perf, cluster.max_model_len, cluster.max_num_seqs, self.chunk_tokens, cluster.kv_capacity_tokens
        )
        self.cost_params = CostParams(
            obj, max_utilization, cluster.kv_capacity_tokens, cluster.max_num_seqs, self.chunk_tokens,
            self.hop_recompute, self.is_migrating, slo_ttft_s, slo_tpot_s,
            self.migration.fixed_s, self.migration.per_token_s,
        )
        self.refine_params = RefineParams(refine_threshold, refine_min_interval_s)
        self.balance_params = BalanceParams(balance_threshold, balance_min_gap_s)
        prior = equal_partition(num_bins, self.num_instances, prior_num_stages)
        self._set_layout(contiguous_layout(prior.stage_end_bins, prior.instances_per_stage))
        self._next_solve_s = 0.0
        self._table: CostTable | None = None
        self._num_solves = 0
        self._predicted_cost: float | None = None
        self._stage_load_s: list[float] = [0.0] * self.layout.num_stages
        self._stage_pressure: list[float] = [1.0] * self.layout.num_stages

    # ---- layout -------------------------------------------------------------------------------
    def _set_layout(self, layout: StageLayout) -> None:
        self.layout = layout
        self._stage_of_bin = [int(s) for s in layout.stage_of_bin()]
        self._last_shift_s = tuple(-math.inf for _ in range(layout.num_stages - 1))

    def apply_partition(self, part: Partition) -> None:
        """Adopt a plan (from the DP or from outside), moving as few instances as possible."""
        if (
            sum(part.instances_per_stage) != self.num_instances
            or part.stage_end_bins[-1] != len(self.edges) - 1
        ):
            raise ValueError(
                f"partition: needs {self.num_instances} instances over {len(self.edges) - 1} bins; got {part}"
            )
        if (part.stage_end_bins, part.instances_per_stage) != (
            self.layout.end_bins,
            self.layout.instances_per_stage,
        ):
            self._set_layout(reassign(self.layout, part.stage_end_bins, part.instances_per_stage))
            self._stage_load_s = [0.0] * self.layout.num_stages
            self._stage_pressure = [1.0] * self.layout.num_stages

    def stage_of_tokens(self, tokens: int) -> int:
        """Stage holding a context of this many tokens."""
        k = bisect.bisect_right(self._edge_list, tokens) - 1
        return self._stage_of_bin[min(max(k, 0), len(self._stage_of_bin) - 1)]

    def upper_bound_tokens(self, stage: int) -> int | None:
        """Exclusive upper context bound of a stage (None for the last one)."""
        if stage >= self.layout.num_stages - 1:
            return None
        return self._edge_list[self.layout.end_bins[stage]]

    def _hop_bound(self, stage: int, final_tokens: int | None = None) -> int | None:
        """hop_at_tokens for a request placed in this stage (None: it finishes where it is).

        A hop recomputes the context on the next stage (hop_recompute x bound tokens of prefill) and
        stalls (migration.stall_s: KV transfer recomputes nothing, its stall counts as stall / per-token
        prefill time tokens); it pays back only if the request still runs a comparable stretch past the bound. A request
        whose expected final context (``_final_estimate``) passes the bound by less than
        hop_payback x that finishes in place: e.g. a 1.1k-token prompt expected to end near 1.35k
        never hops at a 1.3k bound to recompute 1.3k tokens for its last 50. hop_payback=0: every
        crossing hops.
        """
        bound = self.upper_bound_tokens(stage)
        if bound is None or final_tokens is None or self.hop_payback <= 0.0:
            return bound
        cost = self.hop_payback * self.hop_recompute * bound
        if (stall_s := self.migration.stall_s(bound)) > 0:
            cost += self.hop_payback * stall_s / max(self.step.per_token_s, 1e-12)
        return bound if final_tokens - bound >= cost else None

    def _final_estimate(self, request_id: int, prompt_tokens: int, context_tokens: int) -> int:
        """Expected final context of a request now at context_tokens (never its true length).

        From finished requests only: prompt + the histogram's expected output given what it has
        generated so far. With use_max_tokens_hint the client's cap stands in instead (prompt +
        max_tokens: an upper bound, so every crossing that could pay back hops).
        """
        cap = self._max_tokens.get(request_id)
        if self.use_max_tokens_hint and cap is not None:
            return prompt_tokens + cap
        generated = max(context_tokens - prompt_tokens, 0)
        return prompt_tokens + int(math.ceil(self.hist.expected_output_given(generated)))

    # ---- re-solve -----------------------------------------------------------------------------
    # A re-solve is three steps: resolve_snapshot() (due check + a copy of the window, cheap),
    # solve() (histogram, cost table, DP: pure, reads only the snapshot and fixed settings, so it
    # may run in another thread) and install() (adopt the plan). The simulator runs all three
    # inline at the tick; the live router sets resolve_inline = False and runs solve() in a worker
    # thread, installing the plan on its event loop (one thread: route() sees old or new, whole).
    def _maybe_resolve(self, now_s: float) -> None:
        """Re-plan on the window when the re-solve tick has passed (never per request)."""
        if not self.resolve_inline:
            return
        snap = self.resolve_snapshot(now_s)
        if snap is not None:
            self.install(self.solve(snap))

    def resolve_snapshot(self, now_s: float) -> WindowSample | None:
        """The window to re-plan from if a re-solve is due (and the next tick set), else None."""
        if now_s < self._next_solve_s or len(self.hist) < self.min_history_requests:
            return None
        self._next_solve_s = now_s + self.resolve_interval_s
        return self.hist.sample(now_s)

    def solve(self, snapshot: WindowSample) -> ResolvePlan:
        """The plan for a window snapshot: cost table and chosen partition (thread-safe: pure)."""
        stats = self.hist.stats_of(snapshot)
        table = stage_cost_table(stats, self.edges, self.num_instances, self.step, self.cost_params)
        return ResolvePlan(snapshot.now_s, table, self._choose_partition(table))

    def install(self, plan: ResolvePlan) -> bool:
        """Adopt a solved plan if it beats the current layout clearly; True if the layout changed."""
        self._table = plan.table
        part = plan.partition
        self._num_solves += 1
        self._predicted_cost = (
            part.total_cost if part is not None and math.isfinite(part.total_cost) else None
        )
        if part is not None and self._worth_switching(part, plan.table):
            before = self.layout
            self.apply_partition(part)
            return self.layout is not before
        return False

    def _worth_switching(self, part: Partition, table: CostTable) -> bool:
        """Adopt a new plan only if it beats the current layout, priced on the same table, clearly.

        Moving instances between stages disturbs the requests on them (they hop at their old
        bounds) and the window's histogram is noisy, so near-ties would make the layout churn on
        every re-solve; the current layout is kept unless the new plan's predicted cost is lower
        by RESOLVE_MIN_GAIN (relative).
        """
        if self._num_solves <= 1:
            return True  # leave the cold-start prior as soon as there is a plan
        cur = sum(
            float(table.cost[a, b, len(mem)])
            for a, b, mem in zip(
                self.layout.start_bins, self.layout.end_bins, self.layout.members, strict=True
            )
        )
        if not math.isfinite(cur) or not math.isfinite(part.total_cost):
            return True
        return part.total_cost < cur * (1.0 - RESOLVE_MIN_GAIN)

    def _choose_partition(self, table: CostTable) -> Partition | None:
        """The DP plan, or one pooled stage unless the split beats it by RESOLVE_MIN_GAIN.

        A split gives up statistical multiplexing that the cost model prices only approximately
        (fit error, window noise), so, as for re-plans, it must win clearly; otherwise L4 runs as
        one stage with predicted-E2E dispatch. When no partition is feasible (overload: some
        stage would run past max_utilization whatever the split), it pools too: under overload
        splitting only strands capacity in the stages that happen to be less loaded.
        """
        K, N = table.cost.shape[0] - 1, table.cost.shape[2] - 1
        pooled = float(table.cost[0, K, N])
        try:
            part = partition(table.cost)
        except ValueError:  # overload: no plan holds, so keep all the multiplexing there is
            return Partition((K,), (N,), float(table.fallback[0, K, N]))
        if (
            part.num_stages > 1
            and math.isfinite(pooled)
            and part.total_cost >= pooled * (1.0 - RESOLVE_MIN_GAIN)
        ):
            return Partition((K,), (N,), pooled)
        return part

    # ---- dispatch (the instance choice itself: placement.StageDispatch) ----------------------
    def _place(
        self, stage: int, views: Sequence[InstanceView], place: Placement, prefer: int | None = None
    ) -> Decision:
        """Pick, record the prefill sent in the ledger, and decide the hop bound."""
        iid = self._pick(stage, views, place, prefer)
        if iid != prefer:
            self.ledger.add(iid, place.prefill_s, place.now_s)
        return Decision(iid, self._hop_bound(stage, place.final_tokens))

    def route(self, req: RequestView, views: Sequence[InstanceView], now_s: float) -> Decision:
        """Send a new request to the cheapest instance of the stage holding its prompt length."""
        self._maybe_resolve(now_s)
        self.hist.add_arrival(req.request_id, req.prompt_tokens, now_s)
        stage = self.stage_of_tokens(req.prompt_tokens)
        pre = prefill_compute_s(self.step, req.prompt_tokens, self.chunk_tokens)
        if self.use_max_tokens_hint:
            self._max_tokens[req.request_id] = req.max_tokens
        final = self._final_estimate(req.request_id, req.prompt_tokens, req.prompt_tokens)
        return self._place(stage, views, Placement(now_s, req.prompt_tokens, pre, final))

    def on_bound(
        self,
        req: RequestView,
        context_tokens: int,
        src_instance: int,
        views: Sequence[InstanceView],
        now_s: float,
    ) -> Decision:
        """Hop: least loaded instance of the stage now holding the context (stay if src is in it)."""
        self._maybe_resolve(now_s)
        stage = self.stage_of_tokens(context_tokens)
        pre = prefill_compute_s(self.step, self.hop_recompute * context_tokens, self.chunk_tokens)
        final = self._final_estimate(req.request_id, req.prompt_tokens, context_tokens)
        return self._place(stage, views, Placement(now_s, context_tokens, pre, final), prefer=src_instance)

    def on_finish(self, req: RequestView, num_output_tokens: int, now_s: float) -> None:
        """Feed the output-length estimate."""
        self.hist.add_finish(req.request_id, num_output_tokens)
        self._max_tokens.pop(req.request_id, None)

    # ---- periodic tick ------------------------------------------------------------------------
    def rebalance(self, views: Sequence[InstanceView], now_s: float) -> list[Migration]:
        """Re-solve if due, refine boundaries between neighbours, then balance inside each stage."""
        self._maybe_resolve(now_s)
        loads = {v.instance_id: self.step.view_load_s(v, self.chunk_tokens) for v in views}
        self._measure(loads)
        self._refine(now_s)
        by_id = {v.instance_id: v for v in views}
        return self._balance(by_id, loads)

    def _planned_step_s(self, stage: int) -> float:
        """Step time the plan predicts for a stage (idle step time without a plan)."""
        if self._table is not None:
            a, b = self.layout.start_bins[stage], self.layout.end_bins[stage]
            m = min(len(self.layout.members[stage]), self.num_instances)
            t = float(self._table.step_s[a, b, m]) if m > 0 else math.inf
            if math.isfinite(t):
                return t
        return max(self.step.base_s, 1e-6)

    def _measure(self, loads: dict[int, float]) -> None:
        """Per-stage mean load and pressure (load relative to plan)."""
        self._stage_load_s, self._stage_pressure = [], []
        for s, mem in enumerate(self.layout.members):
            vals = [loads[i] for i in mem if i in loads]
            mean = float(np.mean(vals)) if vals else 0.0
            self._stage_load_s.append(mean)
            self._stage_pressure.append(mean / self._planned_step_s(s))

    def _refine(self, now_s: float) -> None:
        """Shift shared boundaries toward the less pressed neighbour (hysteresis in RefineParams)."""
        ends, shifts = refine_boundaries(
            self.layout.end_bins, self._stage_pressure, self._last_shift_s, now_s, self.refine_params
        )
        ends = self._plausible_shifts(ends)
        if ends != self.layout.end_bins:
            self.layout = self.layout.with_end_bins(ends)
            self._stage_of_bin = [int(s) for s in self.layout.stage_of_bin()]
        self._last_shift_s = shifts

    def _plausible_shifts(self, ends: tuple[int, ...]) -> tuple[int, ...]:
        """Proposed boundaries, with any shift the plan's cost table prices clearly worse undone."""
        if self._table is None:
            return ends
        counts = self.layout.instances_per_stage
        return gate_shifts(self.layout.end_bins, ends, counts, self._table.cost, RESOLVE_MIN_GAIN)

    def _view_load(self, view: InstanceView) -> float:
        """Predicted load of an instance view (the balancing criterion)."""
        return self.step.view_load_s(view, self.chunk_tokens)

    def _balance(self, views: dict[int, InstanceView], loads: dict[int, float]) -> list[Migration]:
        """Power-of-two peer rebalancing inside every stage."""
        moves: list[Migration] = []
        for s, mem in enumerate(self.layout.members):
            for m in balance_stage(
                mem, views, loads, self._hop_bound(s), self.rng, self.balance_params, self._view_load
            ):
                src = views.get(m.src_instance)
                r = next((x for x in src.requests if x.request_id == m.request_id), None) if src else None
                final = None if r is None else self._final_estimate(r.request_id, r.prompt_tokens, r.context_tokens)
                hop = self._hop_bound(s, final)
                moves.append(m if hop == m.hop_at_tokens else dataclasses.replace(m, hop_at_tokens=hop))
        return moves

    # ---- observability ------------------------------------------------------------------------
    def snapshot(self, now_s: float) -> dict[str, Any]:
        """JSON-able state for the run's timeline (boundaries, stage sizes, loads)."""
        bounds = [self._edge_list[e] for e in self.layout.end_bins]
        return {
            "t_s": float(now_s),
            "scheduler": self.name,
            "boundaries_tokens": bounds,
            "instances_per_stage": list(self.layout.instances_per_stage),
            "stage_of_instance": list(self.layout.stage_of_instance(self.num_instances)),
            "stage_load_s": [float(x) for x in self._stage_load_s],
            "stage_pressure": [float(x) for x in self._stage_pressure],
            "num_solves": self._num_solves,
            "predicted_cost": self._predicted_cost,
            "expected_output_tokens": float(self.hist.expected_output_tokens()),
            "use_max_tokens_hint": self.use_max_tokens_hint,
        }

    def reads(self) -> dict[str, Any]:
        """What this scheduler reads beyond prompt and arrival (summary.json: scheduler_reads)."""
        return {"max_tokens_hint": self.use_max_tokens_hint, "prior_output_tokens": self.hist.prior_output_tokens}
