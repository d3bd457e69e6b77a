"""A scheduler's solve() in a child process: no GIL shared with the router's event loop.

The child gets a pickled copy of the scheduler once (its fixed settings: bins, perf fit, cost
parameters, ablation overrides); each call sends a snapshot and returns the plan. Large arrays in
the plan (L4's cost tables: 3 x (K+1) x (K+1) x (N+1) floats, 6.6 MB for 64 x 64) do not travel
through the pipe: the child writes each to a file in shared memory (/dev/shm, else the temp dir)
and the parent maps it read-only (np.load mmap_mode="r") and unlinks it at once, so loading a plan
on the event loop costs a few file opens rather than a 6.6 MB unpickle (7 ms, measured).
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import threading
import time
import uuid
from typing import Any

import numpy as np

#: Arrays at least this large go through a shared-memory file instead of the pipe.
MAP_MIN_BYTES = 1 << 16

_SCHEDULER: Any = None


def shm_dir() -> str:
    """/dev/shm where it exists (RAM-backed), else the temp directory."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def _exit_when_orphaned(parent_pid: int, interval_s: float = 0.5) -> None:
    """Watchdog thread of the child: exit as soon as the router that started it is gone."""
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(0)


def init_child(scheduler_bytes: bytes, parent_pid: int | None = None) -> None:
    """Process-pool initializer: die with the router, keep this child's copy of the scheduler.

    PR_SET_PDEATHSIG alone did not do it: a router killed with SIGKILL left this child running
    (ppid 1), holding the router's stdout open, so whoever waited on that pipe hung (also when the
    router died while the child was still importing, before the prctl). parent_pid (the router's
    pid, passed by the router) is checked once here and then by a watchdog thread.
    """
    from l4bench.live.procs import _die_with_parent

    global _SCHEDULER
    _die_with_parent()
    parent = os.getppid() if parent_pid is None else parent_pid
    if os.getppid() != parent:  # the router died while this child was still importing
        os._exit(0)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True,
                     name="l4bench-orphan-watch").start()
    _SCHEDULER = pickle.loads(scheduler_bytes)


class _MapPickler(pickle.Pickler):
    """Pickles large numpy arrays as references to .npy files written beside."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray) and obj.nbytes >= MAP_MIN_BYTES and obj.dtype != object:
            path = os.path.join(shm_dir(), f"l4bench-plan-{os.getpid()}-{uuid.uuid4().hex}.npy")
            np.save(path, obj, allow_pickle=False)
            return ("npy", path)
        return None


class _MapUnpickler(pickle.Unpickler):
    """Maps the .npy references read-only and unlinks the files (the mapping keeps the data)."""

    def persistent_load(self, pid: Any) -> Any:
        kind, path = pid
        if kind != "npy":
            raise pickle.UnpicklingError(f"unknown reference {kind}")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        finally:
            os.unlink(path)


def ready() -> bool:
    """A no-op task: submitting it starts the child."""
    return _SCHEDULER is not None


def solve_in_child(snapshot: Any) -> bytes:
    """Runs in the child: solve the snapshot with its scheduler copy; the plan, pickled with maps."""
    buf = io.BytesIO()
    _MapPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(_SCHEDULER.solve(snapshot))
    return buf.getvalue()


def load_plan(data: bytes) -> Any:
    """Runs in the parent (event loop): the plan from solve_in_child's bytes."""
    return _MapUnpickler(io.BytesIO(data)).load()
