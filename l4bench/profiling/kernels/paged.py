"""A paged KV cache in vLLM's layout, one decode batch on it, and the fp32 reference attention (torch).

vLLM's FLASH_ATTN, TRITON_ATTN and FLASHINFER (NHD) backends all keep one layer's cache as
(num_blocks, 2, block_size, num_kv_heads, head_size); a sequence's blocks are listed in its row of
the block table (int32, padded with 0) and its last block may be partly filled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from l4bench.profiling.kernels.compositions import Composition


@dataclass(frozen=True)
class AttentionShape:
    """One attention layer: heads, head size, dtype name, KV block size."""

    num_q_heads: int = 32
    num_kv_heads: int = 8
    head_dim: int = 128
    dtype: str = "bfloat16"
    block_size: int = 16

    @property
    def scale(self) -> float:
        """Softmax scale as vLLM's Attention layer sets it: head_size ** -0.5."""
        return float(self.head_dim) ** -0.5

    @property
    def torch_dtype(self) -> torch.dtype:
        """The torch dtype of q, KV and output."""
        return getattr(torch, self.dtype)


@dataclass
class PagedBatch:
    """Device tensors of one decode batch (one query token per sequence) over a shared KV pool."""

    comp: Composition
    query: torch.Tensor  # (B, Hq, D)
    kv_cache: torch.Tensor  # (num_blocks, 2, block_size, Hkv, D)
    block_table: torch.Tensor  # (B, max_blocks) int32
    seq_lens: torch.Tensor  # (B,) int32
    cu_seqlens_q: torch.Tensor  # (B+1,) int32: 0..B
    out: torch.Tensor  # (B, Hq, D), written by the backend
    seq_lens_cpu: np.ndarray  # (B,) int32
    num_blocks_cpu: np.ndarray  # (B,) blocks per sequence

    @property
    def max_seq_len(self) -> int:
        """Longest context (max_seqlen_k)."""
        return int(self.seq_lens_cpu.max())


def blocks_needed(seq_lens: tuple[int, ...], block_size: int) -> int:
    """KV blocks the sequences occupy together."""
    return sum(math.ceil(n / block_size) for n in seq_lens)


def make_kv_pool(num_blocks: int, shape: AttentionShape, device: Any, gen: torch.Generator) -> torch.Tensor:
    """A KV cache of `num_blocks` blocks filled with N(0, 1) values (made in fp32 on the device, then cast)."""
    dims = (num_blocks, 2, shape.block_size, shape.num_kv_heads, shape.head_dim)
    pool = torch.empty(dims, dtype=shape.torch_dtype, device=device)
    for i in range(0, num_blocks, 4096):  # chunks: no fp32 copy of the whole pool
        chunk = torch.randn((min(4096, num_blocks - i),) + dims[1:], generator=gen, device=device)
        pool[i : i + chunk.shape[0]] = chunk.to(shape.torch_dtype)
    return pool


def make_batch(
    comp: Composition, pool: torch.Tensor, shape: AttentionShape, rng: np.random.Generator, gen: torch.Generator
) -> PagedBatch:
    """A decode batch whose sequences use distinct pool blocks in shuffled order (a long-running server's free list)."""
    device = pool.device
    bs = shape.block_size
    num_blocks = np.array([math.ceil(n / bs) for n in comp.seq_lens], dtype=np.int64)
    if int(num_blocks.sum()) > pool.shape[0]:
        raise ValueError(f"{comp.name}: needs {int(num_blocks.sum())} KV blocks, pool has {pool.shape[0]}")
    ids = rng.permutation(pool.shape[0])[: int(num_blocks.sum())]
    table = np.zeros((comp.batch_size, int(num_blocks.max())), dtype=np.int32)
    start = 0
    for i, nb in enumerate(num_blocks):
        table[i, :nb] = ids[start : start + nb]
        start += nb
    b = comp.batch_size
    query = torch.randn((b, shape.num_q_heads, shape.head_dim), generator=gen, device=device).to(shape.torch_dtype)
    seq_lens_cpu = np.asarray(comp.seq_lens, dtype=np.int32)
    return PagedBatch(
        comp=comp,
        query=query,
        kv_cache=pool,
        block_table=torch.from_numpy(table).to(device),
        seq_lens=torch.from_numpy(seq_lens_cpu).to(device),
        cu_seqlens_q=torch.arange(b + 1, dtype=torch.int32, device=device),
        out=torch.zeros_like(query),
        seq_lens_cpu=seq_lens_cpu,
        num_blocks_cpu=num_blocks,
    )


def reference_attention(batch: PagedBatch, scale: float) -> torch.Tensor:
    """fp32 decode attention by plain gather of each sequence's pages: softmax(q K^T * scale) V, GQA groups."""
    b, hq, d = batch.query.shape
    hkv = batch.kv_cache.shape[3]
    group = hq // hkv
    out = torch.empty((b, hq, d), dtype=torch.float32, device=batch.query.device)
    table = batch.block_table.cpu().numpy()
    for i in range(b):
        n = int(batch.seq_lens_cpu[i])
        blocks = torch.as_tensor(table[i, : int(batch.num_blocks_cpu[i])], dtype=torch.long, device=batch.kv_cache.device)
        kv = batch.kv_cache.index_select(0, blocks).float()  # (nb, 2, bs, Hkv, D)
        k = kv[:, 0].reshape(-1, hkv, d)[:n]  # (n, Hkv, D)
        v = kv[:, 1].reshape(-1, hkv, d)[:n]
        q = batch.query[i].float().view(hkv, group, d)  # q head h uses kv head h // group
        logits = torch.einsum("kgd,nkd->kgn", q, k) * scale
        probs = torch.softmax(logits, dim=-1)
        out[i] = torch.einsum("kgn,nkd->kgd", probs, v).reshape(hq, d)
    return out
