"""Run the sandbox over HTTPS in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from devtools.sandbox.fleet import Fleet
from devtools.sandbox.state import CLIENT_SECRET, SandboxState

# The collector in the sandbox's own process. With Python's (700, 10, 10) its collections over the tenants'
# records and events took 4.1 of 22 s of the emulator's CPU in the 200 x 100 benchmark (issue 25). Young
# cycles (exceptions, asyncio's) are still collected every 50,000 allocations; the older generations,
# which hold the tenants' data, are scanned only after 500 (1) and 500,000 (2) young collections.
GC_THRESHOLDS = (50_000, 500, 1_000)
# How often uvicorn's server wakes for its housekeeping (the Date header, is it asked to stop?): uvicorn's own loop
# wakes every 0.1 s. Each wake of an idle process costs CPU out of proportion to its work (a cold cache): at 400 ms
# a run's 218 housekeeping wakes were about 5 % of the emulator's CPU (0.04 s, run alternately; issue 25). Once a
# second keeps the Date header exact to the second, as uvicorn's does; a request to stop wakes the loop at once.
HOUSEKEEPING_S = 1.0
OWN_SECRET = CLIENT_SECRET  # office365_connection's default: the tenant's own secret (the constant's for one tenant)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The emulator's event loop: uvloop's where it is installed (the `devtools` extra, not on Windows), else asyncio's.

    uvloop runs the transports, TLS and the timers in C, where asyncio runs them in Python: the emulator's CPU in an
    initial sync at 400 ms 0.88 -> 0.81 s, run alternately (issue 25). Its timers count whole milliseconds (libuv):
    a latency ends within about a millisecond of its tick, its mean within half a millisecond
    (docs/sandbox-fidelity.md, "Knowingly simplified")."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_in_loop(main: Any) -> None:
    """Run the coroutine `main` to its end on a new `new_event_loop()`, as `asyncio.run` does on asyncio's."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main)


def _exit_on_signal(signum: int, frame: Any) -> None:
    """End the process as a signal's default action would (exit status 128 + the signal), with `finally` run."""
    raise SystemExit(128 + signum)


