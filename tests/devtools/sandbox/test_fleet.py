"""Many tenants on one sandbox (devtools/sandbox/fleet.py): generation, isolation, per-tenant faults.

Real msal, Office365Hook and OpenHandwerkHook against the fleet over HTTPS. Fidelity rows N1 (a token
reads only its own tenant) and N2 (openHandwerk down) of docs/sandbox-fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import jwt
import pytest
import requests

from devtools.sandbox import SandboxServer
from devtools.sandbox.__main__ import main as cli_main
from devtools.sandbox.app import OH_DOWN_PAGE
from devtools.sandbox.fleet import Fleet, FleetSize, ascii_slug, tenant_identity
from devtools.sandbox.state import CLIENT_ID, CLIENT_SECRET, OH_ID_KN, TENANT_ID, Faults, SandboxState
from oh_outlook_provider import exceptions as errors
from oh_outlook_provider.hooks.office365 import Office365Hook
from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
from oh_outlook_provider.hooks.settings import office365_settings, openhandwerk_settings
from tests.conftest import BASE_DATE, connection, fast_retry

SIZE = (4, 3, 5)  # tenants x mailboxes x appointments; tenant 2 has 3x the mailboxes


@pytest.fixture(scope="module")
def fleet_server() -> Iterator[SandboxServer]:
    fleet = Fleet.generate(*SIZE, seed=7, factors={2: 3}, base_date=BASE_DATE)
    with SandboxServer(fleet=fleet) as server:
        yield server


@pytest.fixture
def fleet(fleet_server: SandboxServer) -> Iterator[SandboxServer]:
    """The module's fleet with every tenant's data, faults and counters as generated."""
    for state in fleet_server.fleet:
        state.reload()
    yield fleet_server


def o365(server: SandboxServer, tenant: str, **kw) -> Office365Hook:
    data = server.office365_connection(tenant=tenant, **kw)
    return Office365Hook(settings=office365_settings(connection(data, f"office365_{tenant}")), retry_policy=fast_retry())


def oh(server: SandboxServer, tenant: str) -> OpenHandwerkHook:
    data = server.openhandwerk_connection(tenant=tenant)
    return OpenHandwerkHook(settings=openhandwerk_settings(connection(data, f"openhandwerk_{tenant}")),
                            retry_policy=fast_retry())


def raw(server: SandboxServer, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, server.base_url + path, headers=headers, verify=server.ca_path, timeout=30, **kw)


def mailbox_user(server: SandboxServer, tenant: str) -> str:
    state = server.fleet[tenant]
    return next(u.id for u in state.users.values() if u.has_mailbox)


# ---------------------------------------------------------------------- generation
def test_generation_is_deterministic_and_tenants_differ():
    one = Fleet.generate(5, 2, 3, seed=11, factors={"t003": 10}, base_date=BASE_DATE)
    two = Fleet.generate(5, 2, 3, seed=11, factors={3: 10}, base_date=BASE_DATE)
    assert [s.identity for s in one] == [s.identity for s in two]
    for a, b in zip(one, two, strict=True):
        assert sorted(u.id for u in a.users.values()) == sorted(u.id for u in b.users.values())
        assert a.appointments == b.appointments and a.employees == b.employees
    assert [len(s.employees) for s in one] == [2, 2, 2, 20, 2]
    ids = [(s.tenant_id, s.client_id, s.client_secret, s.oh_id_kn, s.domain, s.display_name) for s in one]
    for column in zip(*ids, strict=True):
        assert len(set(column)) == 5  # every tenant its own directory, app, secret, account, domain, name
    emails = [{e["email"] for e in s.employees.values()} for s in one]
    assert all(a.isdisjoint(b) for n, a in enumerate(emails) for b in emails[n + 1:])
    assert all(e.endswith("@" + s.domain) for s, mails in zip(one, emails, strict=True) for e in mails)
    titles = [[a["title"] for a in s.appointments.values()] for s in one]
    assert titles[0] != titles[1]  # data seeded per tenant
    other = Fleet.generate(5, 2, 3, seed=12, base_date=BASE_DATE)
    assert {s.tenant_id for s in other}.isdisjoint(s.tenant_id for s in one)


def test_keys_and_names_are_ascii_slugs_usable_in_connection_ids():
    identities = [tenant_identity(i, seed=42) for i in range(400)]
    assert identities[3].key == "t003"
    assert len({i.display_name for i in identities}) == len({i.domain for i in identities}) == 400
    for identity in identities:
        assert identity.key.isascii() and identity.key.isalnum()
        assert identity.domain.isascii() and " " not in identity.domain
    assert ascii_slug("Sanitär Schäfer & Söhne") == "sanitaer-schaefer-soehne"


def test_fleet_size_parses_and_refuses():
    assert FleetSize.parse("200x5x20") == FleetSize(200, 5, 20)
    with pytest.raises(ValueError, match="TENANTSxMAILBOXESxAPPOINTMENTS"):
        FleetSize.parse("200x5")


def test_single_tenant_keeps_todays_identity():
    state = SandboxState(seed=42, base_date=BASE_DATE)
    assert (state.tenant_id, state.client_id, state.client_secret, state.oh_id_kn, state.key) == (
        TENANT_ID, CLIENT_ID, CLIENT_SECRET, OH_ID_KN, "default")
    server = SandboxServer(state)
    try:
        assert server.office365_connection()["extra"]["tenant_id"] == TENANT_ID
        assert server.office365_connection()["password"] == CLIENT_SECRET
        assert server.openhandwerk_connection()["schema"] == OH_ID_KN
        assert list(server.fleet_connections()) == ["office365_default", "openhandwerk_default"]
    finally:
        server.stop()


def test_build_time_of_large_fleets():
    for size in ((30, 5, 20), (200, 5, 20)):
        started = time.perf_counter()
        fleet = Fleet.generate(*size, base_date=BASE_DATE)
        print(f"fleet {'x'.join(map(str, size))} built in {time.perf_counter() - started:.2f} s")
        assert len(fleet) == size[0]
        assert sum(row["mailboxes"] for row in fleet.summary()) == size[0] * size[1]


# ---------------------------------------------------------------------- connections and Entra
def test_fleet_connections_name_each_tenant(fleet):
    conns = fleet.fleet_connections()
    assert list(conns)[:4] == ["office365_t000", "openhandwerk_t000", "office365_t001", "openhandwerk_t001"]
    assert len(conns) == 2 * SIZE[0]
    t1 = fleet.fleet["t001"]
    assert conns["office365_t001"]["extra"]["tenant_id"] == t1.tenant_id
    assert conns["office365_t001"]["login"] == t1.client_id and conns["office365_t001"]["password"] == t1.client_secret
    assert conns["openhandwerk_t001"]["schema"] == t1.oh_id_kn
    assert set(fleet.fleet_environment()) == {f"AIRFLOW_CONN_{c.upper()}" for c in conns}


def test_secret_of_one_tenant_is_refused_in_another(fleet):
    assert o365(fleet, "t000").get_token()
    with pytest.raises(errors.AuthenticationError) as exc:
        o365(fleet, "t001", secret=fleet.fleet["t000"].client_secret).get_token()
    assert exc.value.code == "AADSTS7000215"
    # Tenant 0's app is unknown in tenant 1's directory.
    form = {"grant_type": "client_credentials", "client_id": fleet.fleet["t000"].client_id,
            "client_secret": fleet.fleet["t000"].client_secret, "scope": "https://graph.microsoft.com/.default"}
    answer = raw(fleet, "POST", f"/{fleet.fleet['t001'].tenant_id}/oauth2/v2.0/token", data=form)
    assert answer.status_code == 400 and answer.json()["error_codes"] == [700016]


# ---------------------------------------------------------------------- Graph isolation (row N1)
def test_n1_token_reads_only_its_own_tenant(fleet):
    a, b = o365(fleet, "t000"), o365(fleet, "t001")
    a_users = {u["userPrincipalName"] for u in a.iter_users()}
    b_users = {u["userPrincipalName"] for u in b.iter_users()}
    assert a_users and all(u.endswith("@" + fleet.fleet["t000"].domain) for u in a_users)
    assert b_users and a_users.isdisjoint(b_users)
    b_user = mailbox_user(fleet, "t001")
    b.post(f"/users/{b_user}/calendar/events", {
        "subject": "Nur für B", "start": {"dateTime": "2026-03-23T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-23T10:00:00", "timeZone": "Europe/Berlin"}})
    for path in (f"/users/{b_user}", f"/users/{b_user}/calendar/events"):
        with pytest.raises(errors.GraphError) as exc:
            a.get(path)
        assert exc.value.status == 404 and exc.value.code == "ErrorInvalidUser"
    assert [e["subject"] for e in b.get(f"/users/{b_user}/calendar/events")["value"]] == ["Nur für B"]
    seen = raw(fleet, "GET", f"/_sandbox/mailboxes/{b_user}/events?tenant=t001").json()["value"]
    assert [e["subject"] for e in seen] == ["Nur für B"]
    assert raw(fleet, "GET", f"/_sandbox/mailboxes/{b_user}/events?tenant=t000").json()["value"] == []


def test_n1_forged_or_unknown_tokens_are_refused(fleet):
    token = o365(fleet, "t000").get_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "tid": fleet.fleet["t001"].tenant_id}, fleet.fleet["t000"].signing_key,
                        algorithm="HS256")  # tenant 1's name, tenant 0's signature
    stranger = jwt.encode({**claims, "tid": "11111111-2222-4333-8444-555555555555"},
                          fleet.fleet["t000"].signing_key, algorithm="HS256")
    assert raw(fleet, "GET", "/v1.0/users", token).status_code == 200
    for bad in (forged, stranger, "not-a-jwt"):
        answer = raw(fleet, "GET", "/v1.0/users", bad)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "InvalidAuthenticationToken"


# ---------------------------------------------------------------------- per-tenant faults
def test_a_fault_on_one_tenant_leaves_the_others_clean(fleet):
    answer = raw(fleet, "POST", "/_sandbox/faults?tenant=t001", json={"p429": 1.0})
    assert answer.json()["tenant"] == "t001"
    throttled = raw(fleet, "GET", f"/v1.0/users/{mailbox_user(fleet, 't001')}/calendar/events",
                    o365(fleet, "t001").get_token())
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    a = o365(fleet, "t000")
    assert a.get(f"/users/{mailbox_user(fleet, 't000')}/calendar/events")["value"] == []
    stats = {t: raw(fleet, "GET", f"/_sandbox/stats?tenant={t}").json() for t in ("t000", "t001")}
    assert stats["t000"]["throttled_total"] == 0 and stats["t001"]["throttled_total"] == 1
    summary = {row["key"]: row for row in raw(fleet, "GET", "/_sandbox/fleet").json()["tenants"]}
    assert summary["t001"]["faults"] == {"p429": 1.0} and summary["t000"]["faults"] == {}
    assert [row["mailboxes"] for row in summary.values()] == [3, 3, 9, 3]


def test_a_setup_mistake_on_one_tenant_leaves_the_others_clean(fleet):
    assert raw(fleet, "POST", "/_sandbox/setup-mistakes/no_consent?tenant=t002").json()["ok"]
    with pytest.raises(errors.GraphError) as exc:
        o365(fleet, "t002").get("/users")
    assert exc.value.status == 403
    assert o365(fleet, "t003").get("/users")["value"]
    reloaded = raw(fleet, "POST", "/_sandbox/reload?tenant=t003", json={"mistake": "secret_id"}).json()
    assert reloaded["connection"] == {"password": fleet.fleet["t003"].secret_id}
    assert raw(fleet, "GET", "/_sandbox/stats?tenant=t999").status_code == 404


def test_n2_openhandwerk_down_for_one_tenant(fleet):
    fleet.fleet["t001"].faults = Faults(oh_down=True)
    answer = raw(fleet, "POST", "/openhandwerk/auth/login",
                 json={"idKn": fleet.fleet["t001"].oh_id_kn, "employee": "x", "password": "y"})
    assert answer.status_code == 503 and answer.text == OH_DOWN_PAGE
    with pytest.raises(errors.OpenHandwerkError) as exc:
        list(oh(fleet, "t001").iter_employees())
    assert exc.value.status == 503
    assert len(list(oh(fleet, "t000").iter_employees())) == SIZE[1]
    assert fleet.fleet["t000"].stats()["faults"] == {}


# ---------------------------------------------------------------------- openHandwerk per tenant
def test_openhandwerk_login_and_reads_per_tenant(fleet):
    start = dt.datetime.combine(BASE_DATE - dt.timedelta(days=30), dt.time(), dt.UTC)
    for key in ("t000", "t002"):
        state = fleet.fleet[key]
        hook = oh(fleet, key)
        employees = list(hook.iter_employees())
        assert {e.email for e in employees} == {e["email"] for e in state.employees.values()}
        records = list(hook.iter_appointments(start, start + dt.timedelta(days=120)))
        assert len(records) == len(state.appointments)
    assert fleet.fleet["t000"].stats()["oh_requests"] >= 3 and fleet.fleet["t001"].stats()["oh_requests"] == 0


def test_openhandwerk_token_of_one_tenant_reads_nothing_of_another(fleet):
    t0, t1 = fleet.fleet["t000"], fleet.fleet["t001"]
    wrong = raw(fleet, "POST", "/openhandwerk/auth/login",
                json={"idKn": t1.oh_id_kn, "employee": t0.oh_employee, "password": t0.oh_password})
    assert wrong.status_code == 401
    login = raw(fleet, "POST", "/openhandwerk/auth/login",
                json={"idKn": t0.oh_id_kn, "employee": t0.oh_employee, "password": t0.oh_password})
    token = login.json()["response"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "idKn": t1.oh_id_kn}, t0.signing_key + "-oh", algorithm="HS256")
    assert raw(fleet, "GET", "/openhandwerk/employees", token).status_code == 200
    assert raw(fleet, "GET", "/openhandwerk/employees", forged).status_code == 401


def test_cli_refuses_a_bad_fleet_size(capsys):
    with pytest.raises(SystemExit):
        cli_main(["serve", "--fleet", "3x2"])
    assert "TENANTSxMAILBOXESxAPPOINTMENTS" in capsys.readouterr().err


def test_summary_is_json(fleet):
    assert json.dumps(fleet.fleet.summary())
