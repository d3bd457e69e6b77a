"""The resolver's child process must not outlive a router killed with SIGKILL.

A l4bench-router killed that way once left its solver child running (ppid 1) and holding the
router's stdout, so a test waiting on that pipe hung. PR_SET_PDEATHSIG is tied to the thread that
started the child, so the child also watches its parent pid; this test turns the prctl off in the
child to check that the watchdog alone ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

SCRIPT = r"""
import multiprocessing, os, pickle, time
from concurrent.futures import ProcessPoolExecutor
from l4bench.live.solver_process import init_child, ready


def init_without_pdeathsig(state, parent_pid):
    import l4bench.live.procs as procs
    procs._die_with_parent = lambda: None
    init_child(state, parent_pid)


if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=init_without_pdeathsig, initargs=(pickle.dumps({"a": 1}), os.getpid()))
    pool.submit(ready).result()
    print(" ".join(str(p.pid) for p in pool._processes.values()), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_solver_child_exits_when_its_router_is_killed(tmp_path) -> None:
    script = tmp_path / "router_like.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    child = int(proc.stdout.readline().split()[0])
    try:
        assert _alive(child)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the solver child outlived its router"
        assert proc.stdout.read() == ""  # the pipe closed: nobody holds it any more
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
