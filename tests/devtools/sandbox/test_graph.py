"""The emulated Graph through Office365Hook: validation, paging, batch, throttling, permissions."""

from __future__ import annotations

import threading

import pytest

from devtools.sandbox.state import Limits
from oh_outlook_provider import exceptions as errors
from tests.conftest import graph_hook

TZ = "W. Europe Standard Time"


def first_licensed(sandbox, upn="juergen.mueller@mueller-haustechnik.de"):
    return sandbox.state.find_user(upn).id


def event(**kw):
    body = {"subject": "Test", "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": TZ},
            "end": {"dateTime": "2026-03-02T09:00:00", "timeZone": TZ}}
    body.update(kw)
    return body


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"end": {"dateTime": "2026-03-02T07:00:00", "timeZone": TZ}}, "ErrorInvalidRequest"),
        ({"isAllDay": True}, "ErrorPropertyValidationFailure"),
        ({"isAllDay": True, "start": {"dateTime": "2026-03-02T00:00:00", "timeZone": TZ},
          "end": {"dateTime": "2026-03-03T00:00:00", "timeZone": "UTC"}}, "ErrorPropertyValidationFailure"),
        ({"start": {"dateTime": "2026-03-02T08:00:00", "timeZone": "Mitteleuropa"}}, "TimeZoneNotSupportedException"),
        ({"colour": "blue"}, "RequestBodyRead"),
        ({"start": {"dateTime": "2026-03-02T08:00:00+01:00", "timeZone": TZ}}, "ErrorInvalidRequest"),
    ],
)
def test_graph_rejects_invalid_events(sandbox, changes, code):
    hook = graph_hook(sandbox)
    with pytest.raises(errors.GraphError) as exc:
        hook.post(f"/users/{first_licensed(sandbox)}/events", event(**changes))
    assert exc.value.status == 400 and exc.value.code == code


def test_valid_all_day_event_and_iana_zone_are_accepted(sandbox):
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    created = hook.post(f"/users/{user}/events", event(
        isAllDay=True, start={"dateTime": "2026-03-02T00:00:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": "2026-03-04T00:00:00", "timeZone": "Europe/Berlin"}))
    assert created["isAllDay"] and created["body"]["contentType"] == "html"
    edited = hook.patch(f"/users/{user}/events/{created['id']}", {"subject": "Neu"})
    assert edited["changeKey"] != created["changeKey"] and edited["@odata.etag"] != created["@odata.etag"]


def test_users_paging_and_select(sandbox):
    hook = graph_hook(sandbox)
    users = list(hook.paginate("/users", params={"$top": "5", "$select": "id,mail"}))
    assert len(users) == len(sandbox.state.users) and set(users[0]) == {"id", "mail"}
    assert "assignedPlans" not in hook.get("/users", params={"$top": "1"})["value"][0]  # only when selected
    with pytest.raises(errors.GraphError):
        hook.get("/users", params={"$top": "1000"})


def test_transaction_id_repeated_with_the_same_body(sandbox):
    """Fidelity row X2: undocumented, so both answers are emulated; no second event either way."""
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    a = hook.post(f"/users/{user}/events", event(transactionId="txn-1"))
    if sandbox.state.behaviour.duplicate_transaction == "first_event":
        assert hook.post(f"/users/{user}/events", event(transactionId="txn-1"))["id"] == a["id"]
    else:
        with pytest.raises(errors.GraphError) as exc:
            hook.post(f"/users/{user}/events", event(transactionId="txn-1"))
        assert exc.value.status == 400 and exc.value.code == "ErrorDuplicateTransactionId"
    assert sum(1 for e in sandbox.state.mailbox_events(user) if e["transactionId"] == "txn-1") == 1


def test_transaction_id_repeated_with_another_body_is_refused(sandbox):
    """Fidelity row X1 (alcionai/corso issue 2490)."""
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    hook.post(f"/users/{user}/events", event(transactionId="txn-2"))
    with pytest.raises(errors.GraphError) as exc:
        hook.post(f"/users/{user}/events", event(transactionId="txn-2", subject="Anders"))
    assert exc.value.code == "ErrorDuplicateTransactionId"


def test_attendees_count_as_invitations(sandbox):
    hook = graph_hook(sandbox)
    hook.post(f"/users/{first_licensed(sandbox)}/events",
              event(attendees=[{"emailAddress": {"address": "kunde@example.de"}, "type": "required"}]))
    assert sandbox.state.stats()["invitations_sent"] == 1


