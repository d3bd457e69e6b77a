"""Decode-attention backends, each called as vLLM 0.25.0's attention backend calls it for a pure-decode batch.

Sources followed (vllm 0.25.0): v1/attention/backends/flash_attn.py (FlashAttentionMetadataBuilder.build,
FlashAttentionImpl.forward), triton_attn.py (TritonAttentionMetadataBuilder, TritonAttentionImpl.forward),
flashinfer.py (FlashInferMetadataBuilder._get_decode_wrapper / build / fast_plan_decode,
FlashInferImpl.forward). Settings are those of vLLM's default serving mode on Hopper: full CUDA graphs for
decode batches up to the largest capture size (512), block size 16, bf16 KV cache ("auto"), NHD layout,
no sliding window, no soft cap, no ALiBi, no sinks. Imports happen in the constructors, so a backend
whose extension is missing fails alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from l4bench.profiling.kernels.paged import AttentionShape, PagedBatch

Launch = Callable[[], None]

#: vLLM's default CUDA-graph capture sizes below 256 (config/vllm.py _set_cudagraph_sizes)
CAPTURE_SIZES_BELOW_256 = [1, 2, 4] + list(range(8, 256, 8))
MAX_CUDAGRAPH_CAPTURE_SIZE = 512  # min(2 * max_num_seqs, 512) with the default max_num_seqs


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing extension or package); the message is one line."""


class FlashAttnBackend:
    """vllm.vllm_flash_attn.flash_attn_varlen_func, FA3 with get_scheduler_metadata (AOT schedule) or FA2."""

    def __init__(self, shape: AttentionShape, device: Any, fa_version: int, cudagraph: bool = True) -> None:
        from vllm.vllm_flash_attn import (
            fa_version_unsupported_reason,
            flash_attn_varlen_func,
            get_scheduler_metadata,
            is_fa_version_supported,
        )

        if not is_fa_version_supported(fa_version):
            raise BackendUnavailable(str(fa_version_unsupported_reason(fa_version)).splitlines()[0])
        self.shape, self.device, self.fa_version, self.cudagraph = shape, device, fa_version, cudagraph
        self._fwd, self._schedule = flash_attn_varlen_func, get_scheduler_metadata
        self.aot_schedule = fa_version == 3  # builder: self.aot_schedule = get_flash_attn_version() == 3
        # builder: max_num_splits = attention_config.flash_attn_max_num_splits_for_cuda_graph (32) only when
        # full cudagraphs + AOT schedule and num_actual_tokens <= max_cudagraph_capture_size; else 0 (heuristic)
        self.max_num_splits = 32 if (cudagraph and self.aot_schedule) else 0
        self.scale_one = torch.ones((), dtype=torch.float32, device=device)  # layer._q/_k/_v_scale

    def settings(self) -> dict[str, Any]:
        """The call's settings, for the provenance file."""
        return {"fa_version": self.fa_version, "aot_schedule": self.aot_schedule,
                "max_num_splits_arg": self.max_num_splits, "full_cudagraph_mode": self.cudagraph}

    def path(self, batch: PagedBatch) -> str:
        """num_splits passed for this batch (0 = FA's heuristic)."""
        return f"num_splits={self._num_splits(batch)}"

    def _num_splits(self, batch: PagedBatch) -> int:
        return self.max_num_splits if batch.comp.batch_size <= MAX_CUDAGRAPH_CAPTURE_SIZE else 0

    def prepare(self, batch: PagedBatch) -> Launch:
        """Metadata as FlashAttentionMetadataBuilder.build makes it, then the forward call of FlashAttentionImpl."""
        s, b = self.shape, batch.comp.batch_size
        num_splits = self._num_splits(batch)
        sched = None
        if self.aot_schedule:
            sched = self._schedule(
                batch_size=b, max_seqlen_q=1, max_seqlen_k=batch.max_seq_len,
                num_heads_q=s.num_q_heads, num_heads_kv=s.num_kv_heads, headdim=s.head_dim,
                cache_seqlens=batch.seq_lens, qkv_dtype=s.torch_dtype, cu_seqlens_q=batch.cu_seqlens_q,
                page_size=s.block_size, causal=True, window_size=(-1, -1), num_splits=num_splits,
            )
        key_cache, value_cache = batch.kv_cache.unbind(1)
        descale = self.scale_one.expand((b, s.num_kv_heads))  # (num_seqs, num_kv_heads)
        kwargs = dict(
            q=batch.query, k=key_cache, v=value_cache, out=batch.out,
            cu_seqlens_q=batch.cu_seqlens_q, max_seqlen_q=1, seqused_k=batch.seq_lens,
            max_seqlen_k=batch.max_seq_len, softmax_scale=s.scale, causal=True, alibi_slopes=None,
            window_size=[-1, -1], block_table=batch.block_table, softcap=0,
            scheduler_metadata=sched, fa_version=self.fa_version,
            q_descale=descale, k_descale=descale, v_descale=descale,
            dynamic_causal=None, num_splits=num_splits, s_aux=None, mask_mod=None, aux_tensors=None,
        )
        fwd = self._fwd
        return lambda: fwd(**kwargs)


