"""The example DAGs in real Airflow 3 against the sandbox (airflow CLI in subprocesses)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devtools.demo import airflow, airflow_env, last_xcom, merge_summaries, sync_run
from devtools.sandbox import control
from oh_outlook_provider.sync.models import Window
from tests.airflow_lines import CONNECTIONS_TEST_FAILED_EXIT
from tests.conftest import json_output
from tests.e2e.conftest import ROOT
from tests.integration.sync_helpers import assert_converged, ours

pytestmark = pytest.mark.e2e
DAG_IDS = {"oh_outlook_calendar_sync", "oh_outlook_calendar_backfill", "oh_outlook_user_mapping",
           "oh_outlook_secret_expiry"}
BERLIN = ZoneInfo("Europe/Berlin")


def env_for(home: Path, sandbox, **extra) -> dict:
    return {**airflow_env(home, sandbox, ROOT / "dags"), **extra}


def cli(home: Path, sandbox, args: list[str], check=True, **extra) -> subprocess.CompletedProcess:
    return airflow(args, env_for(home, sandbox, **extra), home / "cli.log", check=check)


def test_every_dag_parses_without_import_errors(airflow_home, today_sandbox):
    env = env_for(airflow_home, today_sandbox)
    binary = str(Path(sys.executable).parent / "airflow")
    errors = subprocess.run([binary, "dags", "list-import-errors", "--local", "-o", "json"], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert json_output(errors) == []
    listed = subprocess.run([binary, "dags", "list", "--local", "-o", "json"], env=env, capture_output=True, text=True,
                            check=True).stdout
    assert DAG_IDS <= {d["dag_id"] for d in json_output(listed)}


def test_dag_files_import_neither_msal_nor_requests():
    code = ("import sys, runpy, glob; import airflow.sdk; "
            "[runpy.run_path(f) for f in sorted(glob.glob('dags/*.py'))]; "
            "print(sorted(m for m in ('msal', 'requests') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def _no_warning_of_ours(home: Path) -> None:
    """A clean run's task logs carry no warning of ours."""
    log = (home / "cli.log").read_text()
    assert not [line for line in log.splitlines() if "[warning" in line and "oh_outlook_provider" in line]


def test_the_user_mapping_dag_classifies_every_employee(airflow_home, today_sandbox):
    cli(airflow_home, today_sandbox, ["dags", "test", "oh_outlook_user_mapping"])
    mapping = last_xcom(airflow_home, "oh_outlook_user_mapping", "map_users")[0]
    assert {e["employee_id"]: e["outcome"] for e in mapping["employees"]} == today_sandbox.state.data.expected_outcomes
    _no_warning_of_ours(airflow_home)


def test_the_sync_dag_fills_the_calendars_in_shards_from_one_read(airflow_home, today_sandbox):
    """On the older lines (make test-matrix); on the newest the stack suite proves it through the scheduler and two
    Celery workers (tests/e2e/conftest.py PROVEN_BY_THE_STACK)."""
    reads_before = today_sandbox.state.stats()["oh_window_reads"]
    cli(airflow_home, today_sandbox, ["dags", "test", "oh_outlook_calendar_sync"])
    assert today_sandbox.state.stats()["oh_window_reads"] - reads_before == 1  # one read for all shards
    mapping = last_xcom(airflow_home, "oh_outlook_calendar_sync", "map_users")[0]  # the run's own map_users task
    assert {e["employee_id"]: e["outcome"] for e in mapping["employees"]} == today_sandbox.state.data.expected_outcomes
    summary = sync_run(airflow_home)
    read = last_xcom(airflow_home, "oh_outlook_calendar_sync", "read_appointments")[0]
    assert read["rejected_total"] == 2 and {r["record_id"] for r in read["rejected"]} == {"T-BAD-1", "T-BAD-2"}
    assert all(not r.get("mailbox") for r in read["rejected"])
    shard_rejected = [r for s in last_xcom(airflow_home, "oh_outlook_calendar_sync", "sync_calendars")
                      for r in s["rejected"]]
    assert not shard_rejected  # reported once, by the read, not by every shard
    window = Window(dt.datetime.fromisoformat(summary["window"]["start"]), dt.datetime.fromisoformat(summary["window"]["end"]))
    assert summary["totals"]["create"] == len(ours(today_sandbox, None)) > 30
    assert_converged(today_sandbox, mapping["mapping"], window)
    assert len(last_xcom(airflow_home, "oh_outlook_calendar_sync", "sync_calendars")) >= 2  # shards mapped
    _no_warning_of_ours(airflow_home)


