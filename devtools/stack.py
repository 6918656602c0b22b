"""`make stack`: the production path on this machine - PostgreSQL, Redis, Celery - as separate processes.

Starts the api-server, scheduler, dag-processor, triggerer and two Celery workers (each its own
hostname, so task instances show where they ran), plus the sandbox, with the same settings
docker-compose.yml uses. Settings come from the environment, with defaults for this machine:

    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN  postgresql+psycopg2://postgres@127.0.0.1:5432/oh_outlook_stack
    AIRFLOW__CELERY__BROKER_URL          redis://127.0.0.1:6379/0
    AIRFLOW__CELERY__RESULT_BACKEND      db+ the metadata database
    OH_STACK_API_PORT (8080), OH_STACK_HOME (.stack), OH_STACK_WORKERS (2), OH_STACK_CONCURRENCY (2)

The database named in the URL is the stack's own: created when missing, dropped and made anew
only with --fresh. Everything started is stopped by its process group id, also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devtools import ROOT, with_checkout_on_path

WORKER_NAME_ENV = "OH_STACK_WORKER_NAME"
ADMIN = ("admin", "admin")


def hostname() -> str:
    """Airflow's hostname callable for the stack: each Celery worker on this machine names itself."""
    from airflow.utils.net import getfqdn

    return os.environ.get(WORKER_NAME_ENV) or getfqdn()


@dataclass(frozen=True)
class StackSettings:
    sql_alchemy_conn: str
    broker_url: str
    result_backend: str
    home: Path
    api_port: int = 8080
    workers: int = 2
    concurrency: int = 2
    extra_env: Mapping[str, str] = field(default_factory=dict)  # more AIRFLOW__* settings (tests tune timeouts)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> StackSettings:
        db = environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                         "postgresql+psycopg2://postgres@127.0.0.1:5432/oh_outlook_stack")
        values = {
            "sql_alchemy_conn": db,
            "broker_url": environ.get("AIRFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:6379/0"),
            "result_backend": environ.get("AIRFLOW__CELERY__RESULT_BACKEND", "db+" + db.replace("+psycopg2", "")),
            "home": Path(environ.get("OH_STACK_HOME", ROOT / ".stack")).resolve(),
            "api_port": int(environ.get("OH_STACK_API_PORT", 8080)),
            "workers": int(environ.get("OH_STACK_WORKERS", 2)),
            "concurrency": int(environ.get("OH_STACK_CONCURRENCY", 2)),
        }
        return cls(**{**values, **overrides})

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def worker_names(self) -> list[str]:
        return [f"worker{i + 1}" for i in range(self.workers)]


def unreachable(settings: StackSettings) -> str | None:
    """One line saying which service cannot be reached (and which setting points at it), else None."""
    from sqlalchemy.engine import make_url

    db = make_url(settings.sql_alchemy_conn)
    broker = make_url(settings.broker_url)
    for name, host, port, setting in (
        ("PostgreSQL", db.host or "127.0.0.1", db.port or 5432, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
        ("Redis", broker.host or "127.0.0.1", broker.port or 6379, "AIRFLOW__CELERY__BROKER_URL"),
    ):
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError as exc:
            return f"{name} is not reachable at {host}:{port} ({exc.strerror or exc}); start it or set {setting}"
    return None


def _admin(settings: StackSettings, statements: Any) -> None:
    """Run statements on the server's `postgres` database (CREATE/DROP DATABASE need autocommit)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(settings.sql_alchemy_conn)
    conn = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                            dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            statements(cur, url.database)
    finally:
        conn.close()


def prepare_database(settings: StackSettings, fresh: bool) -> None:
    """Create the stack's own database (drop it first with `fresh`); no other database is touched."""
    from psycopg2 import sql

    def run(cur: Any, name: str) -> None:
        if fresh:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    _admin(settings, run)


def drop_database(settings: StackSettings) -> None:
    """Drop the stack's own database (the test suite's, after its run)."""
    from psycopg2 import sql

    _admin(settings, lambda cur, name: cur.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))))


def purge_queues(settings: StackSettings, queues: tuple[str, ...] = ("default",)) -> None:
    """Forget Celery messages a previous stack left for a database that no longer exists."""
    import redis

    client = redis.Redis.from_url(settings.broker_url)
    client.delete(*queues, "unacked", "unacked_index")


def _persisted(path: Path, make: Any) -> str:
    """A key generated once per stack home (Fernet key, JWT secret), so restarts keep reading old rows."""
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


class AirflowApi:
    """The public REST API with a token of the stack's admin user."""

    def __init__(self, base_url: str, user: tuple[str, str] = ADMIN) -> None:
        self.base_url = base_url
        self.user = user
        self.session = requests.Session()

    def login(self) -> None:
        answer = requests.post(f"{self.base_url}/auth/token", json=dict(zip(("username", "password"), self.user,
                                                                          strict=True)), timeout=30)
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if "Authorization" not in self.session.headers:
            self.login()
        answer = self.session.request(method, f"{self.base_url}/api/v2/{path.lstrip('/')}", timeout=60, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any, **params: Any) -> Any:
        return self.request("PATCH", path, json=body, params=params)


