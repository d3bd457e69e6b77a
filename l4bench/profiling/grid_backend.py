"""The per-backend grid: is a batch that mixes long and short contexts slower than a homogeneous one?

Every mixed composition has a homogeneous twin of the same batch size and total context tokens
(64 x 2k vs 63 x 1k + 1 x 64k), with the long sequence(s) added last and, for the one-long cases,
also first; the two parts of the main pair alone (split); prefill chunks beside the homogeneous and
the mixed batch; and a uniform grid for fitting. It is sized so its prompts (about 0.6 M distinct
tokens) stay in an 8B model's prefix cache on an H200 (about 0.85 M tokens), so only the first pass
pays for prefills and three shuffled passes take about two minutes of measurement there.
"""

from __future__ import annotations

from l4bench.profiling.grid import Composition
from l4bench.profiling.prompts import LONG_CONTEXT_TOKENS


def uniform(n: int, ctx: int, group: str = "uniform", priority: int = 2) -> Composition:
    """n decodes of context ctx."""
    return Composition(f"{group}_n{n}_c{ctx}", group, ((ctx, n),), priority=priority)


def mixed_pair(twin: Composition, short: int, k_long: int, group: str = "mixed", long_first: bool = False,
               priority: int = 1) -> Composition:
    """twin's batch size and total tokens as k_long long decodes among decodes of `short` tokens."""
    n, total = twin.num_decodes, twin.decode_context_sum
    n_short = n - k_long
    long = (total - n_short * short) // k_long
    groups = ((long, k_long), (short, n_short)) if long_first else ((short, n_short), (long, k_long))
    order = "_lfirst" if long_first else ""
    return Composition(f"{group}_n{n_short}x{short}_k{k_long}x{long}{order}", group, groups, priority=priority,
                       homogeneous=twin.name)


def _body(comp: Composition) -> str:
    """The composition's name without its group prefix ("n64_c2048"); "n0" for no decodes."""
    return comp.name[len(comp.group) + 1:] if comp.decode_groups else "n0"


def chunk_beside(decodes: Composition, chunk: int, prior: int = 0, priority: int = 1,
                 twin: Composition | None = None) -> Composition:
    """One prefill chunk of `chunk` new tokens (after `prior` cached ones) beside `decodes`."""
    twin_name = f"chunk_{_body(twin)}_C{chunk}_p{prior}" if twin is not None else ""
    return Composition(f"chunk_{_body(decodes)}_C{chunk}_p{prior}", "chunk", decodes.decode_groups, chunk, prior,
                       priority, twin_name)


def _pairs(specs: list[tuple[int, int, int, tuple[int, ...], bool]], priority: int,
           headline: bool = True) -> list[Composition]:
    comps = []
    for n, total, short, ks, first in specs:
        twin = uniform(n, total // n, "headline_uniform" if headline else "uniform", priority)
        comps.append(twin)
        for i, k in enumerate(ks):
            group = "headline_mixed" if headline and i == 0 else "mixed"
            comps.append(mixed_pair(twin, short, k, group, priority=priority))
        if first:
            comps.append(mixed_pair(twin, short, 1, "mixed", True, priority))
    return comps


def backend_grid() -> list[Composition]:
    """The grid `scripts/gpu_profiles.sh` measures per attention backend, in priority order."""
    comps = _pairs([  # (n, total tokens, short ctx, long counts (first = the headline), long-first variant)
        (64, 131072, 1024, (1, 4), True),
        (128, 131072, 512, (4, 1), True),
        (32, 131072, 1024, (1,), True),
        (256, 131072, 256, (4,), False),
        (16, 65536, 1024, (1,), False),
    ], priority=1)
    main_uniform, main_mixed = comps[0], comps[1]
    (short, n_short), (long, _) = main_mixed.decode_groups
    comps += [uniform(n_short, short, "split", 1), uniform(1, long, "split", 1)]
    for chunk in (2048, 7680):
        comps += [chunk_beside(main_uniform, chunk), chunk_beside(main_mixed, chunk, twin=main_uniform)]
    # Priority 2: the uniform and chunk grid a perf model is fitted on.
    for ctx, sizes in ((512, (1, 4, 16, 64)), (2048, (1, 4, 16)), (8192, (1, 4, 16)), (32768, (1, 2)),
                       (126976, (1,))):
        comps += [uniform(n, ctx) for n in sizes]
    empty = Composition("n0", "chunk")
    comps += [chunk_beside(empty, c, 0, 2) for c in (512, 2048, 7680)]
    comps += [chunk_beside(empty, 2048, p, 2) for p in (16384, 65536)]
    comps += [chunk_beside(uniform(32, 1024), c, 0, 2) for c in (512, 2048)]
    # Priority 3: a longer "short" class, two long among many, a small batch.
    comps += _pairs([(16, 131072, 4096, (1,), False), (8, 32768, 1024, (1,), False)], 3, headline=False)
    comps.append(mixed_pair(main_uniform, 1024, 2, priority=3))
    return _dedupe(comps)


def backend_smoke_grid() -> list[Composition]:
    """The same kinds of rows at CPU / small-GPU scale (tiny models, a few thousand tokens of KV)."""
    comps = _pairs([(16, 8192, 256, (1,), True), (8, 4096, 256, (1,), False)], priority=1)
    comps += [uniform(15, 256, "split", 1), uniform(1, comps[1].decode_groups[1][0], "split", 1)]
    comps += [chunk_beside(comps[0], 512), chunk_beside(comps[1], 512, twin=comps[0])]
    comps += [uniform(n, 512) for n in (1, 8)] + [chunk_beside(Composition("n0", "chunk"), 256, 0, 2)]
    return _dedupe(comps)


def _dedupe(comps: list[Composition]) -> list[Composition]:
    seen: set[str] = set()
    out = []
    for comp in comps:
        if comp.name not in seen:
            seen.add(comp.name)
            out.append(comp)
    return out


def prompt_union_tokens(comps: list[Composition]) -> int:
    """Distinct prompt tokens the compositions' decode prompts need (prompts.decode_slots layout).

    Short slot i holds the longest short context any composition puts there, long slot j likewise;
    this is what must fit in the prefix cache for passes after the first to skip prefills.
    """
    short: dict[int, int] = {}
    long: dict[int, int] = {}
    for comp in comps:
        ctxs = sorted((ctx for ctx, count in comp.decode_groups for _ in range(count)), reverse=True)
        longs = [c for c in ctxs if c >= LONG_CONTEXT_TOKENS]
        shorts = [c for c in ctxs if c < LONG_CONTEXT_TOKENS]
        for slots, values in ((long, longs), (short, shorts)):
            for i, ctx in enumerate(values):
                slots[i] = max(slots.get(i, 0), ctx)
    prefix = max((c.chunk_prior_tokens for c in comps), default=0)
    return sum(short.values()) + sum(long.values()) + prefix
