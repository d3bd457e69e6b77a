"""LocalLauncher / AttachLauncher: free ports, readiness, logs, device env, teardown without orphans."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from l4bench.errors import ConfigError
from l4bench.live.launchers import AttachLauncher, LaunchError, LocalClusterSpec, LocalLauncher, http_ok
from l4bench.live.procs import live_processes

# A server that reports its env var and forks a grandchild (like vLLM's engine core) before serving.
SERVER = textwrap.dedent(
    """
    import http.server, os, subprocess, sys
    port = int(sys.argv[1])
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = os.environ.get("MY_DEVICES", "-").encode()
            self.send_response(200); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a):
            pass
    print("serving", port, flush=True)
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


def _spec(tmp_path: Path, n: int = 2, script: str = SERVER, timeout_s: float = 20.0) -> LocalClusterSpec:
    path = tmp_path / "server.py"
    path.write_text(script)
    return LocalClusterSpec(
        command=lambda i, port: [sys.executable, str(path), str(port)],
        num_instances=n,
        log_dir=tmp_path / "logs",
        devices=("0", "1,2")[:n],
        device_env_var="MY_DEVICES",
        health_path="/",
        ready_timeout_s=timeout_s,
    )


def _group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) members of a process group."""
    out = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True).stdout.split("\n")
    rows = [line.split() for line in out if line.strip()]
    return [int(p) for p, g, st in rows if int(g) == pgid and not st.startswith("Z")]


def test_local_launcher_starts_binds_devices_logs_and_tears_down(tmp_path: Path) -> None:
    import urllib.request

    with LocalLauncher(_spec(tmp_path)) as launcher:
        eps = launcher.start()
        assert [e.instance_id for e in eps] == [0, 1]
        assert len({e.url for e in eps}) == 2 and all(e.url.startswith("http://127.0.0.1:") for e in eps)
        got = [urllib.request.urlopen(e.url + "/").read().decode() for e in eps]
        assert got == ["0", "1,2"]
        pgids = [p.pid for p in launcher.procs]
        assert all(len(_group_pids(g)) == 2 for g in pgids)  # server + its forked grandchild
        assert (tmp_path / "logs" / "instance-1.log").read_text().count("serving") == 1
    assert all(_group_pids(g) == [] for g in pgids), "orphans left behind"
    assert not any(http_ok(e.url + "/") for e in eps)
    assert live_processes() == []


def test_kill_instance_leaves_the_other_running(tmp_path: Path) -> None:
    with LocalLauncher(_spec(tmp_path)) as launcher:
        eps = launcher.start()
        launcher.kill_instance(0)
        assert not http_ok(eps[0].url + "/") and http_ok(eps[1].url + "/")
    assert live_processes() == []


def test_startup_failure_reports_log_and_cleans_up(tmp_path: Path) -> None:
    bad = "import sys; print('boom: no such model', flush=True); sys.exit(3)"
    with pytest.raises(LaunchError, match="boom: no such model"):
        LocalLauncher(_spec(tmp_path, script=bad)).start()
    assert live_processes() == []


def test_readiness_timeout(tmp_path: Path) -> None:
    never = "import time; time.sleep(60)"
    t0 = time.monotonic()
    with pytest.raises(LaunchError, match="not ready after"):
        LocalLauncher(_spec(tmp_path, script=never, timeout_s=1.0)).start()
    assert time.monotonic() - t0 < 10
    assert live_processes() == []


def test_devices_must_match_instances(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(ConfigError, match="engine.devices"):
        LocalLauncher(LocalClusterSpec(**{**spec.__dict__, "num_instances": 3}))


def test_sigterm_to_harness_kills_servers(tmp_path: Path) -> None:
    """A harness process killed by SIGTERM takes its servers with it (signal handler + process groups)."""
    (tmp_path / "server.py").write_text(SERVER)
    driver = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from pathlib import Path
        from l4bench.live.launchers import LocalClusterSpec, LocalLauncher
        spec = LocalClusterSpec(command=lambda i, p: [sys.executable, {str(tmp_path / "server.py")!r}, str(p)],
                                num_instances=2, log_dir=Path({str(tmp_path / "logs")!r}), health_path="/")
        l = LocalLauncher(spec); l.start()
        print(" ".join(str(p.pid) for p in l.procs), flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pgids = [int(x) for x in proc.stdout.readline().split()]
    assert len(pgids) == 2 and all(_group_pids(g) for g in pgids)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    deadline = time.monotonic() + 10
    while any(_group_pids(g) for g in pgids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_group_pids(g) for g in pgids), "servers outlived a SIGTERM'd harness"


def test_attach_checks_health_and_never_stops(tmp_path: Path) -> None:
    with LocalLauncher(_spec(tmp_path, n=1)) as owner:
        url = owner.start()[0].url
        with AttachLauncher([url + "/"], health_path="/") as att:
            eps = att.start()
            assert eps[0].url == url and att.describe()["urls"] == [url]
        assert http_ok(url + "/")  # attach's stop() left it alone
    with pytest.raises(ConfigError):
        AttachLauncher([])
    with pytest.raises(LaunchError):
        AttachLauncher(["http://127.0.0.1:9"], ready_timeout_s=0.5).start()


# Instance 1 marks its start; instance 0 serves only once that mark exists, or after HOLD_S. Started
# together, instance 0 is ready at once; started one after the other, instance 1 starts after HOLD_S.
# (Both orders are decided by what was spawned, not by how fast a loaded machine starts Python.)
HOLD_S = 4.0
SLOW_SERVER = textwrap.dedent(
    f"""
    import http.server, os, sys, time
    port, instance, marks = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    print("started", time.time(), flush=True)
    if instance == 1:
        open(os.path.join(marks, "started-1"), "w").close()
    t0 = time.monotonic()
    while instance == 0 and not os.path.exists(os.path.join(marks, "started-1")) and time.monotonic() - t0 < {HOLD_S}:
        time.sleep(0.02)
    print("serving", time.time(), flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


@pytest.mark.parametrize("serial", [True, False])
def test_serial_start_waits_for_each_instance_before_the_next(tmp_path: Path, serial: bool) -> None:
    import dataclasses

    spec = _spec(tmp_path, script=SLOW_SERVER)
    server = str(tmp_path / "server.py")
    spec = dataclasses.replace(
        spec, serial_start=serial, command=lambda i, port: [sys.executable, server, str(port), str(i), str(tmp_path)]
    )
    with LocalLauncher(spec) as launcher:
        launcher.start()
        logs = [(tmp_path / "logs" / f"instance-{i}.log").read_text().splitlines() for i in (0, 1)]
    stamp = {(i, ln.split()[0]): float(ln.split()[1]) for i, lines in enumerate(logs) for ln in lines
             if ln.startswith(("started", "serving"))}
    waited_s = stamp[0, "serving"] - stamp[0, "started"]
    if serial:  # instance 0 held until HOLD_S (instance 1 not spawned), and instance 1 started after it served
        assert waited_s >= HOLD_S - 0.1 and stamp[1, "started"] >= stamp[0, "serving"], stamp
    else:  # instance 1 was spawned while instance 0 was still waiting for it
        assert waited_s < HOLD_S - 0.1 and stamp[1, "started"] <= stamp[0, "serving"], stamp