def triton_seq_threshold_3d(num_kv_heads: int, cudagraph: bool = True) -> int:
    """TritonAttentionMetadataBuilder.seq_threshold_3D: 128 // kv heads, moved to the closest capture size."""
    from vllm.v1.attention.backends.triton_attn import MIN_LAUNCH_GRID_SIZE_2D

    threshold = MIN_LAUNCH_GRID_SIZE_2D // num_kv_heads
    if cudagraph:
        threshold = min(CAPTURE_SIZES_BELOW_256, key=lambda x: abs(x - threshold))
    return threshold


class TritonUnifiedBackend:
    """vllm.v1.attention.ops.triton_unified_attention.unified_attention with TRITON_ATTN's 3D segment buffers."""

    def __init__(self, shape: AttentionShape, device: Any, cudagraph: bool = True) -> None:
        from vllm.v1.attention.backends.triton_attn import NUM_PAR_SOFTMAX_SEGMENTS
        from vllm.v1.attention.ops.triton_unified_attention import unified_attention
        from vllm.v1.kv_cache_interface import get_kv_quant_mode

        self.shape, self._fwd = shape, unified_attention
        self.kv_quant_mode = get_kv_quant_mode("auto")
        self.seq_threshold_3d = triton_seq_threshold_3d(shape.num_kv_heads, cudagraph)
        self.num_segments = NUM_PAR_SOFTMAX_SEGMENTS
        head_padded = 1 << (shape.head_dim - 1).bit_length()  # next_power_of_2
        t, h = self.seq_threshold_3d, shape.num_q_heads
        f32 = dict(dtype=torch.float32, device=device)
        self.segm_output = torch.empty((t, h, self.num_segments, head_padded), **f32)
        self.segm_max = torch.empty((t, h, self.num_segments), **f32)
        self.segm_expsum = torch.empty((t, h, self.num_segments), **f32)
        self.scale_one = torch.ones((), dtype=torch.float32, device=device)

    def settings(self) -> dict[str, Any]:
        """The call's settings, for the provenance file."""
        return {"seq_threshold_3D": self.seq_threshold_3d, "num_par_softmax_segments": self.num_segments,
                "rule": "3D (split softmax segments) iff max_seqlen_q == 1 and num_seqs <= seq_threshold_3D"}

    def path(self, batch: PagedBatch) -> str:
        """'3D' or '2D', by unified_attention's selection rule for a decode batch."""
        return "3D" if batch.comp.batch_size <= self.seq_threshold_3d else "2D"

    def prepare(self, batch: PagedBatch) -> Launch:
        """The arguments of TritonAttentionImpl.forward (bf16 KV cache: q_descale None, k/v descale expanded)."""
        s, b = self.shape, batch.comp.batch_size
        key_cache, value_cache = batch.kv_cache.unbind(1)
        descale = self.scale_one.expand((b, key_cache.shape[2]))
        kwargs = dict(
            q=batch.query, k=key_cache, v=value_cache, out=batch.out, cu_seqlens_q=batch.cu_seqlens_q,
            max_seqlen_q=1, seqused_k=batch.seq_lens, max_seqlen_k=batch.max_seq_len, softmax_scale=s.scale,
            causal=True, alibi_slopes=None, use_alibi_sqrt=False, window_size=(-1, -1),
            block_table=batch.block_table, softcap=0, q_descale=None, k_descale=descale, v_descale=descale,
            seq_threshold_3D=self.seq_threshold_3d, num_par_softmax_segments=self.num_segments,
            softmax_segm_output=self.segm_output, softmax_segm_max=self.segm_max,
            softmax_segm_expsum=self.segm_expsum, sinks=None, output_scale=None, mm_prefix_range=None,
            rswa_prefix_lens=None, rswa_window=None, kv_quant_mode=self.kv_quant_mode,
            k_scale_cache=None, v_scale_cache=None, chunk_lookback=-1, use_td=False,
            mm_prefix_clamp_sliding_window=False,
        )
        fwd = self._fwd
        return lambda: fwd(**kwargs)


