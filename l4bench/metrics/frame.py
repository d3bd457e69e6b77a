"""Per-request records -> one pandas DataFrame (raw fields + derived latencies) -> parquet."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from l4bench.metrics.records import RequestRecord, RunResult

#: Arrow types of the raw columns, fixed so that empty lists and all-None columns round-trip.
_RAW_SCHEMA: tuple[tuple[str, pa.DataType], ...] = (
    ("request_id", pa.int64()),
    ("scheduler", pa.string()),
    ("arrival_s", pa.float64()),
    ("prompt_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("tag", pa.string()),
    ("num_generated_tokens", pa.int64()),
    ("first_token_s", pa.float64()),
    ("finish_s", pa.float64()),
    ("token_times_s", pa.list_(pa.float64())),
    ("instances", pa.list_(pa.int64())),
    ("recomputed_tokens", pa.int64()),
    ("stall_s", pa.float64()),
    ("hop_modes", pa.list_(pa.string())),
    ("hop_kv_bytes", pa.list_(pa.int64())),
    ("hop_stalls_s", pa.list_(pa.float64())),
    ("num_preemptions", pa.int64()),
    ("error", pa.string()),
    ("num_hops", pa.int64()),
)
_DERIVED_SCHEMA: tuple[tuple[str, pa.DataType], ...] = (
    ("is_completed", pa.bool_()),
    ("ttft_ms", pa.float64()),
    ("tpot_ms", pa.float64()),
    ("e2el_ms", pa.float64()),
)
#: Columns the replay adds per run: the repeat index and whether the request counts in the metrics.
_RUN_SCHEMA: tuple[tuple[str, pa.DataType], ...] = (("repeat", pa.int64()), ("is_measured", pa.bool_()))
_OFFSETS_COL = "token_offsets_us"  # how token_times_s is stored in parquet
REQUEST_COLUMNS: tuple[str, ...] = tuple(n for n, _ in _RAW_SCHEMA + _DERIVED_SCHEMA)


def _columns(results: list[RunResult]) -> dict[str, list[object]]:
    """Column lists of the raw fields (no deep copy: asdict on long token lists is slow)."""
    cols: dict[str, list[object]] = {f.name: [] for f in fields(RequestRecord)}
    cols["num_hops"], cols["is_completed"] = [], []
    for res in results:
        for rec in res.records:
            for name, values in cols.items():
                values.append(getattr(rec, name))
            # the run's scheduler name wins over the record's (one name per run)
            cols["scheduler"][-1] = res.scheduler
    cols["token_times_s"] = [np.asarray(v, dtype=np.float64) for v in cols["token_times_s"]]
    cols["instances"] = [np.asarray(v, dtype=np.int64) for v in cols["instances"]]
    return cols


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Give numeric columns fixed dtypes (also when empty); lists and strings stay objects."""
    dtypes: dict[str, str] = {}
    for name, typ in _RAW_SCHEMA:
        if pa.types.is_integer(typ):
            dtypes[name] = "int64"
        elif pa.types.is_floating(typ):
            dtypes[name] = "float64"
        elif df.empty:
            dtypes[name] = "object"
    return df.astype(dtypes)


def _as_float(values: pd.Series) -> np.ndarray:
    """Nullable column -> float array with NaN for missing."""
    out: np.ndarray = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return out


