"""Stage layout: which bins and which instances each stage holds, and sticky re-assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l4bench.l4.histogram import IntArray


@dataclass(frozen=True)
class StageLayout:
    """Stages as exclusive end bins (last == K) and their member instance ids (sorted)."""

    end_bins: tuple[int, ...]
    members: tuple[tuple[int, ...], ...]

    @property
    def num_stages(self) -> int:
        """Number of stages."""
        return len(self.end_bins)

    @property
    def start_bins(self) -> tuple[int, ...]:
        """Inclusive first bin of each stage."""
        return (0, *self.end_bins[:-1])

    @property
    def instances_per_stage(self) -> tuple[int, ...]:
        """Instance count of each stage."""
        return tuple(len(m) for m in self.members)

    def stage_of_bin(self) -> IntArray:
        """Array mapping bin index -> stage index."""
        out = np.zeros(self.end_bins[-1], dtype=np.int64)
        for s, (a, b) in enumerate(zip(self.start_bins, self.end_bins, strict=True)):
            out[a:b] = s
        return out

    def stage_of_instance(self, num_instances: int) -> tuple[int, ...]:
        """Stage index of every instance id 0..num_instances-1 (-1 if in none)."""
        out = [-1] * num_instances
        for s, mem in enumerate(self.members):
            for iid in mem:
                out[iid] = s
        return tuple(out)

    def with_end_bins(self, end_bins: tuple[int, ...]) -> StageLayout:
        """Same members, new boundaries (refinement)."""
        return StageLayout(end_bins, self.members)


def contiguous_layout(end_bins: tuple[int, ...], counts: tuple[int, ...]) -> StageLayout:
    """Instances 0..N-1 handed to stages in order (stage 0 gets the lowest ids)."""
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    members = tuple(tuple(range(int(starts[s]), int(starts[s + 1]))) for s in range(len(counts)))
    return StageLayout(end_bins, members)


def reassign(old: StageLayout, end_bins: tuple[int, ...], counts: tuple[int, ...]) -> StageLayout:
    """Move as few instances as possible to reach the new boundaries and counts.

    Each instance prefers the new stage holding the middle bin of its old stage; a stage keeps up
    to its count of those (lowest ids first); the rest fill stages still short, in stage order.
    """
    new = StageLayout(end_bins, tuple(() for _ in end_bins))
    new_stage = new.stage_of_bin()
    wants: list[list[int]] = [[] for _ in end_bins]
    for s, mem in enumerate(old.members):
        mid = (old.start_bins[s] + old.end_bins[s] - 1) // 2
        t = int(new_stage[min(mid, len(new_stage) - 1)])
        wants[t].extend(mem)
    kept = [sorted(w)[:c] for w, c in zip(wants, counts, strict=True)]
    pool = sorted(iid for w, c in zip(wants, counts, strict=True) for iid in sorted(w)[c:])
    for t, c in enumerate(counts):
        while len(kept[t]) < c and pool:
            kept[t].append(pool.pop(0))
    return StageLayout(end_bins, tuple(tuple(sorted(k)) for k in kept))
