"""Decode batch compositions of the kernel benchmark: equal batch size and total context tokens.

Per size (B sequences, T = B x homogeneous length): the homogeneous batch; one long sequence
among B-1 short ones, long first and long last; a few long ones (4 by default) among B-4 short
ones, first and last; and each part alone, so a mixed batch can be set against the sum of its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from l4bench.errors import ConfigError

#: kinds of composition, as written in the CSV
HOMOGENEOUS, MIXED, PART, CHECK = "homogeneous", "mixed", "part", "check"


@dataclass(frozen=True)
class Composition:
    """One decode batch: per-sequence context lengths (tokens, the new token included) in batch order."""

    name: str
    kind: str
    seq_lens: tuple[int, ...]
    size_label: str  # the B x L size it belongs to, e.g. "64x2048"
    homogeneous: str = ""  # name of the homogeneous batch of the same size (mixed only)
    parts: tuple[str, ...] = ()  # names of the part-alone batches whose sum is the split time (mixed only)
    long_position: str = ""  # "first" / "last" (mixed only)

    @property
    def batch_size(self) -> int:
        """Number of sequences."""
        return len(self.seq_lens)

    @property
    def total_tokens(self) -> int:
        """Sum of the context lengths."""
        return sum(self.seq_lens)

    @property
    def max_seq_len(self) -> int:
        """Longest context in the batch."""
        return max(self.seq_lens)


def split_evenly(total_tokens: int, count: int) -> list[int]:
    """`count` lengths that differ by at most one and sum to exactly `total_tokens` (longer ones first)."""
    if count <= 0 or total_tokens < count:
        raise ConfigError(f"compositions: cannot split {total_tokens} tokens into {count} sequences of >= 1")
    base, extra = divmod(total_tokens, count)
    return [base + 1] * extra + [base] * (count - extra)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'64x2048,256x1024' -> [(64, 2048), (256, 1024)] (batch size x homogeneous context length)."""
    sizes = []
    for item in text.split(","):
        try:
            b, length = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--sizes: {item!r} is not BxL (e.g. 64x2048)") from None
        if b < 2 or length < 1:
            raise ConfigError(f"--sizes: {item!r} needs B >= 2 and L >= 1")
        sizes.append((b, length))
    return sizes


def size_grid(batch_size: int, homog_len: int, long_tokens: int = 65536, num_few: int = 4) -> list[Composition]:
    """The compositions of one size: homogeneous, 1 long and `num_few` long (first/last), parts alone."""
    total = batch_size * homog_len
    label = f"{batch_size}x{homog_len}"
    if not 1 < num_few < batch_size or long_tokens >= total or long_tokens % num_few:
        raise ConfigError(f"compositions: size {label} cannot hold {long_tokens} long tokens in 1 and {num_few} seqs")
    homog = Composition(f"b{batch_size}_homog", HOMOGENEOUS, (homog_len,) * batch_size, label)
    comps = [homog]
    for num_long in (1, num_few):
        longs = [long_tokens // num_long] * num_long
        shorts = split_evenly(total - long_tokens, batch_size - num_long)
        if max(shorts) >= min(longs):
            raise ConfigError(f"compositions: size {label}: the 'short' sequences are not shorter than the long ones")
        stem = f"b{batch_size}_{num_long}long"
        long_part = Composition(f"{stem}_alone", PART, tuple(longs), label)
        short_part = Composition(f"{stem}_shorts_alone", PART, tuple(shorts), label)
        for position, lens in (("first", longs + shorts), ("last", shorts + longs)):
            comps.append(
                Composition(
                    f"{stem}_{position}", MIXED, tuple(lens), label,
                    homogeneous=homog.name, parts=(long_part.name, short_part.name), long_position=position,
                )
            )
        comps += [long_part, short_part]
    return comps


def build_grid(sizes: list[tuple[int, int]], long_tokens: int = 65536, num_few: int = 4) -> list[Composition]:
    """All compositions of all sizes; names are unique."""
    comps = [c for b, length in sizes for c in size_grid(b, length, long_tokens, num_few)]
    names = [c.name for c in comps]
    if len(names) != len(set(names)):
        raise ConfigError("--sizes: each batch size may appear only once")
    return comps


def check_grid() -> list[Composition]:
    """Small batches for the correctness check: partial last blocks; 5 seqs (Triton's 3D path) and 24 (2D)."""
    few = (1, 17, 300, 1000, 2049)
    many = (4000,) + tuple(10 + 37 * i for i in range(23))
    return [
        Composition("check_5seqs", CHECK, few, "check"),
        Composition("check_24seqs_1long", CHECK, many, "check"),
    ]