@functools.cache
def _quiet_server_class() -> type:
    """uvicorn's Server, its housekeeping once every `HOUSEKEEPING_S` and at once when it is asked to stop
    (`wake`, also from its signal handler). Made on first use: uvicorn is imported only by a server that runs."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        _loop: asyncio.AbstractEventLoop | None = None  # set once `_woken` is there: `wake` looks at `_loop` first
        _woken: asyncio.Event | None = None

        async def main_loop(self) -> None:  # uvicorn's, with its sleep(0.1) a wait for `wake`
            self._woken = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            while not await self.on_tick(0):  # tick 0: uvicorn renews the Date header on every tenth of its ticks
                try:
                    await asyncio.wait_for(self._woken.wait(), HOUSEKEEPING_S)
                except TimeoutError:
                    pass
                self._woken.clear()

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            self.wake()

        def wake(self) -> None:
            """Have the main loop look at `should_exit` now, from any thread."""
            loop, woken = self._loop, self._woken
            if loop is None or woken is None:
                return  # not serving yet: `_serve` looks at `should_exit` before the main loop starts
            try:
                loop.call_soon_threadsafe(woken.set)
            except RuntimeError:
                pass  # the loop closed meanwhile: nothing left to wake

    return QuietServer


class SandboxServer:
    """One process, one port: `/{tenant}/...` Entra, `/v1.0/...` Graph, `/openhandwerk/...`, `/_sandbox/...`.

    One tenant (`state`, today's sandbox) or many (`fleet`, devtools/sandbox/fleet.py); `state` is then
    the fleet's first tenant. Connection helpers take `tenant=` (a key such as "t003" or a tenant id).
    """

    def __init__(self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0,
                 tls_dir: Path | None = None, public_host: str | None = None, fleet: Fleet | None = None) -> None:
        if fleet is not None and state is not None and state is not fleet.first:
            raise ValueError("give a state or a fleet, not both")
        self.fleet = fleet or Fleet.single(state or SandboxState())
        self.state = self.fleet.first
        self.host = host
        self.public_host = public_host or host  # the name clients use (a compose service name)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it (Linux): without, every answer waited ~40 ms for the client's
        # delayed ACK (Nagle holding back the body behind the headers), 48 -> 2.4 ms per request.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self._tmp = None if tls_dir else tempfile.TemporaryDirectory(prefix="oh-sandbox-")
        self.tls_dir = Path(tls_dir or self._tmp.name)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.public_host}:{self.port}"

    @property
    def ca_path(self) -> str:
        return str(self.tls_dir / "ca.pem")

    def _config(self):
        import uvicorn

        from devtools.sandbox.app import create_app
        from devtools.sandbox.tls import make_tls_files

        _, cert, key = make_tls_files(self.tls_dir, (self.public_host,))
        app = create_app(self.fleet if len(self.fleet) > 1 else self.state)
        return uvicorn.Config(app, ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="warning",
                              access_log=False, lifespan="off", timeout_keep_alive=30, backlog=512,
                              timeout_graceful_shutdown=1)

    async def _serve(self) -> None:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = 256
        await self._server.serve(sockets=[self._sock])

    def prepare(self) -> SandboxServer:
        """Write the TLS files and build the server, so the CA path exists before anyone is told about it."""
        if self._server is None:
            self._server = _quiet_server_class()(self._config())
        return self

    def start(self) -> SandboxServer:
        self.prepare()
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=lambda: run_in_loop(self._serve()), daemon=True,
                                        name="oh-sandbox")
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        raise RuntimeError("sandbox did not start")

    def serve_forever(self) -> None:
        """Serve in this thread until stopped: the CLI's own process, whose cyclic collector is tuned for the
        emulator's heap (`GC_THRESHOLDS`); a server started in a thread leaves its host process's collector alone."""
        self.prepare()
        gc.collect()
        gc.freeze()  # the seeded tenants: never garbage while the process serves them
        gc.set_threshold(*GC_THRESHOLDS)
        # uvicorn answers SIGTERM by shutting down, then raises it again under the handler it found: Python's
        # default would end the process at once, its own TLS directory left behind. This one exits as SIGTERM's
        # default does (143), through the clean-up below.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _exit_on_signal) if main else None
        try:
            run_in_loop(self._serve())
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            if self._tmp is not None:
                self._tmp.cleanup()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True  # do not wait for clients' keep-alive connections
            self._server.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ client settings
    def tenant_state(self, tenant: str | None = None) -> SandboxState:
        """The tenant named by key or tenant id (None: the first); KeyError for an unknown one."""
        return self.fleet[tenant] if tenant is not None else self.state

    def office365_connection(self, secret: str | None = OWN_SECRET, tenant: str | None = None,
                             **extra: Any) -> dict:
        """The office365 connection of `tenant` (None: the first) as an admin types it; `secret` defaults to
        the tenant's own. Shape: {"conn_type", "login", "password", "extra": {...}} (airflow Connection fields)."""
        state = self.tenant_state(tenant)
        secret = state.client_secret if secret == OWN_SECRET else secret
        # The date the admin center shows for the secret (a German admin's day), typed in as the guide says.
        ends = next(x.expires for x in state.apps[state.client_id].secrets if x.value == state.client_secret)
        valid_until = ends.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()
        return {
            "conn_type": "office365", "login": state.client_id, "password": secret,
            # Every form field present (the UI's edit form shows only the keys a connection has).
            "extra": {"tenant_id": state.tenant_id, "credential_valid_until": valid_until, "national_cloud": "global",
                      "calendar_name": "", "authority_url": self.base_url, "graph_url": self.base_url,
                      "ca_bundle": self.ca_path, "request_timeout": 60, "certificate_private_key": "",
                      "certificate_thumbprint": "", **extra},
        }

    def openhandwerk_connection(self, tenant: str | None = None, **extra: Any) -> dict:
        """The openhandwerk connection of `tenant` (None: the first): Kundennummer in `schema`."""
        state = self.tenant_state(tenant)
        return {
            "conn_type": "openhandwerk", "host": f"{self.base_url}/openhandwerk", "login": state.oh_employee,
            "schema": state.oh_id_kn,
            # Every form field present here too (the edit form shows only the keys a connection has).
            "password": state.oh_password, "extra": {"ca_bundle": self.ca_path,
                                               "timezone": "Europe/Berlin", "page_size": None, "web_url": "",
                                               "paths": "", **extra},
        }

    def environment(self) -> dict[str, str]:
        """AIRFLOW_CONN_* variables pointing the default connections at this sandbox."""
        return {
            "AIRFLOW_CONN_OFFICE365_DEFAULT": json.dumps(self.office365_connection()),
            "AIRFLOW_CONN_OPENHANDWERK_DEFAULT": json.dumps(self.openhandwerk_connection()),
        }

    def fleet_connections(self) -> dict[str, dict]:
        """{conn_id: connection dict}: `office365_<key>` and `openhandwerk_<key>` for every tenant, in order."""
        out: dict[str, dict] = {}
        for state in self.fleet:
            out[f"office365_{state.key}"] = self.office365_connection(tenant=state.key)
            out[f"openhandwerk_{state.key}"] = self.openhandwerk_connection(tenant=state.key)
        return out

    def fleet_environment(self) -> dict[str, str]:
        """AIRFLOW_CONN_<CONN_ID> variables of `fleet_connections()` (Airflow upper-cases the id's name)."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(data) for conn_id, data in self.fleet_connections().items()}
