"""The compositions a profile measures: decode batches (uniform and mixed contexts) and prefill chunks.

A composition asks for a steady decode batch (its contexts given as (context_tokens, count) groups)
and, optionally, one prefill chunk of `chunk_tokens` new tokens after `chunk_prior_tokens` cached
ones, scheduled in the same step as the decodes. The profiler measures what vLLM really schedules,
so these are requests, not guarantees; the recorded BatchShape is taken from the scheduler.

Grids are ordered by priority (the headline pairs first) so a run cut short by its time budget
still has the most useful rows, and within a group by growing context so prefixes stay cached.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4bench.errors import ConfigError

GRID_NAMES = ("full", "smoke", "backend", "backend_smoke")


@dataclass(frozen=True, slots=True)
class Composition:
    """One batch composition to measure.

    Args:
        name: unique row label, e.g. "uniform_n64_c2048".
        group: "headline_uniform", "headline_mixed", "uniform", "mixed" or "chunk".
        decode_groups: ((context_tokens, count), ...) of the steady decode batch.
        chunk_tokens: new prompt tokens of the prefill chunk beside the decodes (0 = none).
        chunk_prior_tokens: cached tokens before that chunk (its request's prefix).
        priority: 1 = measured first (the premise), 2 = the fitting grid, 3 = while time remains.
        homogeneous: name of the composition with the same batch size and total tokens but one
            context length (what a mixed row is compared with); "" when there is none.

    The decode requests are added in decode_groups order, and vLLM keeps that order in its batch:
    ((long, 1), (short, 63)) puts the long sequence first, ((short, 63), (long, 1)) last.
    """

    name: str
    group: str
    decode_groups: tuple[tuple[int, int], ...] = ()
    chunk_tokens: int = 0
    chunk_prior_tokens: int = 0
    priority: int = 1
    homogeneous: str = ""

    @property
    def is_long_first(self) -> bool:
        """Whether the longest context is added (and batched) before the others."""
        ctxs = [ctx for ctx, _ in self.decode_groups]
        return len(set(ctxs)) > 1 and ctxs[0] == max(ctxs)

    @property
    def num_decodes(self) -> int:
        """Decoding sequences asked for."""
        return sum(count for _, count in self.decode_groups)

    @property
    def decode_context_sum(self) -> int:
        """Sum of the requested decode contexts (before decode growth)."""
        return sum(ctx * count for ctx, count in self.decode_groups)

    @property
    def max_context(self) -> int:
        """Longest prompt this composition needs."""
        ctxs = [ctx for ctx, _ in self.decode_groups]
        return max(ctxs + [self.chunk_prior_tokens + self.chunk_tokens])

    @property
    def kv_tokens(self) -> int:
        """KV tokens the composition holds at once (decodes + the chunk's request)."""
        return self.decode_context_sum + self.chunk_prior_tokens + self.chunk_tokens


def _uniform(n: int, ctx: int, group: str = "uniform") -> Composition:
    return Composition(f"{group}_n{n}_c{ctx}", group, ((ctx, n),))


def _mixed(n_short: int, short: int, k_long: int, long: int, group: str = "mixed") -> Composition:
    name = f"{group}_n{n_short}x{short}_k{k_long}x{long}"
    return Composition(name, group, ((short, n_short), (long, k_long)))


def _chunk(n: int, ctx: int, chunk: int, prior: int) -> Composition:
    groups = ((ctx, n),) if n else ()
    return Composition(f"chunk_n{n}_c{ctx}_C{chunk}_p{prior}", "chunk", groups, chunk, prior)


def headline_pairs(scale: int = 1) -> list[tuple[Composition, Composition]]:
    """Homogeneous vs mixed decode batches with equal batch size and equal total context tokens."""
    specs = [  # (n, uniform ctx, n_short, short ctx, k_long): long ctx fills the same total
        (64, 2048, 63, 1024, 1),
        (128, 1024, 124, 512, 4),
        (32, 4096, 31, 1024, 1),
        (256, 1024, 248, 512, 8),
    ]
    pairs = []
    for n, ctx, n_short, short, k in specs:
        n, n_short, k = max(1, n // scale), max(1, n_short // scale), max(1, k // scale)
        n_short = n - k
        long = (n * ctx - n_short * short) // k
        pairs.append((_uniform(n, ctx, "headline_uniform"), _mixed(n_short, short, k, long, "headline_mixed")))
    return pairs


def full_grid() -> list[Composition]:
    """The grid for a datacenter GPU and an 8B model (filter it with `fit_grid`), in priority order."""
    comps = [c for pair in headline_pairs() for c in pair]
    batch_sizes = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    for ctx in (512, 2048, 8192, 32768, 126976):
        comps += [_uniform(n, ctx) for n in batch_sizes]
    for prior in (0, 16384, 65536):
        for n in (0, 32, 128):
            comps += [_chunk(n, 1024, chunk, prior) for chunk in (512, 2048, 7680)]
    for long, ks in ((16384, (1, 4)), (65536, (1, 2)), (126976, (1,))):
        for n_short in (7, 31, 127, 252):
            comps += [_mixed(n_short, 1024, k, long) for k in ks]
    # Second priority: more contexts and a longer "short" class, measured while time remains.
    for ctx in (1024, 4096, 16384, 65536):
        comps += [_uniform(n, ctx) for n in batch_sizes]
    for long, k in ((32768, 1), (32768, 3), (98304, 1)):
        comps += [_mixed(n_short, 4096, k, long) for n_short in (15, 60)]
    return comps


def smoke_grid() -> list[Composition]:
    """A small grid that runs on any single GPU (and the CPU build) in a few minutes."""
    comps = [c for pair in headline_pairs(scale=4)[:2] for c in pair]
    for ctx in (512, 4096):
        comps += [_uniform(n, ctx) for n in (1, 8, 32)]
    comps += [_mixed(15, 512, 1, 16384), _mixed(31, 512, 1, 8192)]
    comps += [_chunk(n, 512, chunk, 0) for n in (0, 16) for chunk in (256, 1024)]
    comps.append(_chunk(16, 512, 1024, 4096))
    return comps


def fit_grid(
    comps: list[Composition], kv_capacity_tokens: int, max_model_len: int, max_num_batched_tokens: int,
    kv_fraction: float = 0.8, context_margin_tokens: int = 512,
) -> list[Composition]:
    """Drop compositions that would not fit the engine (KV memory, context length, token budget)."""
    kept = []
    for comp in comps:
        if comp.kv_tokens > kv_fraction * kv_capacity_tokens:
            continue
        if comp.max_context > max_model_len - context_margin_tokens:
            continue
        if comp.chunk_tokens + comp.num_decodes > max_num_batched_tokens:
            continue
        kept.append(comp)
    return kept


def build_grid(
    name: str, kv_capacity_tokens: int, max_model_len: int, max_num_batched_tokens: int,
    max_compositions: int | None = None, max_priority: int | None = None,
) -> list[Composition]:
    """The named grid, filtered to what the engine can hold, to priority <= max_priority, then cut."""
    from l4bench.profiling.grid_backend import backend_grid, backend_smoke_grid

    if name == "full":
        comps = full_grid()
    elif name == "smoke":
        comps = smoke_grid()
    elif name == "backend":
        comps = backend_grid()
    elif name == "backend_smoke":
        comps = backend_smoke_grid()
    else:
        raise ConfigError(f"profile.grid: unknown grid {name!r}; valid: {', '.join(GRID_NAMES)}")
    comps = fit_grid(comps, kv_capacity_tokens, max_model_len, max_num_batched_tokens)
    if max_priority is not None:
        comps = [c for c in comps if c.priority <= max_priority]
    return comps[:max_compositions] if max_compositions else comps
