"""Loaders for real request traces and length tables: Mooncake, Azure 2023, any lengths CSV."""

from __future__ import annotations

import json
from pathlib import Path
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
from l4bench.workloads.data import describe_file, resolve_data_file


class _FileWorkload:
    """Common state of file-backed workloads: options, and facts recorded by load()."""

    name = "file"
    has_timestamps = False
    is_synthesized = False

    def __init__(self, data_dir: str | None, num_requests: int | None, max_model_len: int | None):
        check_num_requests(f"workload.{self.name}", num_requests)
        check_max_model_len(f"workload.{self.name}", max_model_len)
        self.data_dir = data_dir
        self.num_requests = num_requests
        self.max_model_len = max_model_len
        self._facts: dict[str, Any] = {}

    def _finish(self, cols: Columns, path: Path, relpath: str) -> list[Request]:
        requests, num_truncated = build_requests(cols, self.max_model_len)
        self._facts = {
            **describe_file(path, relpath),
            **length_facts(requests),
            "num_truncated": num_truncated,
        }
        return requests

    def describe(self) -> dict[str, Any]:
        """Facts for summary.json; counts are filled in by load()."""
        return {
            "name": self.name,
            "is_synthesized": self.is_synthesized,
            "has_timestamps": self.has_timestamps,
            **self._facts,
        }


MOONCAKE_TRACES = {
    "conversation": "mooncake/conversation_trace.jsonl",
    "synthetic": "mooncake/synthetic_trace.jsonl",
}


class MooncakeWorkload(_FileWorkload):
    """Mooncake FAST'25 JSONL trace: ms timestamps, lengths, 512-token prefix-block hashes."""

    has_timestamps = True

    def __init__(
        self,
        trace: str = "conversation",
        data_dir: str | None = None,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        check_choice("workload.mooncake.trace", trace, list(MOONCAKE_TRACES))
        self.trace = trace
        self.name = f"mooncake_{trace}"
        super().__init__(data_dir, num_requests, max_model_len)

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Read the first num_requests lines of the trace (rng unused: the trace is fixed)."""
        relpath = MOONCAKE_TRACES[self.trace]
        path = resolve_data_file(relpath, self.data_dir, "workload.mooncake")
        rows = []
        with path.open() as f:
            for line in f:
                if line.strip():
                    rows.append(json.loads(line))
                if self.num_requests is not None and len(rows) >= self.num_requests:
                    break
        missing = {"timestamp", "input_length", "output_length", "hash_ids"} - set(rows[0] if rows else {})
        if missing:
            raise ConfigError(f"workload.mooncake: {path} lacks fields {sorted(missing)}")
        cols = Columns(
            arrival_s=np.array([r["timestamp"] for r in rows], dtype=np.float64) / 1000.0,
            prompt_tokens=np.array([r["input_length"] for r in rows], dtype=np.int64),
            output_tokens=np.array([r["output_length"] for r in rows], dtype=np.int64),
            hash_ids=[r["hash_ids"] for r in rows],
        )
        return self._finish(cols, path, relpath)


def read_columns(path: Path, columns: list[str], option: str, nrows: int | None) -> pd.DataFrame:
    """Read the named CSV columns; ConfigError naming the missing ones and those present."""
    header = pd.read_csv(path, nrows=0).columns.tolist()
    missing = [c for c in columns if c not in header]
    if missing:
        raise ConfigError(f"{option}: {path} has no column(s) {missing}; valid: {', '.join(header)}")
    return pd.read_csv(path, usecols=columns, nrows=nrows)


AZURE_TRACES = {
    "code": "azure_llm_2023/AzureLLMInferenceTrace_code.csv",
    "conv": "azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
}


class AzureTraceWorkload(_FileWorkload):
    """Azure LLM inference trace 2023 (Splitwise): wall-clock TIMESTAMP, ContextTokens, GeneratedTokens."""

    has_timestamps = True

    def __init__(
        self,
        kind: str = "conv",
        data_dir: str | None = None,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        check_choice("workload.azure.kind", kind, list(AZURE_TRACES))
        self.kind = kind
        self.name = f"azure_{kind}"
        super().__init__(data_dir, num_requests, max_model_len)

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Read the first num_requests rows; arrivals are seconds since the first row."""
        relpath = AZURE_TRACES[self.kind]
        option = f"workload.{self.name}"
        path = resolve_data_file(relpath, self.data_dir, option)
        cols = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
        df = read_columns(path, cols, option, self.num_requests)
        stamps = pd.to_datetime(df["TIMESTAMP"], format="ISO8601")
        arrival = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64)
        return self._finish(
            Columns(arrival, df["ContextTokens"].to_numpy(), df["GeneratedTokens"].to_numpy()),
            path,
            relpath,
        )


class LengthsCsvWorkload(_FileWorkload):
    """Any CSV with a prompt-length and an output-length column (no timestamps)."""

    name = "lengths_csv"

    def __init__(
        self,
        path: str,
        input_column: str = "num_prefill_tokens",
        output_column: str = "num_decode_tokens",
        data_dir: str | None = None,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        if not path:
            raise ConfigError(
                "workload.lengths_csv.path: must name a CSV file (relative to data_dir or absolute)"
            )
        self.path = path
        self.input_column = input_column
        self.output_column = output_column
        super().__init__(data_dir, num_requests, max_model_len)

    def load(self, rng: np.random.Generator) -> list[Request]:
        """Read the first num_requests rows in file order; all arrivals are 0.0."""
        option = f"workload.{self.name}"
        path = resolve_data_file(self.path, self.data_dir, "workload.path")
        df = read_columns(path, [self.input_column, self.output_column], option, self.num_requests)
        prompt = df[self.input_column].to_numpy(dtype=np.int64)
        cols = Columns(np.zeros(len(df)), prompt, df[self.output_column].to_numpy(dtype=np.int64))
        return self._finish(cols, path, self.path)


LENGTH_TABLES = {
    "sharegpt": "vidur_etalon_processed/sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
    "arxiv": "vidur_etalon_processed/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
    "bwb": "vidur_etalon_processed/bwb_stats_llama2_tokenizer_filtered_v2.csv",
}


class LengthTableWorkload(LengthsCsvWorkload):
    """Vidur/Etalon processed length tables (Llama-2 tokenizer counts): sharegpt, arxiv, bwb."""

    def __init__(
        self,
        table: str = "sharegpt",
        data_dir: str | None = None,
        num_requests: int | None = None,
        max_model_len: int | None = None,
    ):
        check_choice("workload.table", table, list(LENGTH_TABLES))
        self.table = table
        self.name = table
        super().__init__(
            LENGTH_TABLES[table], data_dir=data_dir, num_requests=num_requests, max_model_len=max_model_len
        )
