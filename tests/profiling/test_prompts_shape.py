"""Prompt streams (prefix reuse, no sharing within a batch) and step shapes from scheduled sequences."""

from __future__ import annotations

from l4bench.perf.base import BatchShape
from l4bench.profiling.prompts import LONG_SLOT_BASE, chunk_prompt, decode_slots, slot_tokens
from l4bench.profiling.shape import ScheduledSeq, batch_shape, shape_matches


def test_slot_tokens_share_prefixes_and_differ_across_slots():
    long = slot_tokens(3, 10_000, vocab_size=32_000)
    assert slot_tokens(3, 4_100, vocab_size=32_000) == long[:4_100]
    assert slot_tokens(4, 100, vocab_size=32_000) != long[:100]
    assert all(16 <= t < 32_000 - 16 for t in long)
    assert slot_tokens(3, 0, vocab_size=32_000) == []


def test_decode_slots_are_unique_and_long_ones_apart():
    contexts = [1024, 65_536, 1024, 16_384, 512]
    slots = decode_slots(contexts)
    assert len(set(slots)) == len(slots)
    assert slots[1] == LONG_SLOT_BASE and slots[3] == LONG_SLOT_BASE + 1
    assert sorted(slots[i] for i in (0, 2, 4)) == [0, 1, 2]


def test_chunk_prompts_share_the_prefix_only():
    a = chunk_prompt(4096, 512, sample=0, vocab_size=32_000)
    b = chunk_prompt(4096, 512, sample=1, vocab_size=32_000)
    assert len(a) == len(b) == 4608
    assert a[:4096] == b[:4096] and a[4096:] != b[4096:]


def test_batch_shape_from_decodes_and_a_chunk():
    seqs = [ScheduledSeq(1000, 1, 900), ScheduledSeq(5000, 1, 4000), ScheduledSeq(2048, 512, 4096)]
    shape = batch_shape(seqs)
    assert shape == BatchShape(num_prefill_tokens=512, num_prefill_seqs=1,
                               prefill_attention_tokens=512 * (2048 + 256), num_decodes=2,
                               decode_context_sum=1001 + 5001, decode_context_max=5001, decode_context_min=1001)
    assert shape_matches(shape, num_decodes=2, chunk_tokens=512)
    assert not shape_matches(shape, num_decodes=2, chunk_tokens=0)
    assert batch_shape([]) == BatchShape()
