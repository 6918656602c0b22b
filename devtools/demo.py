"""`make demo`: the example DAGs in real Airflow against the built-in sandbox, with a short report.

`make airflow` (`--standalone`) starts `airflow standalone` with the same sandbox connections,
so the UI shows the DAGs, runs and the Office 365 connection form.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from devtools import ROOT, with_checkout_on_path
from devtools.sandbox import SandboxServer, control
from devtools.sandbox.state import SandboxState
from oh_outlook_provider.sync.categories import COLOR_NAMES

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]


def airflow_env(home: Path, sandbox: SandboxServer, dags: Path, connections: bool = True) -> dict[str, str]:
    """Environment for the airflow CLI; `connections` puts the sandbox connections in AIRFLOW_CONN_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    # `airflow standalone` starts its components as `airflow ...` from PATH: put this venv first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    )
    if "AIRFLOW__OH_OUTLOOK__LANGUAGE" in os.environ:  # the provider's language ([oh_outlook] language) passes through
        env["AIRFLOW__OH_OUTLOOK__LANGUAGE"] = os.environ["AIRFLOW__OH_OUTLOOK__LANGUAGE"]
    if connections:
        env.update(sandbox.environment())
    return with_checkout_on_path(env)  # what the CLI starts (standalone's components, tasks) may import devtools


def airflow(args: list[str], env: dict[str, str], log: Path, check: bool = True) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).parent / "airflow"
    with log.open("a") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n")
        out.flush()
        result = subprocess.run([str(binary), *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args)} failed (exit {result.returncode}); see {log}")
    return result


