"""The mailbox store: what it asks Graph (queries, headers, batch ids) and how it reads the answers."""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote

import pytest

from oh_outlook_provider.exceptions import GraphError, MailboxNotEnabledError
from oh_outlook_provider.hooks.graph_batch import BatchResponse
from oh_outlook_provider.runners.mailbox import MailboxStore, Reading
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.plan import Create, Delete, Update
from oh_outlook_provider.sync.tags import HOLDS, KEY_PROP, SOURCE_PROP, EventKey, holds_prop, source_id

ANNA = "00000000-0000-0000-0000-00000000000a"
SOURCE = source_id("4711")
WINDOW = Window(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC))


def ours(event_id: str, appointment_id: str = "1", source: str = SOURCE) -> dict:
    key = EventKey(source, appointment_id, "e1")
    return {"id": event_id, "subject": "x", "start": {"dateTime": "2026-12-02T07:00:00.0000000", "timeZone": "UTC"},
            "singleValueExtendedProperties": [{"id": SOURCE_PROP, "value": source}, {"id": KEY_PROP, "value": str(key)}]}


class Graph:
    """Answers each batch id from `answers` (status, body), 200 with no events otherwise; records every call."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.batches: list[list[dict]] = []
        self.patches: list[tuple[str, dict]] = []

    def batch(self, requests_):
        requests_ = list(requests_)
        self.batches.append(requests_)
        out = {}
        for r in requests_:
            status, body = self.answers.get(r["id"], (200, {"value": []}))
            out[r["id"]] = BatchResponse(r["id"], status, body)
        return out

    def batch_error(self, item, response):
        code = (response.body or {}).get("error", {}).get("code")
        if code == "MailboxNotEnabledForRESTAPI":
            return MailboxNotEnabledError("no mailbox", response.status, code)
        return GraphError(f"HTTP {response.status}", response.status, code)

    def page_after(self, page, headers=None):
        return iter(page.get("more", []))

    def ensure_calendar(self, user_id, name):
        return "CAL2"

    def is_default_calendar(self, user_id, calendar_id):
        return False

    def patch(self, path, body, headers=None):
        self.patches.append((path, body))


def test_one_batch_reads_the_window_the_probe_the_holders_and_the_category_list():
    graph = Graph({"window": (200, {"value": [ours("E1"), ours("E2", source="openhandwerk:other")],
                                    "more": [ours("E3", "2")]}),
                   "probe": (200, {"value": [{"id": "E1"}]})})
    reading = MailboxStore(graph, SOURCE, "Europe/Berlin").read(ANNA, WINDOW)
    (requests,) = graph.batches
    assert [r["id"] for r in requests] == ["window", "probe", "holders", "categories"]
    window = unquote(requests[0]["url"])
    assert f"value eq '{SOURCE}'" in window and "start/dateTime ge '2026-12-01T00:00:00'" in window
    assert "start/dateTime lt '2026-12-08T00:00:00'" in window and "$top=500" in window
    assert requests[0]["headers"]["Prefer"] == 'outlook.timezone="W. Europe Standard Time", IdType="ImmutableId"'
    assert [e.id for e in reading.existing] == ["E1", "E3"]  # another source's event is never ours
    assert reading.any_ours and reading.strays == [] and reading.categories == []


def test_a_named_calendar_is_tagged_once_and_ours_in_the_default_calendar_are_read_as_strays():
    graph = Graph({"default": (200, {"value": [{"id": "D1"}]}), "s0": (200, {"value": [ours("D1")]})})
    reading = MailboxStore(graph, SOURCE, "Europe/Berlin", calendar_name="Termine").read(ANNA, WINDOW)
    assert "/calendars/CAL2/events" in reading.target
    assert [e.id for e in reading.strays] == ["D1"] and reading.strays[0].elsewhere
    assert graph.patches == [(f"/users/{ANNA}/calendars/CAL2",
                              {"singleValueExtendedProperties": [{"id": holds_prop(SOURCE), "value": HOLDS}]})]


def test_a_dry_run_never_tags_a_calendar():
    graph = Graph()
    MailboxStore(graph, SOURCE, "Europe/Berlin", calendar_name="Termine", dry_run=True).read(ANNA, WINDOW)
    assert graph.patches == []


def test_the_category_list_is_optional_and_other_failures_are_not():
    graph = Graph({"categories": (403, {"error": {"code": "ErrorAccessDenied"}})})
    assert MailboxStore(graph, SOURCE, "Europe/Berlin").read(ANNA, WINDOW).categories is None
    graph = Graph({"window": (500, {"error": {"code": "InternalServerError"}})})
    with pytest.raises(GraphError, match="500"):
        MailboxStore(graph, SOURCE, "Europe/Berlin").read(ANNA, WINDOW)
    graph = Graph()
    MailboxStore(graph, SOURCE, "Europe/Berlin", categories=False).read(ANNA, WINDOW)
    assert "categories" not in [r["id"] for r in graph.batches[0]]


def _reading() -> Reading:
    return Reading(f"/users/{ANNA}/events", {}, [], True, [], [])


def _desired(appointment_id: str):
    from oh_outlook_provider.sync.models import Appointment
    from oh_outlook_provider.sync.render import RenderOptions, render

    start = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)
    appointment = Appointment(appointment_id, "T", start, start + dt.timedelta(hours=1), employee_ids=("e1",))
    return render(appointment, "e1", SOURCE, RenderOptions())


def test_each_write_is_answered_by_its_outcome():
    actions = [Create(_desired("1")), Create(_desired("2")), Delete("E9", None, "gone"), Create(_desired("3")),
               Update("E8", _desired("4"), ("subject",)), Delete("E7", None, "gone")]
    graph = Graph({"a1": (400, {"error": {"code": "ErrorDuplicateTransactionId"}}), "a2": (404, {}),
                   "a3": (400, {"error": {"code": "ErrorInvalidRequest"}}), "a4": (503, {}), "a5": (403, {})})
    written = MailboxStore(graph, SOURCE, "Europe/Berlin").write(ANNA, _reading(), actions, "run-1")
    assert [w.outcome for w in written] == ["done", "reused", "gone", "refused", "failed", "failed"]
    assert [r["method"] for r in graph.batches[0]] == ["POST", "POST", "DELETE", "POST", "PATCH", "DELETE"]
    bodies = [r["body"]() for r in graph.batches[0] if r["method"] == "POST"]  # built when the call goes out
    assert bodies[0]["transactionId"] != bodies[1]["transactionId"]


def test_a_mailbox_without_exchange_stops_the_mailbox_not_the_event():
    graph = Graph({"a0": (404, {"error": {"code": "MailboxNotEnabledForRESTAPI"}})})
    with pytest.raises(MailboxNotEnabledError):
        MailboxStore(graph, SOURCE, "Europe/Berlin").write(ANNA, _reading(), [Create(_desired("1"))], "run-1")


def test_find_asks_by_key_tag_and_read_back_by_start():
    graph = Graph({"k0": (200, {"value": [ours("E1")]})})
    store = MailboxStore(graph, SOURCE, "Europe/Berlin")
    key = EventKey(SOURCE, "1", "e1")
    assert [e.id for e in store.find(_reading(), [key])] == ["E1"]
    assert f"value eq '{key}'" in unquote(graph.batches[0][0]["url"])
    store.read_back(_reading(), [_desired("1")])
    url = unquote(graph.batches[1][0]["url"])
    assert graph.batches[1][0]["id"] == "readback" and "$select=id&" in url
    assert "start/dateTime ge '2026-12-02T08:00:00'" in url and "start/dateTime lt '2026-12-02T08:00:01'" in url


def test_categories_refused_as_existing_are_read_back_and_the_rest_named():
    graph = Graph({"c1": (409, {}), "categories": (200, {"value": [{"displayName": "Urlaub", "color": "preset4"}]})})
    store = MailboxStore(graph, SOURCE, "Europe/Berlin")
    bodies = [{"displayName": "Baustelle", "color": "preset1"}, {"displayName": "Urlaub", "color": "preset4"},
              {"displayName": "Arzt", "color": "preset2"}]
    graph.answers["c2"] = (400, {})
    added = store.add_categories(ANNA, bodies, {})
    assert added.created == 1 and not added.forbidden and added.still_missing == ("Arzt",)
    forbidden = MailboxStore(Graph({"c0": (403, {})}), SOURCE, "Europe/Berlin").add_categories(ANNA, bodies[:1], {})
    assert forbidden.forbidden and forbidden.created == 0


BERT = "00000000-0000-0000-0000-00000000000b"

def test_read_backs_of_several_mailboxes_share_one_batch_each_answered_with_its_own():
    graph = Graph({"r0.readback": (200, {"value": [ours("E1")], "more": [ours("E2", "2")]}),
                   "r1.readback": (503, {"error": {"code": "ServiceUnavailable"}})})
    store = MailboxStore(graph, SOURCE, "Europe/Berlin")
    created = [_desired("1")]
    answers = store.read_backs([(Reading(f"/users/{m}/events", {}, [], True, [], []), created) for m in (ANNA, BERT)])
    (requests,) = graph.batches
    assert [r["id"] for r in requests] == ["r0.readback", "r1.readback"]
    assert [r["url"].split("?")[0] for r in requests] == [f"/users/{ANNA}/events", f"/users/{BERT}/events"]
    assert [e.id for e in answers[0]] == ["E1", "E2"] and isinstance(answers[1], GraphError)
