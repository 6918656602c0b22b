"""The sync report: the XCom JSON keys of 0.1/0.2, totals, failure rows, and the task log's table."""

from __future__ import annotations

import datetime as dt
import json

from oh_outlook_provider.exceptions import MailboxAccessDeniedError, MailboxNotEnabledError, OpenHandwerkError
from oh_outlook_provider.runners.log_lines import WIDTH
from oh_outlook_provider.runners.report import MailboxResult, build_report, summary_table
from oh_outlook_provider.sync.desired import DesiredState
from oh_outlook_provider.sync.models import Rejected, Window
from oh_outlook_provider.sync.plan import Conflict
from oh_outlook_provider.sync.tags import EventKey

WINDOW = Window(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
KEYS = {"window", "source", "dry_run", "appointments", "cancelled", "excluded", "without_mapped_attendee", "totals",
        "mailboxes", "rejected", "conflicts", "failed", "skipped", "graph_requests", "openhandwerk_requests",
        "duration_s", "notes"}


def report(*results: MailboxResult, rejected=()):
    desired = DesiredState(rejected=list(rejected), appointments=5, cancelled=1)
    return build_report(results, desired, WINDOW, "openhandwerk:4711", False, {"requests": 3}, 2, 1.23456, ["n"])


def test_the_report_keeps_the_xcom_keys_and_is_json():
    ok = MailboxResult("u1", "anna@example.com", counts={"create": 2, "rejected": 1},
                       rejected=[Rejected("9", "Graph refused the event", mailbox="u1")],
                       conflicts=[Conflict("E1", EventKey("openhandwerk:4711", "3", "e1"), ("subject",), "kept")])
    out = report(ok, rejected=[Rejected("7", "no start")])
    assert set(out) == KEYS and json.loads(json.dumps(out)) == out
    assert out["window"] == {"start": "2026-12-01T00:00:00+00:00", "end": "2026-12-08T00:00:00+00:00"}
    assert out["totals"] == {"create": 2, "rejected": 2}  # the read's rejected record counted once, here
    assert out["conflicts"] == [{"event_id": "E1", "appointment_id": "3", "employee_id": "e1", "fields": ["subject"],
                                 "resolution": "kept", "mailbox": "u1"}]
    assert out["duration_s"] == 1.235 and out["openhandwerk_requests"] == 2 and out["notes"] == ["n"]


def test_failures_are_skipped_when_permanent_and_explained_else_failed():
    skipped, failed, odd = MailboxResult("u1", None), MailboxResult("u2", "b@x"), MailboxResult("u3", None)
    skipped.fail(MailboxNotEnabledError("u1 has no Exchange Online mailbox"))
    failed.fail(OpenHandwerkError("openHandwerk answered 500"))
    odd.fail(KeyError("value"))
    out = report(skipped, failed, odd)
    assert out["skipped"] == {"u1": "u1 has no Exchange Online mailbox"}
    assert out["failed"] == {"u2": "openHandwerk answered 500", "u3": "KeyError: 'value'"}


def test_a_mailbox_exchange_refused_counts_none_of_the_writes_planned_for_it():
    """Bug: with Calendars.Read instead of Calendars.ReadWrite every write of a mailbox is refused, yet the
    report counted the planned creates as done ("create 6" for an empty calendar)."""
    denied, ok = MailboxResult("u1", None, counts={"create": 6}), MailboxResult("u2", None, counts={"create": 2})
    denied.fail(MailboxAccessDeniedError("Access is denied (ErrorAccessDenied)"))
    out = report(denied, ok)
    assert out["totals"]["create"] == 2 and out["mailboxes"]["u1"]["counts"] == {}
    assert out["skipped"] == {"u1": "Access is denied (ErrorAccessDenied)"}


def test_the_table_fits_the_log_view_and_adds_up():
    rows = [MailboxResult(f"u{i}", f"a-very-long-user-principal-name-{i}@example.com", counts={"create": i})
            for i in range(3)]
    rows[1].fail(OpenHandwerkError("x" * 300))
    table = summary_table(report(*rows, rejected=[Rejected("7", "no start " * 30)]))
    lines = table.splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert any(line.startswith("(openHandwerk records)") for line in lines)
    assert any(line.startswith("total") and line.split()[1] == "3" for line in lines)
    assert any(line.startswith("rejected appointment 7") for line in lines)


def test_the_table_speaks_german_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    failed = MailboxResult("u1", "anna@example.com", counts={"create": 2})
    failed.fail(OpenHandwerkError("openHandwerk answered 500"))
    lines = summary_table(report(failed)).splitlines()
    assert lines[0].split() == ["Postfach", "Status", "neu", "geändert", "gelöscht", "gleich", "Konflikt", "abgew.",
                                "gesperrt"]
    assert lines[2].split()[:3] == ["anna@example.com", "Fehler", "2"] and lines[-2].startswith("gesamt")
    assert max(map(len, lines)) <= WIDTH