def records_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per request of every run: raw fields plus ttft_ms, tpot_ms, e2el_ms, num_hops.

    Failed requests are kept (``is_completed`` False, ``error`` set); their derived latencies are
    whatever the raw times allow (NaN where a time is missing). TPOT is
    (e2el - ttft) / (num_generated_tokens - 1), NaN when fewer than 2 tokens were generated.
    """
    df = _typed(pd.DataFrame(_columns(results)))
    arrival = _as_float(df["arrival_s"])
    first = _as_float(df["first_token_s"])
    finish = _as_float(df["finish_s"])
    n_gen = _as_float(df["num_generated_tokens"])
    df["is_completed"] = df["is_completed"].astype(bool)
    df["ttft_ms"] = (first - arrival) * 1000.0
    e2el = (finish - arrival) * 1000.0
    df["e2el_ms"] = e2el
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = (e2el - df["ttft_ms"].to_numpy()) / (n_gen - 1.0)
    df["tpot_ms"] = np.where(n_gen > 1, tpot, np.nan)
    return df[list(REQUEST_COLUMNS)]


def _arrow_schema(df: pd.DataFrame) -> pa.Schema:
    """Fixed types for known columns, inferred ones for anything extra the caller added."""
    known = dict(_RAW_SCHEMA + _DERIVED_SCHEMA)
    known[_OFFSETS_COL] = pa.list_(pa.int64())
    known.update(_RUN_SCHEMA)
    fields_ = []
    for name in df.columns:
        typ = known[name] if name in known else pa.Array.from_pandas(df[name]).type
        fields_.append(pa.field(name, typ))
    return pa.schema(fields_)


def _stored(df: pd.DataFrame) -> tuple[pa.Table, dict[str, str]]:
    """The arrow table written for a records frame, and its per-column encodings."""
    stored = df
    encodings: dict[str, str] = {}
    if "token_times_s" in df.columns:
        offsets = [
            np.rint((np.asarray(t, dtype=np.float64) - a) * 1e6).astype(np.int64)
            for t, a in zip(df["token_times_s"], df["arrival_s"], strict=True)
        ]
        stored = df.drop(columns=["token_times_s"])
        pos = df.columns.get_loc("token_times_s")
        stored.insert(pos, _OFFSETS_COL, pd.Series(offsets, index=df.index, dtype=object))
        encodings[_OFFSETS_COL] = "DELTA_BINARY_PACKED"
    return pa.Table.from_pandas(stored, schema=_arrow_schema(stored), preserve_index=False), encodings


def write_requests_parquet(df: pd.DataFrame, path: Path | str) -> Path:
    """Write a records frame to ``path`` (parent dirs created).

    ``token_times_s`` is stored as ``token_offsets_us``: integer microseconds after ``arrival_s``,
    delta-encoded (about 3x smaller than float seconds); ``read_requests_parquet`` restores it.
    """
    writer = RequestsParquetWriter(path)
    writer.append(df)
    return writer.close()


class RequestsParquetWriter:
    """Appends records frames of one schema (one per run) to one requests.parquet, a row group each.

    Each frame is first written as a finished file ``<path>.parts/NNNN.parquet``, so the runs done
    so far survive a process that is killed before ``close`` (``read_requests_parquet`` reads the
    parts when ``path`` is missing); ``close`` joins them into ``path`` and removes the parts (also
    call it when a run fails).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.parts_dir = parts_dir(self.path)
        self._parts: list[Path] = []
        self._schema: pa.Schema | None = None
        self._encodings: dict[str, str] = {}

    def append(self, df: pd.DataFrame) -> None:
        """Write one frame as a finished part file (the first frame fixes the schema)."""
        table, encodings = _stored(df)
        if self._schema is None:
            self._schema, self._encodings = table.schema, encodings
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        part = self.parts_dir / f"{len(self._parts):04d}.parquet"
        tmp = part.with_suffix(".tmp")
        pq.write_table(table.cast(self._schema), tmp, **self._options())
        tmp.replace(part)
        self._parts.append(part)

    def _options(self) -> dict[str, Any]:
        assert self._schema is not None
        return {"compression": "zstd",
                "use_dictionary": [c for c in self._schema.names if c not in self._encodings],
                "column_encoding": self._encodings or None}

    def close(self) -> Path:
        """Join the parts into ``path`` (idempotent); nothing is written when no frame was appended."""
        if self._parts and self._schema is not None:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            with pq.ParquetWriter(tmp, self._schema, **self._options()) as w:
                for part in self._parts:
                    w.write_table(pq.read_table(part).cast(self._schema))
            tmp.replace(self.path)
            for part in self._parts:
                part.unlink()
            self.parts_dir.rmdir()
            self._parts = []
        return self.path


def parts_dir(path: Path) -> Path:
    """Where RequestsParquetWriter keeps the finished runs of a requests.parquet not yet closed."""
    return path.with_name(path.name + ".parts")


def read_requests_parquet(path: Path | str) -> pd.DataFrame:
    """Read a requests.parquet back; list columns come back as numpy arrays (object column)."""
    path = Path(path)
    parts = sorted(parts_dir(path).glob("*.parquet")) if not path.exists() else []
    if parts:  # a run killed before its writer closed: the runs it finished
        df = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
    else:
        df = pq.read_table(path).to_pandas()
    if _OFFSETS_COL in df.columns:
        times = [
            a + np.asarray(o, dtype=np.float64) / 1e6
            for o, a in zip(df[_OFFSETS_COL], df["arrival_s"], strict=True)
        ]
        pos = df.columns.get_loc(_OFFSETS_COL)
        df = df.drop(columns=[_OFFSETS_COL])
        df.insert(pos, "token_times_s", pd.Series(times, index=df.index, dtype=object))
    if df.empty:
        df = df.astype({c: "object" for c in ("token_times_s", "instances") if c in df.columns})
    return df


#: The columns of requests.csv: every request's timing and placement without its per-token times
#: (what a committed result keeps; requests.parquet with token times stays out of git).
SLIM_COLUMNS: tuple[str, ...] = (
    "repeat", "scheduler", "request_id", "arrival_s", "prompt_tokens", "output_tokens", "num_generated_tokens",
    "is_measured", "is_completed", "ttft_ms", "tpot_ms", "e2el_ms", "instances", "num_hops", "recomputed_tokens",
    "stall_s", "num_preemptions", "error",
)


def instances_text(v: Any) -> str:
    """ "0;1" for the instances a request went through (a requests.csv read back holds "0;1", 0 or NaN)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "" if pd.isna(v) else str(int(v))
    return ";".join(str(int(i)) for i in v)


def write_requests_csv(df: pd.DataFrame, path: Path | str) -> Path:
    """requests.csv: SLIM_COLUMNS of a requests frame, instances as "0;1" (the path it took)."""
    out = df[[c for c in SLIM_COLUMNS if c in df.columns]].copy()
    if "instances" in out:
        out["instances"] = out["instances"].map(instances_text)
    path = Path(path)
    out.to_csv(path, index=False, float_format="%.6g")
    return path


def read_requests_table(run_dir: Path | str) -> pd.DataFrame | None:
    """A run's requests: requests.parquet (or its parts), else requests.csv, else None."""
    run_dir = Path(run_dir)
    parquet = run_dir / "requests.parquet"
    if parquet.exists() or any(parts_dir(parquet).glob("*.parquet")):
        return read_requests_parquet(parquet)
    csv = run_dir / "requests.csv"
    return pd.read_csv(csv, keep_default_na=True) if csv.exists() else None
