"""Deterministic token-id prompts whose prefixes repeat across compositions (so vLLM's prefix cache
skips re-prefilling them) but never repeat within one batch (no shared KV blocks in a measured step).

Slot s is an endless token stream; a request of context c in slot s takes its first c tokens. The
i-th long request of a batch (context >= LONG_CONTEXT_TOKENS) takes slot LONG_SLOT_BASE + i, the
others slots 0, 1, ...; a prefill chunk takes a fresh slot per sample after a shared cached prefix.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK = 4096
LONG_CONTEXT_TOKENS = 16384
LONG_SLOT_BASE = 100_000
PREFIX_SLOT_BASE = 200_000
FRESH_SLOT_BASE = 1_000_000


@lru_cache(maxsize=1024)
def _block(seed: int, slot: int, index: int, vocab_size: int) -> np.ndarray:
    rng = np.random.default_rng([seed, slot, index])
    # Stay clear of the low ids (special tokens in most vocabularies) and the very top.
    return rng.integers(16, max(17, vocab_size - 16), size=BLOCK, dtype=np.int64)


def slot_tokens(slot: int, num_tokens: int, vocab_size: int, seed: int = 0) -> list[int]:
    """The first `num_tokens` ids of slot `slot`'s stream (same prefix for every length)."""
    if num_tokens <= 0:
        return []
    blocks = [_block(seed, slot, index, vocab_size) for index in range(-(-num_tokens // BLOCK))]
    return [int(t) for t in np.concatenate(blocks)[:num_tokens].tolist()]


def decode_slots(contexts: list[int]) -> list[int]:
    """Slot of each decode request (given its context), long ones apart from short ones."""
    order = sorted(range(len(contexts)), key=lambda i: -contexts[i])
    slots = [0] * len(contexts)
    num_long = num_short = 0
    for i in order:
        if contexts[i] >= LONG_CONTEXT_TOKENS:
            slots[i], num_long = LONG_SLOT_BASE + num_long, num_long + 1
        else:
            slots[i], num_short = num_short, num_short + 1
    return slots


def chunk_prompt(prior_tokens: int, chunk_tokens: int, sample: int, vocab_size: int, seed: int = 0) -> list[int]:
    """A prompt whose first `prior_tokens` are shared (cacheable) and whose last `chunk_tokens` are new."""
    prefix = slot_tokens(PREFIX_SLOT_BASE, prior_tokens, vocab_size, seed)
    return prefix + slot_tokens(FRESH_SLOT_BASE + sample, chunk_tokens, vocab_size, seed)