class FlashInferDecodeBackend:
    """flashinfer.BatchDecodeWithPagedKVCacheWrapper, one CUDA-graph wrapper per batch size, use_tensor_cores=True."""

    WORKSPACE_BYTES = 394 * 1024 * 1024  # envs.VLLM_FLASHINFER_WORKSPACE_BUFFER_SIZE default

    def __init__(self, shape: AttentionShape, device: Any, max_pages: int) -> None:
        import flashinfer
        from flashinfer import BatchDecodeWithPagedKVCacheWrapper

        try:  # vLLM's own planner: wrapper.plan on the first call, flashinfer's fast_decode_plan after
            from vllm.v1.attention.backends.flashinfer import fast_plan_decode

            self._plan: Callable[..., None] = fast_plan_decode
            self.plan_fn = "vllm.v1.attention.backends.flashinfer.fast_plan_decode"
        except ImportError:
            self._plan = BatchDecodeWithPagedKVCacheWrapper.plan
            self.plan_fn = "BatchDecodeWithPagedKVCacheWrapper.plan (vLLM's fast_plan_decode not importable)"
        self.version = getattr(flashinfer, "__version__", "?")
        self.shape, self.device, self._cls = shape, device, BatchDecodeWithPagedKVCacheWrapper
        self.workspace = torch.zeros(self.WORKSPACE_BYTES, dtype=torch.uint8, device=device)
        self.indices_buf = torch.zeros(max_pages, dtype=torch.int32, device=device)
        self.wrappers: dict[int, tuple[Any, torch.Tensor, torch.Tensor]] = {}

    def settings(self) -> dict[str, Any]:
        """The call's settings, for the provenance file."""
        return {"flashinfer": self.version, "use_tensor_cores": True, "use_cuda_graph": True,
                "kv_layout": "NHD", "backend": "auto", "workspace_bytes": self.WORKSPACE_BYTES,
                "plan": self.plan_fn, "fixed_split_size": -1, "disable_split_kv": False}

    def path(self, batch: PagedBatch) -> str:
        """Nothing to report: the split plan is internal to flashinfer."""
        return ""

    def _wrapper(self, b: int) -> tuple[Any, torch.Tensor, torch.Tensor]:
        if b not in self.wrappers:  # FlashInferMetadataBuilder._get_decode_wrapper(batch_size, use_cudagraph=True)
            indptr_buf = torch.zeros(b + 1, dtype=torch.int32, device=self.device)
            last_buf = torch.zeros(b, dtype=torch.int32, device=self.device)
            wrapper = self._cls(
                self.workspace, "NHD", use_cuda_graph=True, paged_kv_indptr_buffer=indptr_buf,
                paged_kv_indices_buffer=self.indices_buf, paged_kv_last_page_len_buffer=last_buf,
                use_tensor_cores=True, backend="auto",
            )
            self.wrappers[b] = (wrapper, indptr_buf, last_buf)
        return self.wrappers[b]

    def prepare(self, batch: PagedBatch) -> Launch:
        """_compute_flashinfer_kv_metadata + fast_plan_decode as in build(), then FlashInferImpl.forward's run()."""
        s, b = self.shape, batch.comp.batch_size
        wrapper, indptr_buf, last_buf = self._wrapper(b)
        # the builder writes indptr / indices / last_page_len into the GPU buffers the CUDA-graph wrapper
        # was built on (fast_decode_plan, used from the second plan on, copies none of them)
        indptr = torch.zeros(b + 1, dtype=torch.int32)
        indptr[1:] = torch.from_numpy(batch.num_blocks_cpu.cumsum().astype("int32"))
        num_pages = int(indptr[-1])
        rows = [batch.block_table[i, : int(n)] for i, n in enumerate(batch.num_blocks_cpu)]
        self.indices_buf[:num_pages].copy_(torch.cat(rows))
        last_np = batch.seq_lens_cpu % s.block_size
        last_np[(last_np == 0) & (batch.seq_lens_cpu != 0)] = s.block_size
        last = torch.from_numpy(last_np.astype("int32"))
        indptr_buf.copy_(indptr)
        last_buf.copy_(last)
        self._plan(
            wrapper, indptr, self.indices_buf[:num_pages], last,
            num_qo_heads=s.num_q_heads, num_kv_heads=s.num_kv_heads, head_dim=s.head_dim,
            page_size=s.block_size, pos_encoding_mode="NONE", sm_scale=s.scale, window_left=-1,
            logits_soft_cap=None, q_data_type=s.torch_dtype, kv_data_type=s.torch_dtype,
            o_data_type=s.torch_dtype, fixed_split_size=-1, disable_split_kv=False,
        )
        q, kv, out = batch.query, batch.kv_cache, batch.out  # NHD: stride order identity, no permute
        return lambda: wrapper.run(q, kv, q_scale=1.0, k_scale=1.0, v_scale=1.0, out=out, kv_cache_sf=None)


