"""What the emulator remembers to stay cheap (issue 25) never shows an answer the store no longer holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import selectors
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.sandbox import SandboxServer, control, oh_fields
from devtools.sandbox.app import GraphFirst
from devtools.sandbox.events import store_event, update_event
from devtools.sandbox.jsontext import RawJSON
from devtools.sandbox.openhandwerk import handle
from devtools.sandbox.server import new_event_loop
from devtools.sandbox.shown import encode_json, event_json, event_shown, render_event
from devtools.sandbox.state import SandboxState
from devtools.sandbox.throttling import TICK_SHARE, mailbox_call, on_tick
from devtools.sandbox.waves import run_wave
from tests.conftest import graph_hook

TZ = "W. Europe Standard Time"


@pytest.fixture(scope="module")
def state() -> SandboxState:
    return SandboxState(seed=5, employees=3, appointments_per_employee=4)


def _stored(state: SandboxState) -> dict:
    user_id = next(u.id for u in state.users.values() if u.has_mailbox)
    cal = state.default_calendar(user_id)
    return store_event(state, user_id, cal["id"], {
        "subject": "Wartung", "body": {"contentType": "text", "content": "Heizung <prüfen>"},
        "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": TZ},
        "end": {"dateTime": "2026-03-02T09:00:00", "timeZone": TZ}})


def test_a_read_after_a_write_shows_the_write(state):
    event = _stored(state)
    user_id = next(u for u, events in state.events.items() if event["id"] in events)
    assert render_event(event, ["subject"], None, TZ)["subject"] == "Wartung"
    update_event(state, user_id, event, {"subject": "Wartung neu", "start": {"dateTime": "2026-03-02T10:00:00",
                                                                             "timeZone": TZ},
                                         "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": TZ}})
    shown = render_event(event, ["subject", "start"], None, TZ)
    assert shown["subject"] == "Wartung neu" and shown["start"]["dateTime"] == "2026-03-02T10:00:00.0000000"
    event["isReminderOn"] = 1  # equal to True, another JSON value: a value replaced is a value changed
    assert render_event(event, ["isReminderOn"], None, TZ)["isReminderOn"] == 1


def test_select_leaves_properties_out_in_the_stored_order_and_answers_are_separate(state):
    event = _stored(state)
    full = render_event(event, None, None, None)
    assert full["bodyPreview"] == "Heizung <prüfen>" and full["start"]["timeZone"] == "UTC"
    assert list(render_event(event, ["start", "subject", "bodyPreview"], None, TZ)) == [
        "id", "@odata.etag", "subject", "start", "bodyPreview"]
    first = render_event(event, ["subject"], {"none"}, TZ)
    first["subject"] = "changed by a caller"
    assert first["singleValueExtendedProperties"] == []
    assert render_event(event, ["subject"], None, TZ) == {"id": event["id"], "@odata.etag": event["@odata.etag"],
                                                          "subject": "Wartung"}


def test_a_time_is_shown_for_its_own_instant_and_zone_where_equal_instants_were_shown_before(state):
    event, other = _stored(state), _stored(state)
    assert render_event(event, ["start"], None, None)["start"]["dateTime"] == "2026-03-02T07:00:00.0000000"
    assert render_event(event, ["start"], None, TZ)["start"]["dateTime"] == "2026-03-02T08:00:00.0000000"
    # the same instant kept with another offset (as no write of the emulator keeps it): shown as it is kept
    other["_start_utc"] = event["_start_utc"].astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert render_event(other, ["start"], None, None)["start"]["dateTime"] == "2026-03-02T09:00:00.0000000"
    assert render_event(other, ["start"], None, "Pacific Standard Time")["start"] == {
        "dateTime": "2026-03-01T23:00:00.0000000", "timeZone": "Pacific Standard Time"}


def _window_ids(state: SandboxState, headers: dict) -> list[str]:
    window = {oh_fields.RANGE_FROM: "2031-01-06T00:00:00", oh_fields.RANGE_TO: "2031-01-07T00:00:00",
              oh_fields.LIMIT: "500"}
    status, body = handle(state, "GET", "/appointments", window, headers, None)
    assert status == 200
    return [a["id"] for a in body["response"] if a["id"].startswith("T-COST")]


def test_a_window_read_again_sees_records_moved_added_and_removed_since():
    state = SandboxState(seed=5, employees=3, appointments_per_employee=4)
    _, login = handle(state, "POST", "/auth/login", {}, {},
                      {"idKn": state.oh_id_kn, "employee": state.oh_employee, "password": state.oh_password})
    headers = {"authorization": "Bearer " + login["response"][oh_fields.TOKEN]}
    record = {"id": "T-COST-1", "title": "x", "start": "2031-01-06T08:00:00", "end": "2031-01-06T09:00:00"}
    control.oh_change(state, "new", record=record)
    assert _window_ids(state, headers) == ["T-COST-1"]
    state.appointments["T-COST-1"]["start"] = "2031-02-06T08:00:00"  # moved in place, out of the window
    assert _window_ids(state, headers) == []
    state.appointments["T-COST-1"]["start"] = "2031-01-06T07:00:00"
    state.appointments["T-COST-2"] = {**record, "id": "T-COST-2"}
    assert _window_ids(state, headers) == ["T-COST-1", "T-COST-2"]
    del state.appointments["T-COST-1"]
    assert _window_ids(state, headers) == ["T-COST-2"]


def _page_ids(state: SandboxState, headers: dict, page: int) -> list[str]:
    window = {oh_fields.RANGE_FROM: "2031-01-06T00:00:00", oh_fields.RANGE_TO: "2031-01-07T00:00:00",
              oh_fields.PAGE: str(page), oh_fields.LIMIT: "2"}
    status, body = handle(state, "GET", "/appointments", window, headers, None)
    assert status == 200
    return [a["id"] for a in body["response"]]


def test_each_page_of_a_window_read_sees_the_records_changed_before_its_end_since_an_earlier_page():
    state = SandboxState(seed=5, employees=3, appointments_per_employee=4)
    del state.appointments["T-BAD-1"]  # without a start: in every window
    _, login = handle(state, "POST", "/auth/login", {}, {},
                      {"idKn": state.oh_id_kn, "employee": state.oh_employee, "password": state.oh_password})
    headers = {"authorization": "Bearer " + login["response"][oh_fields.TOKEN]}
    for n in range(1, 8):
        control.oh_change(state, "new", record={"id": f"T-P{n}", "title": "x", "start": "2031-01-06T08:00:00",
                                                "end": "2031-01-06T09:00:00"})
    assert [_page_ids(state, headers, page) for page in (1, 2, 3, 4)] == [
        ["T-P1", "T-P2"], ["T-P3", "T-P4"], ["T-P5", "T-P6"], ["T-P7"]]
    state.appointments["T-P6"]["start"] = "2031-02-06T08:00:00"  # after page 2's end: page 2 as before
    assert _page_ids(state, headers, 2) == ["T-P3", "T-P4"]
    assert _page_ids(state, headers, 3) == ["T-P5", "T-P7"]
    state.appointments["T-P2"]["start"] = "2031-02-06T08:00:00"  # on page 1, moved in place: every later page shifts
    assert _page_ids(state, headers, 2) == ["T-P4", "T-P5"]
    state.appointments["T-P2"] = {**state.appointments["T-P2"], "start": "2031-01-06T08:00:00"}  # replaced, back
    assert _page_ids(state, headers, 2) == ["T-P3", "T-P4"]
    assert _page_ids(state, headers, 3) == ["T-P5", "T-P7"]
    del state.appointments["T-P7"]  # the last page: every record decides it
    assert _page_ids(state, headers, 3) == ["T-P5"]
    state.appointments["T-P8"] = {"id": "T-P8", "title": "x", "start": "2031-01-06T08:00:00"}
    assert _page_ids(state, headers, 3) == ["T-P5", "T-P8"]
    del state.appointments["T-P1"]
    assert [_page_ids(state, headers, page) for page in (2, 1)] == [["T-P4", "T-P5"], ["T-P2", "T-P3"]]


def test_a_wave_runs_at_most_width_at_once_in_order_and_raises_after_all_ran():
    started, running, peak = [], [0], [0]

    async def run(key: str) -> None:
        started.append(key)
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.01)
        running[0] -= 1
        if key in ("k3", "k7"):
            raise ValueError(key)

    keys = [f"k{i}" for i in range(12)]
    with pytest.raises(ValueError, match="k3"):
        asyncio.run(run_wave(run, keys, 4))
    assert sorted(started) == sorted(keys) and started[:4] == keys[:4] and peak[0] == 4


def test_an_expanded_read_after_a_patch_of_extended_properties_shows_the_patch(state):
    """The text of an expanded answer is remembered; a PATCH changes `_props` in place, the next read sees it."""
    event = _stored(state)
    user_id = next(u for u, events in state.events.items() if event["id"] in events)
    tag = "String {00000000-0000-0000-0000-000000000001} Name ohKey"
    update_event(state, user_id, event, {"singleValueExtendedProperties": [{"id": tag, "value": "a"}]})
    first = event_json(event, ["subject"], {tag}, TZ).value()
    assert first["singleValueExtendedProperties"] == [{"id": tag, "value": "a"}]
    update_event(state, user_id, event, {"singleValueExtendedProperties": [{"id": tag, "value": "b"}]})
    assert event_json(event, ["subject"], {tag}, TZ).value()["singleValueExtendedProperties"] == [
        {"id": tag, "value": "b"}]
    event["_props"][tag] = "c"  # changed in place, as update_event does
    assert event_json(event, ["subject"], {tag}, TZ).value()["singleValueExtendedProperties"][0]["value"] == "c"
    assert event_json(event, ["subject"], {"other"}, TZ).value()["singleValueExtendedProperties"] == []


def test_a_read_in_another_zone_or_selection_after_a_create_answer_shows_the_stored_event(state):
    """A create's answer (UTC) is remembered; a read in another zone and `$select` shows that zone's times, and a
    PATCH after both is seen by either."""
    event = _stored(state)
    user_id = next(u for u, events in state.events.items() if event["id"] in events)
    assert event_json(event, None, None, None).value()["start"] == {"dateTime": "2026-03-02T07:00:00.0000000",
                                                                    "timeZone": "UTC"}
    assert event_json(event, ["id"], None, TZ).value() == {"id": event["id"], "@odata.etag": event["@odata.etag"]}
    assert event_json(event, ["start"], None, TZ).value()["start"] == {"dateTime": "2026-03-02T08:00:00.0000000",
                                                                       "timeZone": TZ}
    update_event(state, user_id, event, {"start": {"dateTime": "2026-03-02T06:00:00", "timeZone": TZ},
                                         "body": {"contentType": "text", "content": "neu"}})
    assert event_json(event, ["start"], None, TZ).value()["start"]["dateTime"] == "2026-03-02T06:00:00.0000000"
    full = event_json(event, None, None, None).value()
    assert full["start"]["dateTime"] == "2026-03-02T05:00:00.0000000" and full["bodyPreview"] == "neu"
    in_page = event_shown(event, ["start", "bodyPreview"], {"none"}, TZ)
    assert in_page == {"id": event["id"], "@odata.etag": event["@odata.etag"],
                       "start": {"dateTime": "2026-03-02T06:00:00.0000000", "timeZone": TZ}, "bodyPreview": "neu",
                       "singleValueExtendedProperties": []}
    assert full["changeKey"] == event["changeKey"] and full["@odata.etag"] == event["@odata.etag"]


def test_an_answer_with_event_texts_spliced_in_is_the_json_of_the_same_values():
    event_text = RawJSON('{"id":"A","subject":"Grüße \\"x\\"","n":[1,2.5,null,true]}')
    answer = {"responses": [{"id": "1", "status": 201, "headers": {"Content-Type": "application/json"},
                             "body": event_text},
                            {"id": "2", "status": 200, "body": {"value": [event_text, RawJSON("[]"), "\x00raw-"]}}],
              "text": "ünïcode \x00 \u2028"}
    plain = json.loads(json.dumps(answer, default=lambda raw: raw.value()))
    sent = encode_json(answer)
    assert json.loads(sent) == plain
    assert sent == json.dumps(plain, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    with pytest.raises(TypeError):
        encode_json({"when": object()})


_GRAPH_MODULES = tuple(f"devtools/sandbox/{name}.py" for name in ("graph", "throttling", "batch"))


def _threads_in_graph() -> int:
    """Threads with a frame of the emulated Graph's modules (routing, throttling, `$batch`) on their stack right now."""
    return sum(any(f.f_code.co_filename.replace("\\", "/").endswith(_GRAPH_MODULES)
                   for f in _frames(frame)) for frame in sys._current_frames().values())


