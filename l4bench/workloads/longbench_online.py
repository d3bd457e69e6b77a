"""LongBench online: real prompts from Hugging Face `datasets`, tokenized with the model's tokenizer.

Needs the `hf` extra (datasets + transformers) and network access (or a warm HF cache).
Prompts longer than max_model_len - max_new_tokens are cut in the middle (head and tail kept),
as LongBench's own pred.py does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.workloads.base import Columns

HF_DATASETS = {"v1": "THUDM/LongBench", "v2": "THUDM/LongBench-v2"}


def _imports() -> tuple[Any, Any]:
    try:
        import datasets
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "workload.longbench.source=online: needs the 'hf' extra (pip install 'l4bench[hf]', "
            f"i.e. datasets + transformers): {exc}; or use source=offline"
        ) from exc
    return datasets, transformers


def _v2_prompt(item: dict[str, Any]) -> str:
    choices = "\n".join(f"({c}) {item['choice_' + c]}" for c in "ABCD")
    return (
        f"Please read the following text and answer the question below.\n\n{item['context']}\n\n"
        f"What is the correct answer to this question: {item['question']}\nChoices:\n{choices}\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)".'
    )


def _items(datasets: Any, version: str, table: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(task, prompt text, max_new_tokens) for every sample of the selected tasks."""
    out: list[tuple[str, str, int]] = []
    max_new = dict(zip(table["task"], table["max_new_tokens"], strict=True))
    if version == "v1":
        for task in table["task"]:
            for item in datasets.load_dataset(HF_DATASETS["v1"], task, split="test"):
                out.append((task, f"{item['context']}\n\n{item['input']}", int(max_new[task])))
        return out
    from l4bench.workloads.longbench import slug

    for item in datasets.load_dataset(HF_DATASETS["v2"], split="train"):
        task = f"{slug(item['domain'])}/{slug(item['sub_domain'])}"
        if task in max_new:
            out.append((task, _v2_prompt(item), int(max_new[task])))
    return out


def load_online(
    version: str, table: pd.DataFrame, tokenizer: str | None, max_model_len: int | None
) -> tuple[Columns, np.ndarray]:
    """Real LongBench prompts as Columns (with text) and which ones were cut to fit."""
    if not tokenizer:
        raise ConfigError("workload.longbench.tokenizer: online mode needs a tokenizer path or HF model id")
    datasets, transformers = _imports()
    tok = transformers.AutoTokenizer.from_pretrained(tokenizer)
    items = _items(datasets, version, table)
    if not items:
        raise ConfigError(
            f"workload.longbench: no samples found in {HF_DATASETS[version]} for the chosen tasks"
        )
    texts, prompt_len, was_cut = [], [], []
    for _task, text, max_new in items:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        limit = None if max_model_len is None else max(1, max_model_len - min(max_new, max_model_len - 1))
        cut = limit is not None and len(ids) > limit
        if limit is not None and cut:
            half = limit // 2
            ids = ids[:half] + ids[len(ids) - (limit - half) :]
            text = tok.decode(ids, skip_special_tokens=True)
        texts.append(text)
        prompt_len.append(len(ids))
        was_cut.append(cut)
    cols = Columns(
        arrival_s=np.zeros(len(items)),
        prompt_tokens=np.array(prompt_len, dtype=np.int64),
        output_tokens=np.array([m for _, _, m in items], dtype=np.int64),
        tags=[t for t, _, _ in items],
        texts=texts,
    )
    return cols, np.array(was_cut, dtype=bool)