def sglang_backend(shape: AttentionShape, device: Any) -> None:
    """SGLang's triton decode kernel: only where sglang is installed (not implemented yet)."""
    try:
        import sglang  # noqa: F401
    except ImportError:
        raise BackendUnavailable("skipped: sglang not installed") from None
    raise BackendUnavailable("skipped: sglang is installed but its triton decode call is not implemented here yet")


def make_backend(name: str, shape: AttentionShape, device: Any, max_pages: int) -> Any:
    """Build a backend by name (fa3, fa3_eager, fa2, triton, flashinfer, sglang_triton); imports happen here."""
    if name == "fa3":
        return FlashAttnBackend(shape, device, 3, cudagraph=True)
    if name == "fa3_eager":
        return FlashAttnBackend(shape, device, 3, cudagraph=False)
    if name == "fa2":
        return FlashAttnBackend(shape, device, 2, cudagraph=True)
    if name == "triton":
        return TritonUnifiedBackend(shape, device, cudagraph=True)
    if name == "flashinfer":
        return FlashInferDecodeBackend(shape, device, max_pages)
    if name == "sglang_triton":
        return sglang_backend(shape, device)
    raise BackendUnavailable(f"unknown backend {name!r}")


BACKEND_NAMES = ("fa3", "fa3_eager", "fa2", "triton", "flashinfer", "sglang_triton")
