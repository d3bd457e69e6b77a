"""LongBench / LongBench-v2 workloads: real text online, or lengths synthesized from published stats.

Offline (default) the per-task average lengths published by THUDM/LongBench (words for EN and code,
characters for ZH; v2 in thousands of words) are converted to tokens with fixed factors and each
task's samples are drawn lognormal around that mean (spread ``length_sigma``; upstream publishes
means only, so the spread is an assumption). Output length = the task's ``max_new_tokens``.
Online the real text is loaded through ``datasets`` and tokenized with the model's tokenizer.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from l4bench.errors import ConfigError
from l4bench.types import Request
from l4bench.workloads.base import (
    Columns,
    build_requests,
    check_choice,
    check_max_model_len,
    check_num_requests,
    length_facts,
)
from l4bench.workloads.data import describe_file, find_local
from l4bench.workloads.longbench_stats import V1_COLUMNS, V1_ROWS, V2_COLUMNS, V2_ROWS

STATS_FILES = {
    "v1": "longctx_benchmark_stats/longbench_v1_task_stats.csv",
    "v2": "longctx_benchmark_stats/longbench_v2_task_stats.csv",
}
#: Tokens per published length unit. EN: 1.375 tokens/word (L-Eval-measured Qwen2.5 ratio, SOURCES.md).
#: ZH: 0.7 tokens/character (Qwen2.5 / Llama-3 BPEs merge frequent Hanzi pairs: about 1.3-1.5
#: characters per token). Code: 2.5 tokens per whitespace word (a code "word" such as
#: `self.x(y)` splits into several identifier/punctuation tokens). ZH and code are estimates.
TOKENS_PER_UNIT = {"EN": 1.375, "ZH": 0.7, "code": 2.5}
#: LongBench-v2 answers are one of A-D; its pred.py allows 128 new tokens without chain-of-thought.
V2_MAX_NEW_TOKENS = 128


def slug(text: str) -> str:
    """'Code repo QA' -> 'code_repo_qa'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def builtin_stats(version: str) -> pd.DataFrame:
    """The built-in published stats table, same layout as the CSV in longctx_benchmark_stats/."""
    if version == "v1":
        return pd.DataFrame(list(V1_ROWS), columns=list(V1_COLUMNS))
    return pd.DataFrame(list(V2_ROWS), columns=list(V2_COLUMNS))


def task_table(stats: pd.DataFrame, version: str) -> pd.DataFrame:
    """Normalize a stats CSV to columns task, num_samples, mean_tokens, max_new_tokens."""
    if version == "v1":
        lang = stats["language"].where(stats["language"].isin(["EN", "ZH"]), "code")
        factor = lang.map(TOKENS_PER_UNIT)
        return pd.DataFrame(
            {
                "task": stats["dataset_key"],
                "num_samples": stats["num_samples"],
                "mean_tokens": stats["avg_len"] * factor,
                "max_new_tokens": stats["max_new_tokens"],
            }
        )
    sub = stats[stats["subtask"] != "ALL"]
    return pd.DataFrame(
        {
            "task": sub["category"].map(slug) + "/" + sub["subtask"].map(slug),
            "num_samples": sub["num_samples"],
            "mean_tokens": sub["avg_len_kwords"] * 1000.0 * TOKENS_PER_UNIT["EN"],
            "max_new_tokens": V2_MAX_NEW_TOKENS,
        }
    ).reset_index(drop=True)