def test_backfill_run_writes_exactly_that_days_appointments(airflow_home, today_sandbox):
    day = dt.date.today() - dt.timedelta(days=3)
    # A manual run of a data-interval timetable covers the interval ending at its logical date.
    cli(airflow_home, today_sandbox, ["dags", "test", "oh_outlook_calendar_backfill",
                                      (day + dt.timedelta(days=1)).isoformat()])
    summary = merge_summaries(last_xcom(airflow_home, "oh_outlook_calendar_backfill", "sync_day"))
    start = dt.datetime.combine(day, dt.time(), BERLIN)
    window = Window(start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), BERLIN))
    assert dt.datetime.fromisoformat(summary["window"]["start"]) == window.start
    written = ours(today_sandbox, None)
    assert written == ours(today_sandbox, window) and sum(written.values()) == summary["totals"]["create"]
    mapping = last_xcom(airflow_home, "oh_outlook_calendar_backfill", "map_users")[0]["mapping"]
    assert_converged(today_sandbox, mapping, window)


def test_backfill_dry_run_lists_one_run_per_berlin_day(airflow_home, today_sandbox):
    out = cli(airflow_home, today_sandbox, ["backfill", "create", "--dag-id", "oh_outlook_calendar_backfill",
                                            "--from-date", "2026-11-01", "--to-date", "2026-11-04", "--dry-run"])
    assert out.returncode == 0
    text = (airflow_home / "cli.log").read_text()
    listed = text[max(text.rfind("Runs to be attempted"), text.rfind("Logical dates to be attempted")):]  # 3.3, 3.0
    assert [f"2026-11-0{d} 23:00:00+00:00" in listed for d in (1, 2, 3)] == [True, True, True]


def test_expired_secret_waits_fails_with_rotation_steps_then_passes_after_rotation(airflow_home, today_sandbox):
    control.expire_secret(today_sandbox.state)
    quick = {"OH_OUTLOOK_SECRET_WAIT_SECONDS": "3", "OH_OUTLOOK_SECRET_POKE_SECONDS": "1"}
    log = airflow_home / "cli.log"
    before = len(log.read_text())
    failed = cli(airflow_home, today_sandbox, ["dags", "test", "oh_outlook_calendar_sync"], check=False, **quick)
    text = log.read_text()[before:]
    assert "UP_FOR_RESCHEDULE" in text and "AADSTS7000222" in text
    assert "2. New client secret (Valid: 24 months)" in text and "Sensor has timed out" in text
    assert "DagRun Finished" in text and "state=failed" in text
    assert failed.returncode in (0, 1) and not ours(today_sandbox, None)  # nothing synced with a dead secret

    new_secret = control.rotate_secret(today_sandbox.state)
    rotated = airflow_env(airflow_home, today_sandbox, ROOT / "dags")
    conn = json.loads(rotated["AIRFLOW_CONN_OFFICE365_DEFAULT"])
    conn["password"] = new_secret
    conn["extra"]["credential_valid_until"] = (dt.date.today() + dt.timedelta(days=730)).isoformat()
    cli(airflow_home, today_sandbox, ["dags", "test", "oh_outlook_calendar_sync"], **quick,
        AIRFLOW_CONN_OFFICE365_DEFAULT=json.dumps(conn))
    assert ours(today_sandbox, None)
    assert new_secret not in log.read_text()  # masked in task logs


