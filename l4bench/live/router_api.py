"""The router's OpenAI-compatible surface: request validation and response/chunk formatting.

Validation turns every client mistake into a ClientError (4xx with an OpenAI-style message) before
any backend is contacted, so client input can never cause a 5xx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Sampling fields passed through to the backend unchanged (types are checked by the backend: 4xx).
PASSTHROUGH_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "ignore_eos",
    "stop",
    "stop_token_ids",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "min_tokens",
    "skip_special_tokens",
    "include_stop_str_in_output",
)

MAX_TOKEN_ID = 2**31 - 1

#: Header with the client's max_tokens cap when the body's max_tokens is an emulated stop (see
#: ``client_max_tokens`` and l4bench/l4/README.md "What a scheduler sees").
MAX_TOKENS_HEADER = "X-L4bench-Max-Tokens"


class ClientError(Exception):
    """A request the router refuses: HTTP status (4xx) and a message for the client."""

    def __init__(self, status: int, message: str, kind: str = "BadRequestError", param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param


@dataclass
class ParsedRequest:
    """A validated client request."""

    is_chat: bool
    max_tokens: int
    stream: bool
    prompt_ids: list[int] | None = None  # token-id prompt (or tokenized text)
    prompt_text: str | None = None  # text prompt the router could not tokenize
    messages: list[Any] | None = None  # chat messages
    include_usage: bool = False
    return_token_ids: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_tokens_estimate(self) -> int:
        """Prompt length in tokens: exact for token ids, ~4 characters a token for text/chat."""
        if self.prompt_ids is not None:
            return len(self.prompt_ids)
        if self.prompt_text is not None:
            return max(1, len(self.prompt_text) // 4)
        chars = sum(len(str(m.get("content", ""))) for m in self.messages or [] if isinstance(m, dict))
        return max(1, chars // 4)


def error_body(status: int, message: str, kind: str = "BadRequestError", param: str | None = None) -> dict:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def decode_json(raw: bytes) -> dict[str, Any]:
    """Parse a request body; 400 unless it is a JSON object."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClientError(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError(400, "The request body must be a JSON object.")
    return body


def _int_field(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClientError(400, f"{key} must be an integer, got {value!r:.40}.", param=key)
    return value


def _bool_field(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ClientError(400, f"{key} must be a boolean, got {value!r:.40}.", param=key)
    return value


def _token_ids(values: list[Any]) -> list[int]:
    for t in values:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= MAX_TOKEN_ID:
            raise ClientError(
                400,
                f"prompt token ids must be integers in [0, {MAX_TOKEN_ID}], got {t!r:.40}.",
                param="prompt",
            )
    return list(values)


def _prompt(body: dict[str, Any], tokenizer: Any) -> tuple[list[int] | None, str | None]:
    """(token ids, text) of a completion prompt; exactly one is set."""
    if "prompt" not in body or body["prompt"] is None:
        raise ClientError(400, "prompt is required.", param="prompt")
    prompt = body["prompt"]
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, list) and prompt and all(isinstance(p, (str, list)) for p in prompt):
        raise ClientError(
            400,
            "Batched prompts are not supported by this router; send one prompt per request.",
            param="prompt",
        )
    if isinstance(prompt, str):
        if not prompt:
            raise ClientError(400, "prompt must not be empty.", param="prompt")
        if tokenizer is not None:
            return _token_ids(list(tokenizer.encode(prompt))), None
        return None, prompt
    if isinstance(prompt, list):
        if not prompt:
            raise ClientError(400, "prompt must not be empty.", param="prompt")
        return _token_ids(prompt), None
    raise ClientError(400, "prompt must be a string or a list of token ids.", param="prompt")


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ClientError(400, "messages is required and must be a non-empty list.", param="messages")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or "content" not in m:
            raise ClientError(
                400,
                "messages: each item must be an object with a string role and a content.",
                param="messages",
            )
    return messages


def _reject_unsupported(body: dict[str, Any]) -> None:
    n = body.get("n", 1)
    if n not in (None, 1):
        raise ClientError(400, "n > 1 is not supported by this router.", param="n")
    if body.get("best_of") not in (None, 1):
        raise ClientError(400, "best_of is not supported by this router.", param="best_of")
    if body.get("echo"):
        raise ClientError(400, "echo is not supported by this router.", param="echo")
    if body.get("logprobs") not in (None, False) or body.get("top_logprobs") is not None:
        raise ClientError(400, "logprobs are not supported by this router.", param="logprobs")


def parse_request(
    body: dict[str, Any],
    *,
    is_chat: bool,
    model_name: str,
    max_model_len: int,
    default_max_tokens: int,
    tokenizer: Any,
) -> ParsedRequest:
    """Validate one /v1/completions or /v1/chat/completions body; raises ClientError."""
    model = body.get("model")
    if model is not None and model != model_name:
        raise ClientError(
            404, f"The model `{model!s:.100}` does not exist. Valid: {model_name}.", "NotFoundError", "model"
        )
    _reject_unsupported(body)
    stream = _bool_field(body, "stream")
    max_tokens = _int_field(body, "max_completion_tokens") if is_chat else None
    max_tokens = max_tokens if max_tokens is not None else _int_field(body, "max_tokens")
    if max_tokens is None:
        max_tokens = default_max_tokens
    if max_tokens < 1:
        raise ClientError(400, f"max_tokens must be at least 1, got {max_tokens}.", param="max_tokens")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise ClientError(400, "stream_options must be an object.", param="stream_options")
    parsed = ParsedRequest(is_chat=is_chat, max_tokens=max_tokens, stream=stream)
    parsed.include_usage = bool((options or {}).get("include_usage", False)) and stream
    parsed.return_token_ids = _bool_field(body, "return_token_ids")
    parsed.extra = {k: body[k] for k in PASSTHROUGH_FIELDS if body.get(k) is not None}
    if is_chat:
        parsed.messages = _messages(body)
    else:
        parsed.prompt_ids, parsed.prompt_text = _prompt(body, tokenizer)
    num_prompt = len(parsed.prompt_ids) if parsed.prompt_ids is not None else 0
    if num_prompt + max_tokens > max_model_len:
        raise ClientError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{num_prompt + max_tokens} tokens ({num_prompt} in the prompt, {max_tokens} for the completion).",
            param="max_tokens",
        )
    return parsed


