"""vLLM step-time profiler: measures engine step time over a grid of batch compositions.

Run `python -m l4bench.profiling --model-dir DIR --out DIR --grid full|smoke|backend [--attention-backend
NAME --burst]`, or through the harness with `+experiment=profile` / `gpu_smoke` / `profile_backend`
(which call `runner.run_profile`). Per-backend profiles on a GPU host: scripts/gpu_profiles.sh; see README.md.
"""