def test_mailbox_errors(sandbox):
    hook = graph_hook(sandbox)
    no_exchange = sandbox.state.find_user("bjoern.koehler@mueller-haustechnik.de").id
    blocked = sandbox.state.find_user("soeren.weiss@mueller-haustechnik.de").id
    with pytest.raises(errors.MailboxNotEnabledError):
        hook.get(f"/users/{no_exchange}/calendar")
    with pytest.raises(errors.MailboxAccessDeniedError):
        hook.get(f"/users/{blocked}/events")


def test_missing_permissions_are_403(sandbox):
    sandbox.state.apps[next(iter(sandbox.state.apps))].roles = {"Calendars.ReadWrite"}
    with pytest.raises(errors.PermissionMissingError, match="User.Read.All"):
        graph_hook(sandbox).get("/users")


def test_batch_of_45_with_per_item_results(sandbox):
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    items = [{"id": str(i), "method": "POST", "url": f"/users/{user}/events",
              "body": event(subject=f"Batch {i}") if i != 7 else event(colour="red")} for i in range(45)]
    results = hook.batch(items)
    assert len(results) == 45 and hook.stats.batch_calls >= 3
    assert results["7"].status == 400 and all(results[str(i)].status == 201 for i in range(45) if i != 7)
    subjects = {e["subject"] for e in sandbox.state.mailbox_events(user)}
    assert {f"Batch {i}" for i in range(45) if i != 7} <= subjects


def test_batch_rules(sandbox):
    hook = graph_hook(sandbox)
    token = hook.get_token()
    url = f"{sandbox.base_url}/v1.0/$batch"
    headers = {"Authorization": f"Bearer {token}"}
    session = hook.session
    too_many = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]}
    assert session.post(url, json=too_many, headers=headers).status_code == 400
    dup = {"requests": [{"id": "1", "method": "GET", "url": "/users"}] * 2}
    assert session.post(url, json=dup, headers=headers).status_code == 400
    chain = {"requests": [{"id": "1", "method": "GET", "url": "/users/nobody/events"},
                          {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]}]}
    statuses = {r["id"]: r["status"] for r in session.post(url, json=chain, headers=headers).json()["responses"]}
    assert statuses == {"1": 404, "2": 424}


def test_throttled_client_stays_within_four_and_finishes(sandbox):
    sandbox.state.reload(latency_ms=20, limits=Limits(mailbox_concurrency=4, concurrency_retry_after=0.02))
    hook = graph_hook(sandbox)
    hook.limiter.limit = 8  # a careless client: the sandbox, not our limiter, must push back
    user = first_licensed(sandbox)
    threads = [threading.Thread(target=hook.get, args=(f"/users/{user}/events",)) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = sandbox.state.stats()
    assert stats["throttled_total"] > 0 and stats["max_in_flight"] <= 4
    assert hook.stats.throttled == stats["throttled_total"]  # each 429 was waited for and retried


def test_our_limiter_avoids_429s_entirely(sandbox):
    sandbox.state.reload(latency_ms=20)
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    items = [{"id": str(i), "method": "POST", "url": f"/users/{user}/events", "body": event(subject=str(i))}
             for i in range(60)]
    threads = [threading.Thread(target=hook.batch, args=(items[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = sandbox.state.stats()
    assert stats["throttled_total"] == 0 and stats["max_in_flight"] == 4


def test_named_calendar_is_created_once(sandbox):
    hook = graph_hook(sandbox)
    user = first_licensed(sandbox)
    first = hook.ensure_calendar(user, "openHandwerk")
    assert hook.ensure_calendar(user, "OPENHANDWERK") == first


def test_calendar_view_expands_the_window(sandbox):
    hook = graph_hook(sandbox)
    user = sandbox.state.find_user("joerg.schaefer@mueller-haustechnik.de").id
    view = list(hook.paginate(f"/users/{user}/calendarView",
                              params={"startDateTime": "2026-03-01T00:00:00", "endDateTime": "2026-04-30T00:00:00"}))
    assert {e["subject"] for e in view} >= {"Zahnarzt (privat)", "Elternabend"}
    with pytest.raises(errors.GraphError):
        hook.get(f"/users/{user}/calendarView")