def prepare_home(home: Path, env: dict[str, str], log: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    airflow(["db", "migrate"], env, log)
    airflow(["pools", "set", "oh_outlook_graph", "4", "Concurrent Microsoft Graph tasks"], env, log)
    # Parse the DAGs into the metadata DB as the dag-processor would: this registers and activates their
    # assets. Airflow 3.0's `dags test` refuses a task whose outlet asset is not active yet
    # (AirflowInactiveAssetInInletOrOutletException); from 3.1 on `dags test` does it itself.
    airflow(["dags", "reserialize"], env, log)


def last_xcom(home: Path, dag_id: str, task_id: str) -> list:
    """Return values of the newest run's task (all map indexes), read from the metadata DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        run = db.execute("SELECT run_id FROM dag_run WHERE dag_id=? ORDER BY id DESC LIMIT 1", (dag_id,)).fetchone()
        if not run:
            return []
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id=? AND task_id=? AND run_id=? AND key='return_value' ORDER BY map_index",
            (dag_id, task_id, run[0]),
        ).fetchall()
    out = []
    for (value,) in rows:
        decoded = json.loads(value)
        out.append(json.loads(decoded) if isinstance(decoded, str) else decoded)
    return out


def merge_summaries(summaries: list[dict], read: dict | None = None) -> dict:
    """The shards' summaries as one; `read` is the run's one openHandwerk read (its rejected records)."""
    merged: dict = {"totals": {}, "mailboxes": {}, "rejected": list((read or {}).get("rejected", [])), "window": None,
                    "notes": []}
    seen_rejected = {r["record_id"] for r in merged["rejected"]}
    for s in summaries:
        merged["window"] = merged["window"] or s.get("window")
        for k, v in s.get("totals", {}).items():
            merged["totals"][k] = merged["totals"].get(k, 0) + v
        merged["mailboxes"].update(s.get("mailboxes", {}))
        merged["notes"] += [n for n in s.get("notes", []) if n not in merged["notes"]]
        for r in s.get("rejected", []):
            if r["record_id"] not in seen_rejected:
                seen_rejected.add(r["record_id"])
                merged["rejected"].append(r)
    return merged


def sync_run(home: Path) -> dict:
    """The newest run of the sync DAG: its shards' summaries and its one openHandwerk read."""
    dag_id = "oh_outlook_calendar_sync"
    return merge_summaries(last_xcom(home, dag_id, "sync_calendars"), last_xcom(home, dag_id, "read_appointments")[0])


def print_sync(title: str, summary: dict) -> None:
    totals = summary["totals"]
    print(f"\n== {title}")
    if summary.get("window"):
        print(f"   window [{summary['window']['start'][:16]}, {summary['window']['end'][:16]}) UTC")
    print("   " + ", ".join(f"{k}: {totals.get(k, 0)}" for k in ("create", "update", "delete", "unchanged"))
          + f", rejected appointments: {len(summary['rejected'])}")
    for info in sorted(summary["mailboxes"].values(), key=lambda i: i.get("upn") or ""):
        counts = info.get("counts") or {}
        line = f"   {info.get('upn') or '?':40} {info['status']:8} created {counts.get('create', 0):3}  " \
               f"updated {counts.get('update', 0):3}  unchanged {counts.get('unchanged', 0):3}"
        print(line)
        if info.get("error"):  # the whole reason, on its own line: it tells the admin what to do
            print(f"{'':46}{info['error']}")
    for r in summary["rejected"]:
        print(f"   rejected appointment {r['record_id']}: {r['reason']}")
    if totals.get("categories_added"):
        print(f"   categories added in colour to the mailboxes' category lists: {totals['categories_added']}")
    for note in summary.get("notes", []):
        print("   note: " + note)


def print_mapping(result: dict) -> None:
    print("\n== Employees -> Microsoft 365 mailboxes (DAG oh_outlook_user_mapping)")
    for e in result["employees"]:
        target = e.get("upn") or "-"
        print(f"   {e['employee_id']:6} {e['employee_name'][:22]:22} {e['outcome']:20} {target[:40]:40}"
              + ("" if e["outcome"] == "matched" else f" {e['reason']}"))
    print(f"   {result['users_unmatched']} of {result['users_total']} Microsoft 365 users have no employee (not listed)")


def print_agenda(state: SandboxState, upn: str, today: dt.date) -> None:
    print(f"\n== Coming week of {upn}, read back from the sandbox calendar")
    end = today + dt.timedelta(days=7)
    rows = []
    user = state.find_user(upn)
    colors = {c["displayName"].casefold(): COLOR_NAMES[int(c["color"][6:])] if c["color"] != "none" else "none"
              for c in state.master_categories.get(user.id, {}).values()}
    for event in state.mailbox_events(upn):
        start_local = event["_start_utc"].astimezone(BERLIN)
        day = dt.date.fromisoformat(event["start"]["dateTime"][:10]) if event["isAllDay"] else start_local.date()
        if today <= day < end:
            when = "ganztägig  " if event["isAllDay"] else f"{start_local:%H:%M}-{event['_end_utc'].astimezone(BERLIN):%H:%M}"
            kind = "" if event["showAs"] == "busy" else f"  [{event['showAs']}]"
            kind += "" if event["sensitivity"] == "normal" else f"  [{event['sensitivity']}]"
            kind += "".join(f"  <{c}: {colors.get(c.casefold(), 'no colour')}>" for c in event["categories"])
            ours = kind if event["_props"] else "   (private, not ours: untouched)"
            address = (event["location"].get("address") or {}) if event["_props"] else {}
            where = ", ".join(p for p in (address.get("street"), " ".join(
                p for p in (address.get("postalCode"), address.get("city")) if p)) if p)
            rows.append((day, when, event["subject"] + ours, where))
    for day, when, subject, where in sorted(rows):
        print(f"   {WEEKDAYS[day.weekday()]} {day:%d.%m.}  {when}  {subject}")
        if where:
            print(f"   {'':19}-> {where} (navigable address, route link in the text)")
    if not rows:
        print("   (no events)")


def print_expiry(sandbox: SandboxServer, title: str) -> None:
    """What the Office 365 connection's Test button says about the secret (the hook in-process)."""
    from oh_outlook_provider.hooks.office365 import Office365Hook
    from oh_outlook_provider.hooks.settings import office365_settings

    connection = sandbox.office365_connection()
    settings = office365_settings(SimpleNamespace(conn_id="office365_default", host=None, schema=None,
                                                  login=connection["login"], password=connection["password"],
                                                  extra=json.dumps(connection["extra"])))
    ok, message = Office365Hook(settings=settings).test_connection()
    print(f"\n== {title}: {'OK' if ok else 'FAILED'}")
    for part in message.removeprefix("Connection OK: ").rstrip(".").split("; "):
        print(f"   - {part}")


def busiest_past_day(state: SandboxState, today: dt.date) -> dt.date:
    """The past day (within three weeks) with the most timed appointments, so the backfill has work."""
    counts: dict[dt.date, int] = {}
    for record in state.appointments.values():
        start = str(record.get("start") or "")
        if "T" in start:
            day = dt.date.fromisoformat(start[:10])
            if today - dt.timedelta(days=21) <= day < today:
                counts[day] = counts.get(day, 0) + 1
    return max(sorted(counts), key=lambda d: counts[d]) if counts else today - dt.timedelta(days=10)


def run_demo(workdir: Path) -> int:
    started = time.monotonic()
    today = dt.datetime.now(BERLIN).date()
    state = SandboxState(seed=42, employees=12, appointments_per_employee=12, base_date=today)
    home = workdir / "airflow"
    log = workdir / "demo.log"
    workdir.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    with SandboxServer(state) as sandbox:
        print(f"Sandbox (Entra ID + Graph + openHandwerk) on {sandbox.base_url}; Airflow home {home}; log {log}")
        env = airflow_env(home, sandbox, ROOT / "dags")
        prepare_home(home, env, log)

        airflow(["dags", "test", "oh_outlook_user_mapping"], env, log)
        print_mapping(last_xcom(home, "oh_outlook_user_mapping", "map_users")[0])

        airflow(["dags", "test", "oh_outlook_calendar_sync"], env, log)
        first = sync_run(home)
        print_sync("Calendar sync (DAG oh_outlook_calendar_sync, rolling window)", first)
        stats = state.stats()
        print(f"   Graph: at most {stats['max_in_flight']} request(s) in flight per mailbox, {stats['throttled_total']} "
              f"throttled, {stats['invitations_sent']} invitations sent")
        print_expiry(sandbox, "The guide's setup: the connection test")
        # The admin grants the two optional permissions (issue 14): category colours, the real expiry.
        control.grant(state, "MailboxSettings.ReadWrite")
        control.grant(state, "Application.Read.All")
        print("\n== The admin grants MailboxSettings.ReadWrite and Application.Read.All (optional)")
        print_expiry(sandbox, "The connection test now")

        airflow(["dags", "test", "oh_outlook_calendar_sync"], env, log)
        second = sync_run(home)
        print_sync("Rerun of the same sync: no event to write, the categories get their colours", second)
        print_agenda(state, "juergen.mueller@mueller-haustechnik.de", today)
        writes = sum(second["totals"].get(k, 0) for k in ("create", "update", "delete"))

        past_day = busiest_past_day(state, today)
        # A manual run of a data-interval timetable covers the interval that ends at its logical date.
        airflow(["dags", "test", "oh_outlook_calendar_backfill", (past_day + dt.timedelta(days=1)).isoformat()], env, log)
        back = merge_summaries(last_xcom(home, "oh_outlook_calendar_backfill", "sync_day"))
        print_sync(f"Backfill run for {past_day:%d.%m.%Y} (DAG oh_outlook_calendar_backfill)", back)
    print(f"\nDone in {time.monotonic() - started:.0f}s. Rerun wrote {writes} events (expected 0). "
          "Point the same DAGs at a real tenant: see README, 'Use with your Microsoft 365 tenant'.")
    return 0 if writes == 0 and first["totals"].get("create", 0) > 0 else 1


def run_standalone(workdir: Path, port: int) -> int:
    state = SandboxState(seed=42, base_date=dt.datetime.now(BERLIN).date())
    home = workdir / "airflow"
    log = workdir / "standalone.log"
    workdir.mkdir(parents=True, exist_ok=True)
    with SandboxServer(state, port=port) as sandbox:
        # Connections go into the metadata DB (not the environment), so the UI lists them and edits take effect.
        env = airflow_env(home, sandbox, ROOT / "dags", connections=False)
        prepare_home(home, env, log)
        for conn_id, value in (("office365_default", sandbox.office365_connection()),
                               ("openhandwerk_default", sandbox.openhandwerk_connection())):
            airflow(["connections", "delete", conn_id], env, log, check=False)
            airflow(["connections", "add", conn_id, "--conn-json", json.dumps(value)], env, log)
        print(f"Sandbox on {sandbox.base_url}. Starting `airflow standalone` on http://localhost:8080 ...")
        print(f"Login: user 'admin', password in {home}/simple_auth_manager_passwords.json.generated")
        binary = Path(sys.executable).parent / "airflow"
        try:
            return subprocess.call([str(binary), "standalone"], env=env)
        except KeyboardInterrupt:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".demo")
    parser.add_argument("--standalone", action="store_true", help="start airflow standalone with the sandbox")
    parser.add_argument("--sandbox-port", type=int, default=8443)
    args = parser.parse_args(argv)
    if args.standalone:
        return run_standalone(args.workdir, args.sandbox_port)
    return run_demo(args.workdir)


if __name__ == "__main__":
    raise SystemExit(main())
