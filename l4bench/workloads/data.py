"""Where workload files come from: a data directory, else a pinned download into a cache.

Every known file is listed once in ``KNOWN_FILES`` (path relative to the data directory -> public
origin URL at a fixed commit + full sha256). Lookup order for ``resolve_data_file``:

1. ``data_dir`` (the ``data_dir`` config key), then ``$L4BENCH_DATA_DIR``;
2. the download cache (``$L4BENCH_CACHE_DIR``, default ``~/.cache/l4bench``), sha256-checked;
3. a fresh download from the pinned origin into the cache (sha256-checked, atomic rename).

Trace files are never stored in the repository.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from l4bench.errors import ConfigError

_MOONCAKE = (
    "https://raw.githubusercontent.com/kvcache-ai/Mooncake/"
    "3cca71daccf2a7afb8fe3f0295358f70e3a69fdb/FAST25-release/traces/"
)
_AZURE = (
    "https://raw.githubusercontent.com/Azure/AzurePublicDataset/"
    "790921015d50dd6aae7f7e47f39ba0e235ad6b08/data/"
)
_ETALON = (
    "https://raw.githubusercontent.com/project-etalon/etalon/"
    "10102d06d17e7763a9779b0483b41abd7fabeb3b/data/processed_traces/"
)


@dataclass(frozen=True, slots=True)
class DataFile:
    """One known workload file: its pinned public origin (None: no downloadable origin)."""

    url: str | None
    sha256: str
    license: str


KNOWN_FILES: dict[str, DataFile] = {
    "mooncake/conversation_trace.jsonl": DataFile(
        _MOONCAKE + "conversation_trace.jsonl",
        "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df",
        "Apache-2.0",
    ),
    "mooncake/synthetic_trace.jsonl": DataFile(
        _MOONCAKE + "synthetic_trace.jsonl",
        "bd070915a98fc0ed264d7cfef2ce746002eb3076a695ec31ba2674c0111ec131",
        "Apache-2.0",
    ),
    "azure_llm_2023/AzureLLMInferenceTrace_code.csv": DataFile(
        _AZURE + "AzureLLMInferenceTrace_code.csv",
        "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6",
        "CC-BY-4.0",
    ),
    "azure_llm_2023/AzureLLMInferenceTrace_conv.csv": DataFile(
        _AZURE + "AzureLLMInferenceTrace_conv.csv",
        "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
        "CC-BY-4.0",
    ),
    "vidur_etalon_processed/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv": DataFile(
        _ETALON + "arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
        "9d3580538d915ca75e4aaaa54590b42dbb17abc6d74c8913310cf07c232adcdc",
        "Apache-2.0 (etalon); origin data: ccdv/arxiv-summarization",
    ),
    "vidur_etalon_processed/bwb_stats_llama2_tokenizer_filtered_v2.csv": DataFile(
        _ETALON + "bwb_stats_llama2_tokenizer_filtered_v2.csv",
        "389419d2f2e55149b5d6ccfedb881572798d39650436ab86fd61f3c40337a990",
        "Apache-2.0 (etalon); origin data: Bilingual Web Book",
    ),
    "vidur_etalon_processed/sharegpt_8k_filtered_stats_llama2_tokenizer.csv": DataFile(
        _ETALON + "sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
        "6d6c296302a853e2669a674a96f269283e60c57e60363bd450588a1066919f9f",
        "Apache-2.0 (etalon); origin data: ShareGPT (no clear license)",
    ),
    # Hand-transcribed from THUDM/LongBench docs (MIT); no downloadable CSV upstream, so
    # workloads.longbench_stats holds the same numbers built in.
    "longctx_benchmark_stats/longbench_v1_task_stats.csv": DataFile(
        None, "9e0801b6f4d2ce1f351471c58960fe85dc5c83610361d53d78b746b91e7b9c15", "MIT"
    ),
    "longctx_benchmark_stats/longbench_v2_task_stats.csv": DataFile(
        None, "c2e7e4c7ea661017dc436b0a0495caa6311a53ef4fb9b7ff5ebd403cd940ceb1", "MIT"
    ),
}


def sha256_of(path: Path) -> str:
    """Full hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The download cache: $L4BENCH_CACHE_DIR, else ~/.cache/l4bench."""
    env = os.environ.get("L4BENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "l4bench"


def _search_dirs(data_dir: str | None) -> list[Path]:
    dirs = [Path(d).expanduser() for d in (data_dir, os.environ.get("L4BENCH_DATA_DIR")) if d]
    return list(dict.fromkeys(dirs))


def find_local(relpath: str, data_dir: str | None) -> Path | None:
    """relpath in data_dir or $L4BENCH_DATA_DIR, without downloading; None when absent."""
    for d in _search_dirs(data_dir):
        if (d / relpath).is_file():
            return d / relpath
    return None


def _download(url: str, dest: Path, sha256: str, option: str) -> None:
    """Fetch url into dest through a temporary file; keep it only if the sha256 matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        got = sha256_of(tmp)
        if got != sha256:
            raise ConfigError(
                f"{option}: download of {url} has sha256 {got}, expected {sha256}; "
                "the origin changed or the transfer was corrupted (set L4BENCH_DATA_DIR to a "
                "folder holding the verified file)"
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise ConfigError(f"{option}: could not download {url} ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def resolve_data_file(relpath: str, data_dir: str | None, option: str) -> Path:
    """Find relpath in the data dirs or the cache, else download it from its pinned origin.

    Absolute paths are returned as they are when they exist.
    """
    if Path(relpath).expanduser().is_absolute():
        path = Path(relpath).expanduser()
        if path.is_file():
            return path
        raise ConfigError(f"{option}: file {path} does not exist")
    local = find_local(relpath, data_dir)
    if local is not None:
        return local
    searched = [d / relpath for d in _search_dirs(data_dir)]
    known = KNOWN_FILES.get(relpath)
    cached = cache_dir() / relpath
    searched.append(cached)
    if known is not None:
        if cached.is_file():
            if sha256_of(cached) == known.sha256:
                return cached
            cached.unlink()  # corrupted or stale: fetch again below
        if known.url is not None:
            _download(known.url, cached, known.sha256, option)
            return cached
    where = ", ".join(str(p) for p in searched)
    origin = "" if known is None or known.url is None else f" or download {known.url}"
    raise ConfigError(
        f"{option}: cannot find {relpath} (searched {where}); set L4BENCH_DATA_DIR (or the "
        f"data_dir key) to a folder holding {relpath}{origin}"
    )


def describe_file(path: Path, relpath: str) -> dict[str, object]:
    """Facts about a resolved file for summary.json: path, sha256, license, registry match."""
    digest = sha256_of(path)
    known = KNOWN_FILES.get(relpath)
    facts: dict[str, object] = {"source_file": str(path), "sha256": digest}
    if known is not None:
        facts["license"] = known.license
        facts["origin_url"] = known.url
        facts["sha256_matches_registry"] = digest == known.sha256
    return facts