def client_max_tokens(parsed: ParsedRequest, header: str | None) -> int | None:
    """The max_tokens the scheduler may see: the client's upper bound, never an emulated stop.

    With ``ignore_eos`` the body's max_tokens is where the engine stops (the benchmark's emulated
    EOS = the true length), so it is engine-side information: the scheduler gets the cap from the
    X-L4bench-Max-Tokens header instead, or None without one. Without ignore_eos the body's
    max_tokens is an ordinary client cap (the engine may stop earlier at EOS).
    """
    if header is not None:
        try:
            cap = int(header)
        except ValueError:
            raise ClientError(400, f"{MAX_TOKENS_HEADER} must be an integer, got {header[:50]!r}.") from None
        if cap < parsed.max_tokens:
            raise ClientError(
                400, f"{MAX_TOKENS_HEADER} ({cap}) must be >= max_tokens ({parsed.max_tokens}): it is an upper bound."
            )
        return cap
    return None if parsed.extra.get("ignore_eos") else parsed.max_tokens


def whole_response(
    rid: str,
    created: int,
    model: str,
    parsed: ParsedRequest,
    ids: list[int],
    text: str,
    finish: str | None,
    prompt_tokens: int,
) -> dict:
    """The non-streaming response body."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "token_ids": ids}
    if parsed.is_chat:
        choice["message"] = {"role": "assistant", "content": text}
        obj = "chat.completion"
    else:
        choice["text"] = text
        obj = "text_completion"
    if parsed.return_token_ids and parsed.prompt_ids is not None:
        choice["prompt_token_ids"] = parsed.prompt_ids
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(ids),
        "total_tokens": prompt_tokens + len(ids),
    }
    return {"id": rid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": usage}


def sse(data: dict | str) -> bytes:
    """One server-sent event line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return b"data: " + payload.encode() + b"\n\n"


class ChunkFormat:
    """Pre-rendered SSE chunks of one streamed response, shaped like vLLM's (one json.dumps per chunk saved).

    Token chunks carry finish_reason null except the last one; a chat stream opens with a role chunk;
    with stream_options.include_usage the usage follows in its own chunk with `choices: []`.
    """

    def __init__(self, rid: str, created: int, model: str, is_chat: bool) -> None:
        self.obj = "chat.completion.chunk" if is_chat else "text_completion"
        self.is_chat = is_chat
        field_open, field_close = ('"delta":{"content":', "}") if is_chat else ('"text":', "")
        self._top = f'{{"id":{json.dumps(rid)},"object":"{self.obj}","created":{created},"model":{json.dumps(model)},'
        self._head = ("data: " + self._top + f'"choices":[{{"index":0,{field_open}').encode()
        self._mid = (field_close + ',"logprobs":null,"finish_reason":').encode()

    def role(self) -> bytes:
        """The first chunk of a chat stream: delta.role = assistant, no content yet."""
        return (
            "data: " + self._top + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
            '"logprobs":null,"finish_reason":null}]}\n\n'
        ).encode()

    def tokens(self, ids: list[int], text: str, finish: str | None = None, extra: dict | None = None) -> bytes:
        """One `data:` event carrying new token ids and text (finish_reason set on the last one)."""
        tail = b"]}]" + (b"," + json.dumps(extra, separators=(",", ":"))[1:-1].encode() if extra else b"")
        return (
            self._head
            + json.dumps(text).encode()
            + self._mid
            + (json.dumps(finish).encode() if finish is not None else b"null")
            + b',"token_ids":['
            + ",".join(map(str, ids)).encode()
            + tail
            + b"}\n\n"
        )

    def usage(self, prompt_tokens: int, completion_tokens: int, extra: dict | None = None) -> bytes:
        """The trailing usage chunk of stream_options.include_usage: `choices: []` and the totals."""
        usage = {
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens,
        }
        body = self._top + '"choices":[],"usage":' + json.dumps(usage, separators=(",", ":"))
        if extra:
            body += "," + json.dumps(extra, separators=(",", ":"))[1:-1]
        return ("data: " + body + "}\n\n").encode()
