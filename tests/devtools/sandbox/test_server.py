"""The sandbox's server: its event loop, and uvicorn's housekeeping woken once a second or when asked to stop (issue 25)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools import with_checkout_on_path
from devtools.sandbox import SandboxServer
from devtools.sandbox import server as server_module
from devtools.sandbox.state import SandboxState


def _get(server: SandboxServer, path: str) -> requests.Response:
    return requests.get(f"{server.base_url}{path}", verify=server.ca_path, timeout=10)


def test_the_server_runs_on_uvloop_where_it_is_installed_and_answers():
    loop = server_module.new_event_loop()
    try:
        expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        assert type(loop).__module__.split(".")[0] == expected
    finally:
        loop.close()
    with SandboxServer(SandboxState(seed=3, employees=2, appointments_per_employee=1)) as server:
        assert _get(server, "/_sandbox/stats").status_code == 200
        assert type(server._server._loop).__module__.split(".")[0] == expected


def test_housekeeping_wakes_about_once_a_second_not_ten_times(monkeypatch):
    ticks: list[int] = []
    with SandboxServer(SandboxState(seed=3, employees=2, appointments_per_employee=1)) as server:
        on_tick = server._server.on_tick

        async def counted(counter: int) -> bool:
            ticks.append(counter)
            return await on_tick(counter)

        monkeypatch.setattr(server._server, "on_tick", counted)
        server._server.wake()  # answered by a tick at once, not after the second's wait
        for _ in range(50):
            if ticks:
                break
            time.sleep(0.01)
        assert ticks == [0]
        time.sleep(0.6)
        # uvicorn's own loop looks every 0.1 s: 6 more in 0.6 s. Ours: perhaps the second's tick, nothing else
        assert len(ticks) <= 2, ticks
    assert set(ticks) == {0}  # every housekeeping tick renews the Date header


def test_a_stop_wakes_the_housekeeping_at_once_however_long_it_would_sleep(monkeypatch):
    monkeypatch.setattr(server_module, "HOUSEKEEPING_S", 3600.0)
    server = SandboxServer(SandboxState(seed=3, employees=2, appointments_per_employee=1)).start()
    assert _get(server, "/_sandbox/stats").status_code == 200
    server.stop()  # joins the server's thread for up to 10 s: without the wake it would sleep an hour
    assert not server._thread.is_alive()


def test_a_wake_renews_the_date_header(monkeypatch):
    monkeypatch.setattr(server_module, "HOUSEKEEPING_S", 3600.0)
    with SandboxServer(SandboxState(seed=3, employees=2, appointments_per_employee=1)) as server:
        state = server._server.server_state
        state.default_headers = [(b"date", b"Mon, 01 Jan 2001 00:00:00 GMT")]
        server._server.wake()
        for _ in range(100):
            if dict(state.default_headers).get(b"date") != b"Mon, 01 Jan 2001 00:00:00 GMT":
                break
            time.sleep(0.01)
        assert "2001" not in _get(server, "/_sandbox/stats").headers["date"]


def test_the_cli_server_stopped_by_sigterm_removes_its_own_tls_directory(tmp_path):
    """`python -m devtools.sandbox serve` without --tls-dir writes its CA and key into a directory of its own: a
    SIGTERM (docker stop, a benchmark's terminate()) ends it with 143 as before, and the directory goes with it."""
    settings = tmp_path / "settings.json"
    proc = subprocess.Popen([sys.executable, "-m", "devtools.sandbox", "serve", "--port", "0", "--settings-file",
                             str(settings)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=with_checkout_on_path(os.environ))
    try:
        for _ in range(600):
            if settings.exists() and settings.stat().st_size:
                break
            time.sleep(0.05)
        folder = Path(json.loads(settings.read_text())["ca_bundle"]).parent
        base = json.loads(settings.read_text())["base_url"]
        for _ in range(100):  # serving: the CA is there
            try:
                requests.get(f"{base}/_sandbox/stats", verify=str(folder / "ca.pem"), timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.05)
        assert (folder / "ca.pem").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (128 + signal.SIGTERM, -signal.SIGTERM)  # ended by it, as a shell shows
    finally:
        proc.kill()
        proc.wait()
    assert not folder.exists(), proc.stderr.read().decode()[-2000:]
