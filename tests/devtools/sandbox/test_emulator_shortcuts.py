"""What the emulator works out ahead of time or once per value to stay cheap (issue 25) answers byte for byte what
the slow path does: a text body's preview, the create's answer, a moment's UTC instant, the time stamp, request ids."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sandbox import answers, batch, events, shown
from devtools.sandbox.answers import GraphFault
from devtools.sandbox.events import (
    fmt_graph_dt,
    kept_text,
    parse_graph_dt,
    store_event,
    update_event,
    validate_event,
    zone_of,
)
from devtools.sandbox.shown import event_json
from devtools.sandbox.state import SandboxState

TZ = "W. Europe Standard Time"
# Line breaks, what HTML escapes and unescapes (entities written out too), non-ASCII, whitespace at either end
TEXT = st.lists(st.sampled_from([*"ab Zü—€\n\r\t&<>\"';#x0123", "&amp;", "&lt;", "&#39;", " \n", "\u2028", "\U0001f600",
                                 "<br>", "Kundentermin "]), max_size=120).map("".join)
ZONES = st.sampled_from([None, TZ, "Pacific Standard Time", "UTC", "Europe/Berlin"])
SELECTS = st.sampled_from([None, ("subject",), ("bodyPreview",), ("start", "bodyPreview", "end"), ("body", "location"),
                           ("categories", "isAllDay", "bodyPreview", "subject")])


def _slow_preview(content: str) -> str:
    """`bodyPreview` as the emulator worked it out before: the tags removed, unescaped, 255 characters, stripped."""
    return html.unescape(re.sub(r"<[^>]+>", "", content))[:255].strip()


def _slow_answer(event: dict, select: tuple[str, ...] | None, zone: str | None) -> bytes:
    """An event's answer as the emulator wrote it before it remembered anything: every property not private, the
    times in the zone, the preview last; `$select` keeps those named and the id and etag; Starlette's JSON."""
    props = {k: v for k, v in event.items() if not k.startswith("_")}
    for name in ("start", "end"):
        if event["isAllDay"]:
            text = fmt_graph_dt(parse_graph_dt(event[name]["dateTime"]))
        else:
            value = event["_start_utc" if name == "start" else "_end_utc"]
            text = fmt_graph_dt(value.astimezone(zone_of(zone)) if zone else value)
        props[name] = {"dateTime": text, "timeZone": zone or "UTC"}
    props["bodyPreview"] = _slow_preview(event["body"]["content"])
    if select is not None:
        props = {k: v for k, v in props.items() if k in {*select, "id", "@odata.etag"}}
    return json.dumps(props, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@given(text=TEXT, content_type=st.sampled_from(["text", "TEXT", "Text", "html", None, ""]))
@settings(max_examples=300, deadline=None)
def test_a_text_bodys_preview_known_from_its_text_is_the_preview_of_the_stored_html(text, content_type):
    body = {"content": text} if content_type is None else {"contentType": content_type, "content": text}
    stored, preview = events._store_body(body)
    made_from_text = (content_type or "text").lower() == "text"
    assert (preview is not None) == made_from_text  # a text's preview, known from the text
    assert (preview if made_from_text else shown.preview_of(stored["content"])) == _slow_preview(stored["content"])
    assert shown.preview_of(stored["content"]) == _slow_preview(stored["content"])


def _state(line_breaks: str, long_text: str, time_precision: str, categories: str) -> SandboxState:
    state = SandboxState(seed=5, employees=2, appointments_per_employee=1)
    behaviour = state.behaviour
    behaviour.line_breaks, behaviour.long_text = line_breaks, long_text
    behaviour.time_precision, behaviour.event_categories = time_precision, categories
    return state


@given(text=TEXT, content_type=st.sampled_from(["text", "html"]), subject=TEXT, place=TEXT,
       names=st.lists(TEXT, max_size=3), all_day=st.booleans(), seconds=st.integers(0, 59),
       line_breaks=st.sampled_from(["keep", "drop", "space"]), long_text=st.sampled_from(["truncate", "ellipsis"]),
       time_precision=st.sampled_from(["seconds", "minutes"]), categories=st.sampled_from(["as_written", "deduplicated"]),
       zones=st.lists(ZONES, min_size=1, max_size=3), selects=st.lists(SELECTS, min_size=1, max_size=3),
       first=st.sampled_from(["created", "answered", "read"]))
@settings(max_examples=150, deadline=None)
def test_a_create_and_later_reads_answer_what_the_slow_path_wrote(text, content_type, subject, place, names, all_day,
                                                                  seconds, line_breaks, long_text, time_precision,
                                                                  categories, zones, selects, first):
    state = _state(line_breaks, long_text, time_precision, categories)
    user_id = next(u.id for u in state.users.values() if u.has_mailbox)
    start, end = (("2026-03-29T00:00:00", "2026-03-30T00:00:00") if all_day
                  else (f"2026-03-29T02:30:{seconds:02d}", "2026-10-25T02:30:00"))  # a gap and a fold in Berlin
    sent = {"subject": subject, "body": {"contentType": content_type, "content": text},
            "start": {"dateTime": start, "timeZone": TZ}, "end": {"dateTime": end, "timeZone": TZ},
            "isAllDay": all_day, "location": {"displayName": place, "address": {"city": place}}, "categories": names,
            "transactionId": str(uuid.uuid4())}
    before = copy.deepcopy(sent)
    event = store_event(state, user_id, state.default_calendar(user_id)["id"], sent)
    assert sent == before  # the body as sent is kept for a transactionId's repeat: nothing changed it
    assert event["location"]["displayName"] == kept_text(state, "location.displayName", place)
    assert event["location"]["address"] == {"city": place} and event["location"] is not sent["location"]
    if first == "created":  # the create's answer, as Graph's create gives it
        assert shown.created_json(event, zones[0]).text == _slow_answer(event, None, zones[0])
    reads = [(select, zone) for zone in zones for select in selects]
    if first == "answered":  # every property in UTC first; or a read before anything else (a seeded event's)
        reads.insert(0, (None, None))
    for select, zone in reads + reads:
        assert event_json(event, list(select) if select else None, None, zone).text == _slow_answer(event, select, zone)
    assert shown.created_json(event, zones[-1]).text == _slow_answer(event, None, zones[-1])


def test_a_moments_instant_worked_out_once_is_the_instant_worked_out_again():
    def body(start: str, end: str, zone: str = TZ) -> dict:
        return {"start": {"dateTime": start, "timeZone": zone}, "end": {"dateTime": end, "timeZone": zone}}

    for zone in (TZ, "Pacific Standard Time", "Europe/Berlin", "UTC"):
        for start, end in (("2026-03-29T02:30:00", "2026-03-29T03:30:00"), ("2026-10-25T02:30:00.1234567Z",
                                                                             "2026-10-25T02:59:59")):
            expected = {name: parse_graph_dt(text).replace(tzinfo=zone_of(zone)).astimezone(dt.UTC)
                        for name, text in (("start_utc", start), ("end_utc", end))}
            assert validate_event(body(start, end, zone)) == expected == validate_event(body(start, end, zone))
    validate_event(body("2026-03-02T08:00:00", "2026-03-02T09:00:00"))
    with pytest.raises(GraphFault, match="Cannot convert '2026-13-02T08:00:00'"):
        validate_event(body("2026-13-02T08:00:00", "2026-03-02T09:00:00"))
    with pytest.raises(GraphFault, match="'start.dateTime' must not carry an offset"):
        validate_event(body("2026-03-02T08:00:00+01:00", "2026-03-02T09:00:00"))
    with pytest.raises(GraphFault, match="not supported: 'Mars'"):
        validate_event(body("2026-03-02T08:00:00", "2026-03-02T09:00:00", "Mars"))
    with pytest.raises(GraphFault, match="end time of the event must be after"):
        validate_event(body("2026-03-02T09:00:00", "2026-03-02T08:00:00"))


def test_the_time_stamp_of_a_write_is_the_time_now_to_the_microsecond():
    for _ in range(200):
        before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        text = events._now_text()
        after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
        assert before <= dt.datetime.fromisoformat(text[:-1]) <= after


def test_a_request_id_is_a_random_version_4_guid():
    ids = {answers._guid() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        value = uuid.UUID(text)
        assert str(value) == text and value.version == 4 and value.variant == uuid.RFC_4122
    assert {text[19] for text in ids} == set("89ab") and len({text[15] for text in ids}) == 16


@pytest.mark.parametrize(("headers", "refused"), [
    ({"Content-Type": "application/json"}, False), ({"content-type": "application/json"}, False),
    ({"CONTENT-TYPE": "application/json"}, False), ({"Prefer": "x"}, True), ({}, True), (["content-type"], False),
    ("content-type", True)])
def test_a_sub_request_with_a_body_names_its_content_type_in_any_case(headers, refused):
    requests = [{"id": "1", "method": "POST", "url": "/users/x/events", "body": {}, "headers": headers}]
    answer = batch._validate_batch(requests)
    assert (answer is not None and "Content-Type header must be specified" in answer[2]["error"]["message"]) == refused
    assert batch._validate_batch(requests + [{**requests[0], "id": "1"}]) is not None  # ids unique, in any case


@given(first=TEXT, then=TEXT, kinds=st.lists(st.sampled_from(["text", "html"]), min_size=1, max_size=3))
@settings(max_examples=100, deadline=None)
def test_a_patched_body_shows_the_preview_of_the_body_stored_last(first, then, kinds):
    """The preview known from a text is the stored event's own (`_preview`): a PATCH of the body replaces it, with
    None for an HTML body, whose preview is worked out from the HTML as before."""
    state = _state("keep", "truncate", "seconds", "as_written")
    user_id = next(u.id for u in state.users.values() if u.has_mailbox)
    event = store_event(state, user_id, state.default_calendar(user_id)["id"], {
        "subject": "x", "body": {"contentType": "text", "content": first},
        "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": TZ}, "end": {"dateTime": "2026-03-02T09:00:00",
                                                                               "timeZone": TZ}})
    assert event_json(event, ["bodyPreview"], None, TZ).text == _slow_answer(event, ("bodyPreview",), TZ)
    for n, kind in enumerate(kinds):
        update_event(state, user_id, event, {"body": {"contentType": kind, "content": then + str(n)}})
        for select in (("bodyPreview",), None):
            assert event_json(event, list(select) if select else None, None, TZ).text == \
                _slow_answer(event, select, TZ)
