"""Write tiny-llama's tokenizer: a WordLevel vocabulary whose text form maps 1:1 to token ids.

Token id i is the word ``t<i>`` (ids 0 .. vocab_size-1 of l4bench/models/tiny-llama/config.json), the
pre-tokenizer splits on whitespace and no special tokens are inserted, so ``encode("t17 t523")`` is
exactly ``[17, 523]`` and a prompt of N words is exactly N tokens. Routers that only take text prompts
(sglang-router's OpenAI routes) can then front vLLM serving tiny-llama with the same token ids as
l4bench's router sends. Needs `tokenizers` and `transformers` (the engine venv has both):

    /path/to/engine-venv/bin/python scripts/make_tiny_tokenizer.py [MODEL_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "l4bench" / "models" / "tiny-llama"
# Chat turns joined as plain words; enough for /v1/chat/completions smoke requests.
CHAT_TEMPLATE = "{% for m in messages %}{{ m['content'] }} {% endfor %}"


def build(vocab_size: int) -> PreTrainedTokenizerFast:
    """The 1:1 word-level tokenizer for ids 0 .. vocab_size-1."""
    vocab = {f"t{i}": i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with single spaces
    # unk stays inside the model only: declaring it here would make "t0" a special token that
    # decode(skip_special_tokens=True) drops.
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def check(fast: PreTrainedTokenizerFast, vocab_size: int) -> None:
    """Fail loudly unless text <-> ids is the identity (no specials, no merges)."""
    ids = [0, 1, 2, 17, 523, vocab_size - 1]
    text = " ".join(f"t{i}" for i in ids)
    assert fast.encode(text) == ids, fast.encode(text)
    assert fast(text)["input_ids"] == ids
    assert fast.decode(ids) == text, fast.decode(ids)
    assert len(fast) == vocab_size
    assert fast.decode(ids, skip_special_tokens=True) == text  # no word is special


def main(model_dir: Path) -> None:
    """Build, check and save the tokenizer files into model_dir."""
    vocab_size = int(json.loads((model_dir / "config.json").read_text())["vocab_size"])
    fast = build(vocab_size)
    check(fast, vocab_size)
    fast.save_pretrained(str(model_dir))
    # transformers 5 writes its own class name; the 4.x name loads in both (5.x aliases it).
    cfg_path = model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"wrote tokenizer ({vocab_size} words t0..t{vocab_size - 1}) to {model_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
