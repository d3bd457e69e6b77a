"""vLLM step-time profiler: measures engine step time over a grid of batch compositions.

Run `python -m l4bench.profiling --model-dir DIR --out DIR --grid full|smoke`, or through the
harness with `+experiment=profile` / `+experiment=gpu_smoke` (which call `runner.run_profile`).
"""