class LongBenchWorkload:
    """LongBench v1 (21 tasks) or v2 (20 subtasks, tag 'category/subtask'); tag = task name."""

    has_timestamps = False

    def __init__(
        self,
        version: str = "v1",
        source: str = "offline",
        tasks: list[str] | None = None,
        length_sigma: float = 0.5,
        tokenizer: str | None = None,
        data_dir: str | None = None,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        check_choice("workload.longbench.version", version, list(STATS_FILES))
        check_choice("workload.longbench.source", source, ["offline", "online"])
        check_num_requests("workload.longbench", num_requests)
        check_max_model_len("workload.longbench", max_model_len)
        if not length_sigma >= 0:
            raise ConfigError(f"workload.longbench.length_sigma: must be >= 0, got {length_sigma}")
        self.version = version
        self.source = source
        self.tasks = None if tasks is None else list(tasks)
        self.length_sigma = length_sigma
        self.tokenizer = tokenizer
        self.data_dir = data_dir
        self.num_requests = num_requests
        self.max_model_len = max_model_len
        self.name = f"longbench_{version}"
        self.is_synthesized = source == "offline"
        self._facts: dict[str, Any] = {}

    def _table(self) -> pd.DataFrame:
        relpath = STATS_FILES[self.version]
        path = find_local(relpath, self.data_dir)
        if path is not None:
            stats = pd.read_csv(path)
            self._facts = describe_file(path, relpath)
        else:  # no data dir: the same published numbers, built in
            stats = builtin_stats(self.version)
            self._facts = {"source_file": f"builtin:l4bench.workloads.longbench_stats ({relpath})"}
        table = task_table(stats, self.version)
        if self.tasks is not None:
            names = table["task"].tolist()
            groups = sorted({t.split("/")[0] for t in names if "/" in t})
            unknown = [t for t in self.tasks if t not in names and t not in groups]
            if unknown:
                valid = ", ".join(groups + names)
                raise ConfigError(f"workload.longbench.tasks: unknown {unknown}; valid: {valid}")
            group = table["task"].str.split("/").str[0]
            table = table[table["task"].isin(self.tasks) | group.isin(self.tasks)]
        return table

    def _synthesize(self, table: pd.DataFrame, rng: np.random.Generator) -> Columns:
        prompts, outputs, tags = [], [], []
        for row in table.itertuples(index=False):
            n = int(row.num_samples)
            mu = np.log(row.mean_tokens) - self.length_sigma**2 / 2.0  # keeps the published mean
            prompts.append(rng.lognormal(mu, self.length_sigma, n))
            outputs.append(np.full(n, int(row.max_new_tokens)))
            tags += [str(row.task)] * n
        return Columns(
            np.zeros(len(tags)),
            np.rint(np.concatenate(prompts)).astype(np.int64),
            np.concatenate(outputs),
            tags=tags,
        )

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Build all samples, shuffle them with rng, keep the first num_requests."""
        table = self._table()
        was_cut = np.zeros(0, dtype=bool)  # online prompts are cut (middle) before becoming Requests
        if self.source == "offline":
            cols = self._synthesize(table, rng)
        else:
            from l4bench.workloads.longbench_online import load_online

            cols, was_cut = load_online(self.version, table, self.tokenizer, self.max_model_len)
        order = rng.permutation(len(cols.prompt_tokens))[: self.num_requests]
        cols = Columns(
            np.zeros(len(order)),
            np.asarray(cols.prompt_tokens)[order],
            np.asarray(cols.output_tokens)[order],
            tags=[cols.tags[i] for i in order] if cols.tags else None,
            texts=[cols.texts[i] for i in order] if cols.texts else None,
        )
        requests, num_truncated = build_requests(cols, self.max_model_len)
        num_cut = int(was_cut[order].sum()) if len(was_cut) else 0
        self._facts.update(length_facts(requests), num_truncated=num_truncated + num_cut)
        return requests

    def describe(self) -> dict[str, Any]:
        """Facts for summary.json, flagging offline lengths as synthesized."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "is_synthesized": self.is_synthesized,
            "has_timestamps": False,
            "tasks": self.tasks,
            "length_sigma": self.length_sigma,
            "tokens_per_unit": TOKENS_PER_UNIT if self.is_synthesized else None,
            "tokenizer": self.tokenizer,
            **self._facts,
        }
