"""One user-mapping run with fakes for Graph and openHandwerk; the table for the task log."""

from __future__ import annotations

import threading

from oh_outlook_provider.exceptions import MailboxAccessDeniedError, MailboxNotEnabledError
from oh_outlook_provider.runners.log_lines import WIDTH
from oh_outlook_provider.runners.user_mapping import mapping_table, run_user_mapping
from oh_outlook_provider.sync.mapping import BLOCKED, MATCHED, NO_LICENCE, NO_MAILBOX, NO_USER
from oh_outlook_provider.sync.models import Employee, Rejected

EXCHANGE = [{"service": "exchange", "capabilityStatus": "Enabled"}]
IDS = {name: f"0000000{i}-0000-4000-8000-00000000000{i}" for i, name in enumerate(["jan", "sabine", "blocked", "noex",
                                                                                   "nobox", "other"], 1)}


def raw_user(name: str, exchange: bool = True, mail: str | None = None) -> dict:
    upn = f"{name}@firma.de"
    return {"id": IDS[name], "displayName": name.title(), "userPrincipalName": upn, "mail": mail or upn,
            "assignedPlans": EXCHANGE if exchange else []}


class FakeGraph:
    def __init__(self, users: list[dict], refusals: dict[str, Exception] | None = None):
        self.users, self.refusals, self.probed, self.lock = users, refusals or {}, [], threading.Lock()

    def iter_users(self):
        yield from self.users

    def get(self, path: str, params=None):
        with self.lock:
            self.probed.append((path, params))
        user_id = path.split("/")[2]
        if user_id in self.refusals:
            raise self.refusals[user_id]
        return {"id": "calendar"}


class FakeOpenHandwerk:
    def __init__(self, records):
        self.records = records

    def iter_employees(self):
        yield from self.records


EMPLOYEES = [Employee("1", "Jan Koch", "jan@firma.de"), Employee("2", "Sabine", "SABINE@firma.de"),
             Employee("3", "Blocked", "blocked@firma.de"), Employee("4", "Noex", "noex@firma.de"),
             Employee("5", "Nobox", "nobox@firma.de"), Employee("6", "Azubi", "azubi@gmail.com"),
             Rejected("7", "employee record without an id", kind="employee")]
USERS = [raw_user("jan"), raw_user("sabine"), raw_user("blocked"), raw_user("noex", exchange=False), raw_user("nobox"),
         raw_user("other")]


def test_matched_mailboxes_are_probed_and_refusals_change_the_outcome():
    graph = FakeGraph(USERS, {IDS["blocked"]: MailboxAccessDeniedError("denied", 403, "ErrorAccessDenied"),
                              IDS["nobox"]: MailboxNotEnabledError("no mailbox", 404, "MailboxNotEnabledForRESTAPI")})
    result, rejected = run_user_mapping(graph, FakeOpenHandwerk(EMPLOYEES), max_workers=3)
    outcomes = {e.employee_id: e.outcome for e in result.entries}
    assert outcomes == {"1": MATCHED, "2": MATCHED, "3": BLOCKED, "4": NO_LICENCE, "5": NO_MAILBOX, "6": NO_USER}
    assert rejected == [EMPLOYEES[-1]]
    assert sorted(path for path, _ in graph.probed) == sorted(f"/users/{IDS[n]}/calendar"
                                                              for n in ("jan", "sabine", "blocked", "nobox"))
    assert all(params == {"$select": "id"} for _, params in graph.probed)
    assert result.users_total == 6 and result.users_unmatched == 1


def test_without_verification_no_mailbox_is_probed():
    graph = FakeGraph(USERS, {IDS["blocked"]: MailboxAccessDeniedError("denied", 403)})
    result, _ = run_user_mapping(graph, FakeOpenHandwerk(EMPLOYEES), verify_mailboxes=False, max_workers=0)
    assert graph.probed == [] and next(e for e in result.entries if e.employee_id == "3").outcome == MATCHED


def test_overrides_reach_the_mapping():
    result, _ = run_user_mapping(FakeGraph(USERS), FakeOpenHandwerk([Employee("6", "Azubi", "azubi@gmail.com")]),
                                 {"6": "other@firma.de"})
    entry = result.entries[0]
    assert entry.outcome == MATCHED and entry.user_id == IDS["other"]


def test_the_table_lists_each_employee_then_counts_then_the_reasons():
    graph = FakeGraph(USERS + [{**raw_user("jan"), "id": "ffffffff-0000-4000-8000-000000000009",
                                "userPrincipalName": "j.koch@firma.onmicrosoft.com", "mail": "other-jan@firma.de",
                                "proxyAddresses": []}])
    employees = [Employee("1", "Jan Koch mit einem sehr langen Namen", "Jan@firma.de"),
                 Employee("6", "Azubi", "azubi@gmail.com"), Rejected("7", "no id", kind="employee")]
    result, rejected = run_user_mapping(graph, FakeOpenHandwerk(employees))
    table = mapping_table(result, rejected).splitlines()
    assert table[0].startswith("employee name") and set(table[1]) == {"-"}
    assert table[2].startswith("1        Jan Koch mit einem s matched") and "jan@firma.de" in table[2]
    assert "6        Azubi" in table[3] and "azubi@gmail.com" in table[3]
    assert any(line.startswith("2 employees (matched: 1, no_user: 1); 7 Microsoft 365 users") for line in table)
    assert any(line.startswith("  6 Azubi: ") for line in table)
    assert table[-1] == "  rejected employee record 7: no id"
    assert all(len(line) <= WIDTH for line in table)


def test_the_openhandwerk_address_is_shown_only_where_it_differs_from_the_user():
    graph = FakeGraph([{**raw_user("jan"), "userPrincipalName": "jan.koch@firma.onmicrosoft.com"}])
    result, _ = run_user_mapping(graph, FakeOpenHandwerk([Employee("1", "Jan", "jan@firma.de")]))
    lines = mapping_table(result).splitlines()
    assert "jan.koch@firma.onmicrosoft.com" in lines[2] and lines[3].strip() == "openHandwerk: jan@firma.de"
    same, _ = run_user_mapping(FakeGraph([raw_user("jan")]), FakeOpenHandwerk([Employee("1", "Jan", "JAN@firma.de")]))
    assert "openHandwerk:" not in mapping_table(same)


def test_the_table_speaks_german_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    result, rejected = run_user_mapping(FakeGraph(USERS), FakeOpenHandwerk([Rejected("7", "no id", kind="employee")]))
    table = mapping_table(result, rejected).splitlines()
    assert table[0].split()[:3] == ["Mitarb.", "Name", "Ergebnis"] and "Microsoft 365-Benutzer" in table[0]
    assert table[-1] == "  abgewiesener Mitarbeiterdatensatz 7: no id" and all(len(line) <= WIDTH for line in table)
    # Each reason in German (the XCom keeps the English text, sync/mapping.py's msgid).
    result, rejected = run_user_mapping(FakeGraph(USERS), FakeOpenHandwerk(EMPLOYEES))
    table = mapping_table(result, rejected).splitlines()
    assert "  4 Noex: Microsoft 365-Benutzer hat keinen aktiven Exchange Online-Plan: eine Lizenz mit Exchange" in table
    assert any(line.startswith("  6 Azubi: kein Microsoft 365-Benutzer hat diese E-Mail-Adresse") for line in table)
    assert "no enabled Exchange Online plan" in result.to_dict()["employees"][3]["reason"]