def test_deferrable_expiry_sensor_reads_the_connection_in_the_trigger_and_resumes(airflow_home, today_sandbox):
    """The fourth DAG: the sensor defers and its trigger reads the connection, extras included, inside `run()`
    (issue 23: on 3.0 a synchronous read there raised "You cannot use AsyncToSync in the same thread as an async
    event loop", apache/airflow issue 54350; version_compat.aget_connection). The secret is expired until the
    trigger has asked Entra once, then valid: the trigger's next look passes and the task resumes."""
    typed = json.dumps(today_sandbox.office365_connection())  # the admin's typed date: still valid for months
    control.expire_secret(today_sandbox.state)
    tokens = today_sandbox.state.stats()["token_requests"]
    stop = threading.Event()

    def renew_after_the_triggers_first_look() -> None:  # the sensor's poke is the first refused request
        while not stop.wait(0.2):
            if today_sandbox.state.stats()["token_requests"] >= tokens + 2:
                control.set_secret_expiry(today_sandbox.state, dt.datetime.now(dt.UTC) + dt.timedelta(days=730))
                return

    watcher = threading.Thread(target=renew_after_the_triggers_first_look, daemon=True)
    watcher.start()
    log = airflow_home / "cli.log"
    before = len(log.read_text())
    env = env_for(airflow_home, today_sandbox, OH_OUTLOOK_EXPIRY_POKE_SECONDS="1", AIRFLOW_CONN_OFFICE365_DEFAULT=typed)
    try:  # the sensor's own timeout is 23 hours: a trigger that never sees the renewed secret fails here instead
        with log.open("a") as out:
            subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test", "oh_outlook_secret_expiry"],
                           env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    finally:
        stop.set()
        watcher.join()
    text = log.read_text()[before:]
    assert "AADSTS7000222" in text and "AsyncToSync" not in text, text[-3000:]
    assert "DagRun Finished" in text and "state=success" in text, text[-3000:]
    assert today_sandbox.state.stats()["token_requests"] >= tokens + 3  # poke, the trigger's two looks


def test_docker_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    if compose is None:
        assert not os.environ.get("CI"), ".ci/run must install docker-compose (Debian's package)"
        pytest.skip("docker-compose is not installed here; `apt-get install docker-compose` to run this check")
    result = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_dag_says_what_it_does_and_in_which_time_zone_it_runs():
    """Issue 13 item 7: the DAG list shows a description naming the schedule's zone; schedules run in Berlin."""
    from tests.airflow_lines import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {} and len(bag.dags) == 7
    for dag in bag.dags.values():
        assert dag.description and len(dag.description) <= 100, dag.dag_id
        if not dag.timetable.can_be_scheduled:  # the setup check: triggered by hand, no zone to name
            assert dag.description.startswith("Manual"), dag.dag_id
            continue
        assert "Europe/Berlin" in dag.description, dag.dag_id
        assert str(dag.timetable.timezone) == "Europe/Berlin", dag.dag_id


FORM_TEST = r'''
import json, sys
from fastapi.testclient import TestClient
from airflow import plugins_manager
from airflow.api_fastapi.app import create_app
from airflow.models import Connection
from airflow.utils.session import create_session

stored, modes, sent = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
with create_session() as session:
    session.query(Connection).filter(Connection.conn_id == "office365_default").delete()
    session.add(Connection(conn_id="office365_default", conn_type="office365", login=stored["login"],
                           password=stored["password"], extra=json.dumps(stored["extra"])))
results = {}
for mode in modes:  # one process, one app each: Airflow's start-up once (about 8 s), not once per mode
    if mode == "without":  # 3.3.1 and 3.3.2 only (3.0 and 3.1 have no get_fastapi_plugins)
        plugins = plugins_manager.get_fastapi_plugins
        plugins_manager.get_fastapi_plugins = lambda: ([], [])
    client = TestClient(create_app())
    if mode == "without":
        plugins_manager.get_fastapi_plugins = plugins
    token = client.get("/auth/token").json()["access_token"]
    # What Airflow 3.3.2's edit form sends for Test: the port as Number(""), i.e. 0, and the masked secret.
    answer = client.post("/api/v2/connections/test", headers={"Authorization": f"Bearer {token}"},
                         json={"connection_id": "office365_default", "conn_type": "office365", "host": "", "port": 0,
                               "login": stored["login"], **sent})
    results[mode] = {"status": answer.status_code, "body": answer.json()}
print(json.dumps(results))
'''


