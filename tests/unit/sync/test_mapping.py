"""The pure employee -> user mapping: every outcome class, overrides, duplicates, odd addresses."""

from __future__ import annotations

from oh_outlook_provider.sync import mapping as m
from oh_outlook_provider.sync.models import Employee, GraphUser


def user(uid, upn, mail=None, proxies=(), other=(), enabled=True, exchange=True):
    return GraphUser(uid, uid.upper(), upn, mail if mail is not None else upn, tuple(other), tuple(proxies), enabled,
                     exchange)


USERS = [
    user("u1", "jan.koch@firma.de"),
    user("u2", "sabine.wagner@firma.de", proxies=["SMTP:sabine.wagner@firma.de", "smtp:S.Wagner@firma.de"]),
    user("u3", "noex@firma.de", exchange=False),
    user("u4", "gone@firma.de", enabled=False),
    user("u5", "anna@firma.de", proxies=["smtp:buero@firma.de"]),
    user("u6", "petra@firma.de", proxies=["SmTp:buero@firma.de"]),
    user("u7", "ext@firma.de", mail="", other=["privat.ext@web.de"]),
    user("u8", "admin@firma.de"),
]


def outcome(result, emp_id):
    return next(e for e in result.entries if e.employee_id == emp_id)


def test_every_outcome_class():
    employees = [
        Employee("1", "Jan", "JAN.KOCH@Firma.DE"),
        Employee("2", "Sabine", "s.wagner@firma.de"),
        Employee("3", "Noex", "noex@firma.de"),
        Employee("4", "Gone", "gone@firma.de"),
        Employee("5", "Büro", "buero@firma.de"),
        Employee("6", "Azubi", "azubi@gmail.com"),
        Employee("7", "Ohne", None),
        Employee("8", "Ext", "privat.ext@web.de"),
    ]
    result = m.map_employees(employees, USERS)
    got = {e.employee_id: (e.outcome, e.user_id, e.via) for e in result.entries}
    assert got == {
        "1": (m.MATCHED, "u1", "mail"),
        "2": (m.MATCHED, "u2", "proxyAddresses"),
        "3": (m.NO_LICENCE, "u3", "mail"),
        "4": (m.DISABLED, "u4", "mail"),
        "5": (m.AMBIGUOUS, None, "anna@firma.de, petra@firma.de"),
        "6": (m.NO_USER, None, None),
        "7": (m.NO_EMAIL, None, None),
        "8": (m.MATCHED, "u7", "otherMails"),
    }
    assert set(result.mapping()) == {"1", "2", "8"}
    assert result.users_unmatched == 3  # u5, u6, u8: counted, not listed
    assert "admin@firma.de" not in str(result.to_dict())


def test_overrides_win_by_id_or_email_and_report_missing_targets():
    employees = [Employee("5", "Büro", "buero@firma.de"), Employee("1", "Jan", "jan.koch@firma.de"),
                 Employee("9", "Neu", "neu@firma.de")]
    result = m.map_employees(employees, USERS, {"buero@FIRMA.de": "petra@firma.de", "1": "u8", "9": "nobody@x"})
    assert outcome(result, "5").user_id == "u6" and outcome(result, "5").outcome == m.MATCHED
    assert outcome(result, "1").user_id == "u8"
    assert outcome(result, "9").outcome == m.OVERRIDE_MISSING


def test_upn_match_and_whitespace():
    users = [user("u1", "Max.Mustermann@firma.onmicrosoft.com", mail="max@firma.de")]
    result = m.map_employees([Employee("1", "Max", "  max.mustermann@FIRMA.onmicrosoft.com ")], users)
    assert outcome(result, "1").via == "userPrincipalName" and outcome(result, "1").outcome == m.MATCHED


def test_two_employees_with_one_address_both_map_to_the_same_user():
    result = m.map_employees([Employee("1", "A", "jan.koch@firma.de"), Employee("2", "B", "jan.koch@firma.de")], USERS)
    assert {e.user_id for e in result.entries} == {"u1"}


def test_has_exchange_needs_an_enabled_exchange_plan():
    assert m.has_exchange({"assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}]})
    assert not m.has_exchange({"assignedPlans": [{"service": "exchange", "capabilityStatus": "Deleted"}]})
    assert not m.has_exchange({"assignedPlans": [{"service": "SharePoint", "capabilityStatus": "Enabled"}]})
    assert not m.has_exchange({})


def test_graph_user_from_raw_and_with_outcome():
    raw = {"id": "x", "userPrincipalName": "a@b.de", "mail": None, "proxyAddresses": ["smtp:alias@b.de"],
           "accountEnabled": True, "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}]}
    gu = m.graph_user(raw)
    assert gu.addresses() == {"a@b.de", "alias@b.de"} and gu.has_exchange
    result = m.map_employees([Employee("1", "A", "alias@b.de")], [gu]).with_outcome("1", m.BLOCKED)
    assert result.counts() == {m.BLOCKED: 1} and result.mapping() == {}
