"""Deterministic prompt token ids for requests that carry lengths but no text.

Ids are built per 512-token block. A block with a Mooncake prefix hash gets ids that depend only
on that hash, so requests with equal leading hashes get equal leading ids (their prefix KV cache
really is shareable in the engine). Other blocks depend on (request_id, block index), so distinct
requests do not share by accident. Ids avoid the lowest ids (often special/control tokens) and
the top of the vocabulary (added special tokens, and padding rows of embedding tables that the
tokenizer never produces, e.g. Qwen2.5: 151,665 real ids in a 152,064-row table).
"""

from __future__ import annotations

import numpy as np

from l4bench.types import PREFIX_BLOCK_TOKENS, Request

#: Ids below this are never produced.
MIN_TOKEN_ID = 16
#: This many ids at the top of the vocabulary are never produced.
RESERVED_TOP_IDS = 1024

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Namespaces keep hash-derived and id-derived blocks apart (Python ints: no scalar overflow).
_SALT_HASH = np.uint64((0x5EED_0001 * 0x9E3779B97F4A7C15) % 2**64)
_SALT_REQUEST = np.uint64((0x5EED_0002 * 0x9E3779B97F4A7C15) % 2**64)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer, elementwise on uint64 (wraps modulo 2**64 by design)."""
    x = np.asarray(x, dtype=np.uint64)
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _block_seeds(req: Request, num_blocks: int) -> np.ndarray:
    """One 64-bit seed per block: from the prefix hash where there is one, else from the id."""
    hashes = np.asarray(req.prefix_hash_ids[:num_blocks], dtype=np.int64).astype(np.uint64)
    seeds = _mix(hashes + _SALT_HASH)
    num_rest = num_blocks - len(hashes)
    if num_rest > 0:
        blocks = np.arange(len(hashes), num_blocks, dtype=np.uint64)
        rid = np.array([req.request_id], dtype=np.int64).astype(np.uint64)
        base = _mix(rid + _SALT_REQUEST)
        seeds = np.concatenate([seeds, _mix(base ^ (blocks * _GOLDEN))])
    return seeds


def prompt_token_ids(req: Request, vocab_size: int) -> list[int]:
    """Exactly req.prompt_tokens ids in [MIN_TOKEN_ID, vocab_size - RESERVED_TOP_IDS)."""
    span = vocab_size - RESERVED_TOP_IDS - MIN_TOKEN_ID
    if span < 256:
        raise ValueError(f"vocab_size {vocab_size} too small for synthetic token ids")
    n = req.prompt_tokens
    num_blocks = -(-n // PREFIX_BLOCK_TOKENS)
    seeds = _block_seeds(req, num_blocks)
    pos = np.arange(n, dtype=np.uint64)
    keys = np.repeat(seeds, PREFIX_BLOCK_TOKENS)[:n] + (pos % np.uint64(PREFIX_BLOCK_TOKENS)) * _GOLDEN
    ids = _mix(keys) % np.uint64(span) + np.uint64(MIN_TOKEN_ID)
    out: list[int] = ids.astype(np.int64).tolist()
    return out


#: Prefix of each word of the text form (tiny-llama's word-level tokenizer maps "t<id>" to id).
TOKEN_WORD_PREFIX = "t"


def token_ids_as_text(ids: list[int]) -> str:
    """The text form "t17 t523 ..." of ids: one word per token, for routers that take text only.

    tiny-llama's tokenizer (scripts/make_tiny_tokenizer.py) encodes it back to exactly these ids, so
    a text-only router replays the same prompts, token for token, as a token-id one. Other models'
    tokenizers do not: the text form is only meaningful with that word-level vocabulary.
    """
    return " ".join(f"{TOKEN_WORD_PREFIX}{int(i)}" for i in ids)
