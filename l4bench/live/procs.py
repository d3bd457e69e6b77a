"""Child processes that never outlive the harness: own process group, atexit and signal teardown.

Every server the harness starts (engine instances, external routers) is a ``ManagedProcess``. Each
runs in its own session (so its whole tree can be signalled at once), dies with the harness when the
kernel supports it (PR_SET_PDEATHSIG), and is registered in a module-level set that an atexit hook
and SIGTERM/SIGINT/SIGHUP handlers tear down. The hooks are installed on the first start, not on import.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

_LIVE: set[ManagedProcess] = set()
_LOCK = threading.Lock()
_HOOKS_INSTALLED = False
_PREV_HANDLERS: dict[int, Any] = {}
_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL it when the harness dies."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass


def _teardown_all() -> None:
    """Stop every process still registered (atexit and signal path)."""
    with _LOCK:
        procs = list(_LIVE)
    for p in procs:
        p.stop(grace_s=5.0)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Tear children down, then behave as the previous handler would have."""
    _teardown_all()
    prev = _PREV_HANDLERS.get(signum)
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_IGN:
        return
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    """atexit + signal handlers, once per process, only from the main thread."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_teardown_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        prev = signal.getsignal(sig)
        if prev is _on_signal:
            continue
        _PREV_HANDLERS[sig] = prev
        signal.signal(sig, _on_signal)


def live_processes() -> list[ManagedProcess]:
    """Processes started here and not yet stopped (tests use it to prove nothing is orphaned)."""
    with _LOCK:
        return [p for p in _LIVE if p.is_running()]


class ManagedProcess:
    """One server process (and its children) with a log file and a guaranteed teardown."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Spawn the process in a new session, stdout+stderr appended to the log file."""
        _install_hooks()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        with _LOCK:
            _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        """The process id (also its process-group id), None before start."""
        return self.proc.pid if self.proc is not None else None

    def is_running(self) -> bool:
        """Started and not exited."""
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        """Send sig to the whole process group (the server and whatever it forked)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """SIGKILL the whole group now (fault injection); no grace."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        with _LOCK:
            _LIVE.discard(self)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM the group, wait up to grace_s, then SIGKILL; always sweeps the group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        # Children may survive their leader (engine cores, workers): sweep the group regardless.
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        with _LOCK:
            _LIVE.discard(self)

    def log_tail(self, num_chars: int = 2000) -> str:
        """The end of the log file (for error messages)."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-num_chars:].decode(errors="replace")


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll check() until it returns True or timeout_s passes; returns the last result."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return check()