class Stack:
    """The running components; `start()` waits until all are healthy, `stop()` ends what it started."""

    def __init__(self, settings: StackSettings, connections: Mapping[str, dict]) -> None:
        self.settings = settings
        self.connections = dict(connections)
        self.home = settings.home
        self.logs = self.home / "process-logs"
        self.processes: dict[str, subprocess.Popen] = {}
        self._commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.api = AirflowApi(settings.api_url)

    # ------------------------------------------------------------------ environment
    def environment(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") or k.startswith("AIRFLOW__OH_OUTLOOK__")}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=s.sql_alchemy_conn,
            AIRFLOW__CELERY__BROKER_URL=s.broker_url,
            AIRFLOW__CELERY__RESULT_BACKEND=s.result_backend,
            AIRFLOW__CORE__FERNET_KEY=_persisted(self.home / "fernet.key", _fernet_key),
            AIRFLOW__API_AUTH__JWT_SECRET=_persisted(self.home / "jwt.secret", lambda: secrets.token_urlsafe(48)),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{s.api_url}/execution/",
            AIRFLOW__API__BASE_URL=s.api_url,
            AIRFLOW__API__PORT=str(s.api_port),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__CORE__HOSTNAME_CALLABLE="devtools.stack.hostname",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN[0]}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            OH_OUTLOOK_SNAPSHOT_BASE=f"file://{self.home}/snapshots",
        )
        env.update(s.extra_env)
        return with_checkout_on_path(env)  # every component imports the hostname callable from devtools

    # ------------------------------------------------------------------ lifecycle
    def start(self, fresh: bool = False, timeout: float = 240) -> Stack:
        reason = unreachable(self.settings)
        if reason:
            raise RuntimeError(reason)
        self.home.mkdir(parents=True, exist_ok=True)
        self._stop_leftovers()
        listening = celery_workers(self.settings)
        if listening:  # they would take this stack's tasks and run them with another stack's settings
            raise RuntimeError(f"Celery workers already listen on {self.settings.broker_url}: {', '.join(listening)}; "
                               "stop them, or point AIRFLOW__CELERY__BROKER_URL at another Redis database")
        self.logs.mkdir(exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN[0]: ADMIN[1]}))
        prepare_database(self.settings, fresh)
        purge_queues(self.settings)
        env = self.environment()
        self.cli(["db", "migrate"], env)
        try:
            self._spawn("api-server", ["api-server", "--port", str(self.settings.api_port)], env)
            for name in ("scheduler", "dag-processor", "triggerer"):
                self._spawn(name, [name], env)
            for name in self.settings.worker_names:
                self._spawn(name, ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency",
                                   str(self.settings.concurrency), "--skip-serve-logs"], {**env, WORKER_NAME_ENV: name})
            self.wait_healthy(timeout)
            # Through the REST API, not the CLI: each `airflow` command costs seconds of start-up. The DAGs
            # are paused at creation, so nothing runs before the pool and the connections exist.
            if not self._exists("pools/oh_outlook_graph"):  # an admin's pool size is kept
                self.api.post("pools", {"name": "oh_outlook_graph", "slots": 4, "include_deferred": False,
                                        "description": "Concurrent Microsoft Graph tasks"})
            for conn_id, value in self.connections.items():  # replaced: the sandbox's port may differ
                body = {"connection_id": conn_id, **value, "extra": json.dumps(value.get("extra") or {})}
                if self._exists(f"connections/{conn_id}"):
                    self.api.patch(f"connections/{conn_id}", body)
                else:
                    self.api.post("connections", body)
        except BaseException:
            self.stop()
            raise
        return self

    def _exists(self, path: str) -> bool:
        try:
            self.api.get(path)
        except RuntimeError:
            return False
        return True

    def _stop_leftovers(self) -> None:
        """Process groups an earlier launcher of this home started and could not stop (it was killed)."""
        pids = self.home / "pids.json"
        if not pids.exists():
            return
        import psutil

        for pid in json.loads(pids.read_text()).values():
            try:
                command = " ".join(psutil.Process(pid).cmdline())
            except psutil.Error:
                continue
            if "airflow" in command or "celery" in command:
                _signal_group(pid, signal.SIGKILL)
        pids.unlink()

    def cli(self, args: list[str], env: Mapping[str, str] | None = None, check: bool = True) -> str:
        """`airflow ...` with the stack's settings; output goes to the CLI log."""
        binary = Path(sys.executable).parent / "airflow"
        result = subprocess.run([str(binary), *args], env=dict(env or self.environment()), capture_output=True,
                                text=True)
        with (self.logs / "cli.log").open("a") as log:
            log.write(f"$ airflow {' '.join(args[:2])} ...\n{result.stdout}{result.stderr}\n")
        if check and result.returncode:
            raise RuntimeError(f"airflow {' '.join(args[:2])} failed (exit {result.returncode}); see {self.logs}/cli.log")
        return result.stdout

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self._commands[name] = (args, dict(env))
        binary = Path(sys.executable).parent / "airflow"
        out = (self.logs / f"{name}.log").open("ab")
        # Own session: the component and the children it forks share one process group, stopped as one.
        self.processes[name] = subprocess.Popen([str(binary), *args], env=dict(env), stdout=out,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        (self.home / "pids.json").write_text(json.dumps({n: p.pid for n, p in self.processes.items()}))

    def log_of(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        problem = "not started"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs}/{name}.log")
            problem = self._health_problem()
            if problem is None:
                return
            time.sleep(1)
        raise RuntimeError(f"the stack did not become healthy in {timeout:.0f}s: {problem}; see {self.logs}")

    def _health_problem(self) -> str | None:
        try:
            health = requests.get(f"{self.settings.api_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return "api-server not answering"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
            if (health.get(part) or {}).get("status") != "healthy":
                return f"{part} not healthy yet"
        for name in self.settings.worker_names:
            log = self.log_of(name)
            if f"{name}@" not in log or " ready." not in log:
                return f"Celery {name} not ready yet"
        return None

    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it forked, as if its machine died."""
        _signal_group(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def restart(self, name: str, timeout: float = 120) -> None:
        """Start a killed component again with its first command line and wait until the stack is healthy."""
        before = self.log_of(name).count(" ready.")
        self._spawn(name, *self._commands[name])
        deadline = time.monotonic() + timeout
        while self.log_of(name).count(" ready.") == before and name in self.settings.worker_names:
            if time.monotonic() > deadline or self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} did not start again; see {self.logs}/{name}.log")
            time.sleep(0.5)
        self.wait_healthy(timeout)

    def stop(self, grace: float = 20) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process.pid, signal.SIGKILL)  # also the children left behind by a clean exit
            process.wait()
        self.processes.clear()
        (self.home / "pids.json").unlink(missing_ok=True)


def _signal_group(pgid: int, sig: int) -> None:
    """Signal a process group (a component started in its own session), gone or not."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def celery_workers(settings: StackSettings) -> list[str]:
    """Names of the Celery workers answering a ping on the stack's broker."""
    from celery import Celery

    app = Celery(broker=settings.broker_url)
    try:
        return sorted(name for reply in app.control.ping(timeout=1.0) or [] for name in reply)
    finally:
        app.close()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the stack's own database first")
    parser.add_argument("--check", action="store_true", help="only say whether PostgreSQL and Redis are reachable")
    parser.add_argument("--sandbox-port", type=int, default=8443)
    args = parser.parse_args(argv)
    settings = StackSettings.from_env()
    reason = unreachable(settings)
    if reason or args.check:
        print(reason or "PostgreSQL and Redis are reachable")
        return 1 if reason else 0
    settings.home.mkdir(parents=True, exist_ok=True)
    # Ctrl-C and SIGTERM both stop everything (a shell starts background jobs with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sandbox_settings = settings.home / "sandbox.json"
    sandbox_settings.unlink(missing_ok=True)
    sandbox = subprocess.Popen([sys.executable, "-m", "devtools.sandbox", "serve", "--port",
                                str(args.sandbox_port), "--settings-file", str(sandbox_settings),
                                "--tls-dir", str(settings.home / "sandbox-tls")],
                               env=with_checkout_on_path(os.environ), stdout=subprocess.DEVNULL, start_new_session=True)
    stack = None
    try:
        for _ in range(100):
            if sandbox_settings.exists() or sandbox.poll() is not None:
                break
            time.sleep(0.2)
        sandbox_env = json.loads(sandbox_settings.read_text())
        connections = {"office365_default": json.loads(sandbox_env["AIRFLOW_CONN_OFFICE365_DEFAULT"]),
                       "openhandwerk_default": json.loads(sandbox_env["AIRFLOW_CONN_OPENHANDWERK_DEFAULT"])}
        stack = Stack(settings, connections)
        print(f"Starting the stack in {settings.home} (logs in {stack.logs}) ...", flush=True)
        stack.start(fresh=args.fresh)
        print(f"Ready: Airflow UI {settings.api_url} (user admin, password admin), sandbox "
              f"{sandbox_env['base_url']}; workers {', '.join(settings.worker_names)}. Ctrl-C stops everything.",
              flush=True)
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(2)
        print("A component exited; stopping the stack.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if stack:
            stack.stop()
        _signal_group(sandbox.pid, signal.SIGTERM)


if __name__ == "__main__":
    raise SystemExit(main())
