"""Value types shared by workloads, schedulers, the simulator and the live router.

Everything here is a frozen dataclass with plain fields, so the same objects flow through the
simulator and a live cluster. Times are seconds (``_s``); lengths are tokens (``_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Mooncake traces hash prompts in blocks of this many tokens.
PREFIX_BLOCK_TOKENS = 512


@dataclass(frozen=True, slots=True)
class Request:
    """One request of a workload: what the client sends plus the truth only the engine knows.

    Schedulers never get this object; they get ``view()`` (a RequestView), which has the client's
    ``max_tokens`` cap but not ``output_tokens``.

    Args:
        request_id: unique within one workload (0..n-1 after loading).
        arrival_s: arrival time relative to the start of the replay.
        prompt_tokens: prompt length in tokens.
        output_tokens: the TRUE output length: where the engine stops (emulated EOS: live, the
            engine is sent this as its stop with ``ignore_eos``). Workload and engine side only.
        prefix_hash_ids: Mooncake-style prefix block hashes (512 tokens each); equal leading ids
            mean a shared prefix. Token ids are derived from them (see ``workloads.tokens``).
        prompt_text: real text when the workload has it (e.g. LongBench online); else None.
        tag: a label from the workload (task name, bucket); carried into the records.
        max_tokens: the client's max_tokens, an upper bound on the output (set by the workload's
            max_tokens rule, ``workloads.max_tokens``); None: the client sent none.
    """

    request_id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    prefix_hash_ids: tuple[int, ...] = ()
    prompt_text: str | None = None
    tag: str = ""
    max_tokens: int | None = None

    def view(self) -> RequestView:
        """What a scheduler may see of this request (no true output length)."""
        return RequestView(
            self.request_id, self.arrival_s, self.prompt_tokens, self.max_tokens, self.prefix_hash_ids,
            self.prompt_text,
        )


@dataclass(frozen=True, slots=True)
class RequestView:
    """What a scheduler sees of one request: what a router sees of the client's request.

    Prompt, arrival and the client's ``max_tokens`` (an upper bound; None when the client sent
    none, then only ``max_model_len - prompt_tokens`` bounds it). Deliberately no output length
    and no workload tag: the true length lives in the workload and the engine only, and a type
    without the field makes reading it a type (and attribute) error.
    """

    request_id: int
    arrival_s: float
    prompt_tokens: int
    max_tokens: int | None = None
    prefix_hash_ids: tuple[int, ...] = ()
    prompt_text: str | None = None


@dataclass(frozen=True, slots=True)
class RunningRequest:
    """What a scheduler may see of one request resident (or queued) on an instance."""

    request_id: int
    prompt_tokens: int
    context_tokens: int  # prompt + tokens generated so far (all hops)
    num_generated_tokens: int
    is_waiting: bool = False  # queued, not yet admitted to the running batch


@dataclass(frozen=True, slots=True)
class InstanceView:
    """A scheduler's snapshot of one engine instance.

    The aggregate fields are always filled. ``requests`` is filled only where a policy needs
    per-request detail (``rebalance`` calls), because building it on every arrival is costly.
    """

    instance_id: int
    num_running: int  # requests in the running batch (holding KV)
    num_waiting: int  # requests queued on the instance, not yet admitted
    num_context_tokens: int  # sum of current contexts of running requests
    num_waiting_tokens: int  # prompt tokens of queued requests still to prefill
    max_context_tokens: int  # longest running context (0 when idle)
    min_context_tokens: int  # shortest running context (0 when idle)
    kv_used_tokens: int
    kv_capacity_tokens: int
    is_healthy: bool = True
    requests: tuple[RunningRequest, ...] = ()

    @property
    def num_requests(self) -> int:
        """Running plus waiting requests."""
        return self.num_running + self.num_waiting

    @property
    def num_tokens(self) -> int:
        """Tokens resident or queued: the load measure of least_tokens-style policies."""
        return self.num_context_tokens + self.num_waiting_tokens


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a request goes, and when it must leave again.

    ``hop_at_tokens``: when the request's context (prompt + generated) reaches this many tokens
    it stops on this instance and the scheduler's ``on_bound`` picks the next one (L4's stage
    upper bound). None means it finishes where it is.
    """

    instance_id: int
    hop_at_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Migration:
    """A scheduler's request to move a running request to another instance (rebalancing)."""

    request_id: int
    src_instance: int
    dst_instance: int
    hop_at_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """Static facts about the cluster that schedulers may use."""

    num_instances: int
    max_model_len: int
    kv_capacity_tokens: int  # per instance
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    instance_names: tuple[str, ...] = field(default=())