def test_the_forms_test_button_works_for_a_stored_connection(airflow_home, today_sandbox):
    """Issue 13 item 1: through Airflow's real API app. On 3.3.1 and 3.3.2 it is the 400 without the provider's
    plugin; elsewhere the plugin leaves the request alone (issue 23): 3.1 and 3.2 fill in the stored secret and extras,
    and 3.0 (no Test button in its UI) tests the values as sent, so its API client sends the secret and extras itself."""
    from oh_outlook_provider.version_compat import CONNECTION_TEST_REFUSES_PORT_ZERO
    from tests.airflow_lines import CONNECTION_TEST_READS_STORED

    env = {**airflow_env(airflow_home, today_sandbox, ROOT / "dags", connections=False),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    stored = today_sandbox.office365_connection()
    sent = ({"password": "***"} if CONNECTION_TEST_READS_STORED
            else {"password": stored["password"], "extra": json.dumps(stored["extra"])})
    modes = ["without", "with"] if CONNECTION_TEST_REFUSES_PORT_ZERO else ["with"]
    out = subprocess.run([sys.executable, "-c", FORM_TEST, json.dumps(stored), json.dumps(modes), json.dumps(sent)],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json_output(out.stdout)
    assert list(results) == modes, results
    if CONNECTION_TEST_REFUSES_PORT_ZERO:
        assert results["without"]["status"] == 400 and "differs from the stored connection" in str(results["without"])
    assert results["with"]["status"] == 200 and results["with"]["body"]["status"] is True, results["with"]
    assert results["with"]["body"]["message"].startswith("Connection OK")


FORM_SAVE = r'''
import json, sys
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app

client = TestClient(create_app())
auth = {"Authorization": "Bearer " + client.get("/auth/token").json()["access_token"]}
client.delete("/api/v2/connections/o365_form", headers=auth)
saved = client.post("/api/v2/connections", headers=auth, json={
    "connection_id": "o365_form", "conn_type": "office365", "login": "app", "password": "secret-value",
    "extra": json.dumps({"tenant_id": "6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"})})
read = client.get("/api/v2/connections/o365_form", headers=auth).json()
print(json.dumps({"status": saved.status_code, "extra": json.loads(read["extra"])}))
'''


def test_a_connection_saved_by_the_form_keeps_every_field_for_the_edit_form(airflow_home, today_sandbox):
    """Issue 13 item 2: through Airflow's real API app, as the Add form saves a connection."""
    from oh_outlook_provider.get_provider_info import get_provider_info

    env = {**airflow_env(airflow_home, today_sandbox, ROOT / "dags", connections=False),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    out = subprocess.run([sys.executable, "-c", FORM_SAVE], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json_output(out.stdout)
    assert result["status"] == 201, result
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert set(result["extra"]) == set(fields) and result["extra"]["national_cloud"] == "global"


# mistake -> (language of `airflow connections test`, its verdict; language of the setup DAG, its verdict, its table line,
# the openHandwerk task's verdict): each case reads one tool in each language.
SETUP_CASES = {
    "calendars_read": (
        "en", "Setup incomplete: check 7 'Calendars.ReadWrite' failed (guide: Grant permissions, step 9)",
        "de", "Einrichtung unvollständig: Prüfung 7 'Calendars.ReadWrite' fehlgeschlagen (Anleitung: Berechtigung "
              "erteilen, Schritt 9)", " 7. FEHLER         Calendars.ReadWrite",
        "Verbindung OK: alle 5 Schritte der Einrichtung geprüft"),
    "no_consent": (
        "de", "Einrichtung unvollständig: Prüfung 8 'Administratorzustimmung' fehlgeschlagen (Anleitung: Berechtigung "
              "erteilen, Schritt 11-12): Das Token trägt keine Anwendungsberechtigung",
        "en", "Setup incomplete: check 8 'Admin consent (Administratorzustimmung)' failed (guide: Grant permissions, "
              "step 11-12): The token carries no application permission", " 8. FAILED         Admin consent",
        "Connection OK: all 5 steps of the setup checked"),
}


@pytest.mark.parametrize("mistake", list(SETUP_CASES))
def test_connections_test_and_the_setup_dag_name_the_same_missing_step(airflow_home, today_sandbox, mistake):
    """Issue 22: with Calendars.Read picked in guide step 9, or admin consent not given (step 11), `airflow connections
    test` and the setup DAG's task log name the same check with its fix, each in its language, and the DAG fails;
    neither claims a permission the token does not carry ("Calendars.ReadWrite ok")."""
    cli_language, cli_verdict, dag_language, dag_verdict, dag_line, openhandwerk_ok = SETUP_CASES[mistake]
    control.make_mistake(today_sandbox.state, mistake)
    binary = str(Path(sys.executable).parent / "airflow")
    tested = subprocess.run([binary, "connections", "test", "office365_default"], capture_output=True, text=True,
                            env=env_for(airflow_home, today_sandbox, AIRFLOW__OH_OUTLOOK__LANGUAGE=cli_language),
                            timeout=300)
    assert tested.returncode == CONNECTIONS_TEST_FAILED_EXIT  # 0 before Airflow 3.3.2, which prints "Connection failed!"
    assert "Connection failed!" in tested.stdout and cli_verdict in tested.stdout, tested.stdout[-3000:]
    dag = subprocess.run([binary, "dags", "test", "oh_outlook_setup_check"], capture_output=True, text=True,
                         env=env_for(airflow_home, today_sandbox, AIRFLOW__OH_OUTLOOK__LANGUAGE=dag_language), timeout=300)
    out = dag.stdout + dag.stderr
    assert dag_verdict in out, out[-4000:]
    assert dag_line in out and "Calendars.ReadWrite ok" not in out and " 7. OK" not in out
    assert openhandwerk_ok in out  # the openHandwerk task still passes


def test_the_fleet_dag_syncs_each_tenant_in_its_own_tasks_and_fails_only_the_broken_one(airflow_home, tmp_path):
    """Issue 24 on the older lines (on 3.3 the stack suite runs the fleet through the scheduler, tests/stack/test_fleet.py):
    three tenants, one with a wrong secret, one of three shards; each task named by its tenant, the run failed by
    `outcome` naming the broken tenant only, the others' calendars written."""
    import sqlite3

    from devtools.sandbox.fleet import Fleet
    from devtools.sandbox.server import SandboxServer

    fleet = Fleet.generate(3, 2, 3, seed=3, factors={"t002": 3}, base_date=dt.date.today())
    with SandboxServer(fleet=fleet) as server:
        env = airflow_env(airflow_home, server, ROOT / "dags", connections=False)
        connections = server.fleet_connections()
        connections["office365_t001"]["password"] = "sbx~not-the-secret-of-this-tenant-0000"
        env.update({f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(data) for conn_id, data in connections.items()})
        env.update(AIRFLOW_VAR_OH_OUTLOOK_TENANTS=json.dumps([{"key": s.key, "name": s.display_name, "language": "en",
                                                               "mailboxes_per_shard": 2} for s in fleet]),
                   OH_OUTLOOK_RETRY_DELAY_SECONDS="1", OH_OUTLOOK_SNAPSHOT_BASE=f"file://{tmp_path}")
        out = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test", "oh_outlook_fleet_sync"],
                             env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode != 0, out.stdout[-2000:]  # the run fails: a tenant was not synced
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        run_id = db.execute("select run_id from dag_run where dag_id = 'oh_outlook_fleet_sync' order by id desc").fetchone()[0]
        rows = db.execute("select task_id, map_index, state, rendered_map_index from task_instance where dag_id = "
                          "'oh_outlook_fleet_sync' and run_id = ?", (run_id,)).fetchall()
    states = {(task, index): (state, name) for task, index, state, name in rows}
    names = [s.display_name for s in fleet]
    assert [states[("tenant", i)] for i in range(3)] == [("success", f"{names[0]} (t000)"),
                                                         ("failed", f"{names[1]} (t001)"),
                                                         ("success", f"{names[2]} (t002)")]
    assert [states[("sync", i)] for i in range(2)] == [("success", f"{names[2]} (t002) 2/3"),
                                                       ("success", f"{names[2]} (t002) 3/3")]
    assert states[("report", 0)] == ("success", f"{names[2]} (t002)") and states[("outcome", -1)][0] == "failed"
    # outcome's message (unit-tested in tests/unit/operators/test_fleet.py) is wrapped by 3.0's rich traceback: not read here
    written = {s.key: sum(len(events) for events in s.events.values()) for s in fleet}
    assert written["t000"] > 0 and written["t002"] > written["t000"] and written["t001"] == 0