def _frames(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def test_requests_waiting_out_their_latency_hold_no_thread():
    """Graph requests wait their latency on the server's event loop: with 6 batches of 4 sub-requests in flight
    (6 mailboxes), no thread sits in the emulated Graph. A thread per request and one per sub-request, each
    asleep and woken to take the GIL back, were a quarter to a half of the emulator's CPU (issue 25)."""
    state = SandboxState(seed=5, employees=10, appointments_per_employee=1, latency_ms=1500)
    with SandboxServer(state) as server:
        raw = graph_hook(server)
        users = [u.id for u in state.users.values() if u.has_mailbox][:6]
        assert len(users) == 6
        raw.get_token()
        batches = [[{"id": str(i), "method": "GET", "url": f"/users/{user}/events?$top=1"} for i in range(4)]
                   for user in users]
        with ThreadPoolExecutor(len(batches)) as pool:
            answers = [pool.submit(raw.batch, batch) for batch in batches]
            time.sleep(0.6)  # every batch sent (a TLS handshake each), every sub-request waiting out its 1.5 s
            in_graph = _threads_in_graph()
            in_flight = sum(state.counters.in_flight.values())
            results = [a.result() for a in answers]
    assert in_flight == 24 and in_graph <= 1  # at most the loop's own thread, between two timers
    assert all(r.status == 200 for result in results for r in result.values())


def test_graph_requests_skip_the_web_frameworks_layers_and_answer_as_before():
    """A Graph request goes straight to its route (app.GraphFirst); a method Graph's route does not take and every
    other path still go through FastAPI: 405 and the redirect to the slash as Starlette answers them."""
    state = SandboxState(seed=5, employees=3, appointments_per_employee=1)
    with SandboxServer(state) as server:
        assert isinstance(server._server.config.app, GraphFirst)
        hook = graph_hook(server)
        token = hook.get_token()
        user = next(u.id for u in state.users.values() if u.has_mailbox)
        ok_answer = hook.session.get(f"{server.base_url}/v1.0/users/{user}/events?$top=1",
                                     headers={"Authorization": f"Bearer {token}"})
        assert ok_answer.status_code == 200 and ok_answer.headers["content-type"] == "application/json"
        assert ok_answer.headers["request-id"] and ok_answer.json()["value"] == []
        assert hook.session.options(f"{server.base_url}/v1.0/users").status_code == 405
        assert hook.session.get(f"{server.base_url}/v1.0", allow_redirects=False).status_code == 307  # to /v1.0/
        assert state.counters.http_requests == 1  # only the Graph request was Graph's


def test_latencies_end_on_the_loops_ticks_and_keep_their_mean():
    """`throttling.on_tick`: the nearest tick, never before the start, at most half a tick off, the same mean over
    starts spread across a tick; no tick: the latency as drawn."""
    tick, delay = 0.04, 0.437
    ends = [on_tick(1000 + k * tick / 400, delay, tick) for k in range(400)]
    offsets = [end - (1000 + k * tick / 400 + delay) for k, end in enumerate(ends)]
    assert all(abs(round(end / tick) * tick - end) < 1e-9 for end in ends)  # on the grid
    assert max(abs(o) for o in offsets) <= tick / 2 + 1e-9
    assert abs(sum(offsets) / len(offsets)) < tick / 100
    assert on_tick(5.0, 0.001, 1.0) == 5.0  # the nearest tick lies before the start: never earlier than now
    assert on_tick(5.0, 0.437, 0) == 5.437


class _CountingSelector(selectors.DefaultSelector):
    """The loop's selector, counting the times the loop waited (a wake of the process each)."""

    waits = 0

    def select(self, timeout=None):
        if timeout is None or timeout > 0:
            self.waits += 1
        return super().select(timeout)


def test_requests_ending_close_together_run_in_one_wake_of_the_loop():
    """40 requests sent at once, their latencies spread over 100 ms by the jitter: with ticks of a tenth of the
    100 ms latency they end on at most 11 ticks, so the loop waits about 11 times, not about 30 (a wake of an
    idle CPU each, which cost the emulator more than the requests' own work at 400 ms; issue 25)."""
    state = SandboxState(seed=5, employees=12, appointments_per_employee=1, latency_ms=100, jitter_ms=100)
    mailboxes = [u.id for u in state.users.values()][:10]
    selector = _CountingSelector()

    async def main() -> None:
        await asyncio.gather(*(mailbox_call(state, m, "read", lambda: None) for m in mailboxes for _ in range(4)))

    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as runner:
        runner.run(main())
    assert sum(state.counters.requests.values()) == 40
    assert 0.1 * TICK_SHARE == pytest.approx(0.01)
    assert selector.waits <= 15


def test_on_the_servers_own_loop_requests_ending_close_together_run_in_one_turn_of_it():
    """The same on the loop the server runs on (`server.new_event_loop`: uvloop's where installed, whose timers
    count whole milliseconds): the 40 requests run on at most 15 distinct turns of the loop's clock, not about 30."""
    state = SandboxState(seed=5, employees=12, appointments_per_employee=1, latency_ms=100, jitter_ms=100)
    mailboxes = [u.id for u in state.users.values()][:10]
    turns: set[float] = set()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(mailbox_call(state, m, "read", lambda: turns.add(loop.time()))
                               for m in mailboxes for _ in range(4)))

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
    assert sum(state.counters.requests.values()) == 40
    assert 1 <= len(turns) <= 15
