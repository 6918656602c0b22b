"""How Graph shows a stored event: `$select`, `$expand` of extended properties, times in the asked zone, and
the JSON text remembered per event and used again while the event is unchanged (issue 25).

Also the answers' JSON (`encode_json`): every event's text spliced in as it is. Storage and validation are
`events.py`; each rule names its row in docs/sandbox-fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import operator
import re
import uuid
from typing import Any

from devtools.sandbox.answers import GraphFault
from devtools.sandbox.events import EVENT_PROPERTIES, fmt_graph_dt, parse_graph_dt, zone_of
from devtools.sandbox.jsontext import RawJSON, encode

_ALWAYS_SHOWN = ("id", "@odata.etag")
_PRIVATE = ("_calendar", "_start_utc", "_end_utc", "_props", "_preview")  # a stored event's names never shown
_PUBLIC = EVENT_PROPERTIES | {"@odata.etag"}  # what a stored event shows; no name starts with "_"


# ---------------------------------------------------------------------- $select
def select_of(query: dict) -> list[str] | None:
    """The `$select` list of a query, None without one."""
    return [s.strip() for s in query.get("$select", "").split(",") if s.strip()] or None


def check_select(select: list[str] | None) -> None:
    """`$select` of a property the type does not have: 400 (fidelity row Q2)."""
    for name in select or ():
        if name not in EVENT_PROPERTIES:
            raise GraphFault(400, "BadRequest", f"Could not find a property named '{name}' on type "
                             "'microsoft.graph.event'.")


# ---------------------------------------------------------------------- the answers' JSON
# Starlette's JSON (JSONResponse.render); a stored value never holds itself, so no check for cycles (a fifth of the
# cost). What msgspec writes in its place where it writes the same bytes (jsontext.encode).
_DUMPS = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False).encode
_MARK = f"\x00raw-{uuid.uuid4().hex}"  # a string no stored value holds: where `_spliced` puts a RawJSON
_MARK_JSON = _DUMPS(_MARK)


def _text_of(value: Any) -> bytes:
    """The UTF-8 JSON of a value as Starlette's JSONResponse writes it (`_DUMPS`), by the standard library."""
    return _DUMPS(value).encode()


def _json_text(value: Any) -> bytes:
    """`_text_of(value)`, written by msgspec where it writes the same bytes (jsontext.encode)."""
    return encode(value, _text_of)


def _spliced(value: Any) -> bytes:
    """`encode_json` by the standard library: every RawJSON written as a marker, then replaced by its text."""
    raws: list[str] = []

    def splice(obj: Any) -> str:
        if type(obj) is RawJSON:
            raws.append(obj.text if isinstance(obj.text, str) else obj.text.decode())
            return _MARK
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=splice,
                      check_circular=False)  # an answer is a tree: nothing holds itself
    if raws:
        parts = text.split(_MARK_JSON)
        pieces = [parts[0]]
        for raw, part in zip(raws, parts[1:], strict=True):
            pieces.append(raw)
            pieces.append(part)
        text = "".join(pieces)
    return text.encode()


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON of an answer, as Starlette's JSONResponse writes it (compact, no NaN, non-ASCII as is), with
    every `RawJSON` inside (at any depth) written as its text. TypeError for a value JSON cannot hold, ValueError
    for a float that is not finite. Written by msgspec where it writes the same bytes (jsontext.encode)."""
    return encode(value, _spliced)


# ---------------------------------------------------------------------- an event as shown
@functools.lru_cache(maxsize=256)
def _wanted(select: tuple[str, ...]) -> frozenset[str]:
    """The properties a `$select` shows: those named, and the id and etag always."""
    return frozenset(select).union(_ALWAYS_SHOWN)


_TAG = re.compile(r"<[^>]+>")


def preview_of(content: str) -> str:
    """`bodyPreview` of a stored HTML body: its text without tags, unescaped, the first 255 characters, stripped."""
    return html.unescape(_TAG.sub("", content))[:255].strip()


class _Shown:
    """One stored event as Graph shows it in one zone: the stored values it was made from (`values`), every
    property once asked for (`props`, `bodyPreview` last, sharing the store's values: only ever encoded or
    copied, never handed out), the preview once asked for, and the JSON text per `$select` (None: every property)."""

    __slots__ = ("event", "values", "zone", "props", "preview", "texts", "expanded")

    def __init__(self, event: dict, values: tuple, zone: str | None) -> None:
        self.event, self.values, self.zone = event, values, zone
        self.props: dict | None = None
        self.preview: str | None = None
        self.texts: dict[tuple[str, ...] | None, RawJSON] = {}
        # (select, expanded ids) -> (the ids of the extended properties it was made from, in order; their values; the text)
        self.expanded: dict[tuple, tuple[tuple, tuple, RawJSON]] = {}

    def _moment(self, name: str) -> dict:
        """`start` or `end` in the zone (UTC without one); an all-day event's as stored."""
        event, zone = self.event, self.zone
        if event["isAllDay"]:
            return {"dateTime": fmt_graph_dt(parse_graph_dt(event[name]["dateTime"])), "timeZone": zone or "UTC"}
        utc_value = event["_start_utc"] if name == "start" else event["_end_utc"]
        return _moment_in(utc_value, utc_value.tzinfo, zone)

    def _all(self) -> dict:
        """Every property, `bodyPreview` last: what `properties(None)` shows. The stored event copied in C and its
        private values (`_PRIVATE`, the `_` names a stored event has) taken out, where no other `_` name is left: a
        loop over every stored value was a tenth of a create's answer (issue 25)."""
        if self.props is None:
            event = self.event
            props = event.copy()
            for name in _PRIVATE:
                props.pop(name, None)
            if not _PUBLIC.issuperset(props):  # a name starting with "_" besides those: every name looked at
                props = {k: v for k, v in event.items() if k[0] != "_"}
            if event["isAllDay"]:
                props["start"], props["end"] = self._moment("start"), self._moment("end")
            else:  # `_moment`'s, its calls and look-ups saved
                zone, start, end = self.zone, event["_start_utc"], event["_end_utc"]
                props["start"] = _moment_in(start, start.tzinfo, zone)
                props["end"] = _moment_in(end, end.tzinfo, zone)
            props["bodyPreview"] = self._preview()
            self.props = props
        return self.props

    def _preview(self) -> str:
        if self.preview is None:
            known = self.event.get("_preview")
            self.preview = known if known is not None else preview_of(self.event["body"]["content"])
        return self.preview

    def properties(self, select: tuple[str, ...] | None) -> dict:
        """The properties `select` shows (None: all), in the stored order, `bodyPreview` last; the store's values."""
        if select is None:
            return self._all()  # `bodyPreview` is last in it already
        if self.props is not None:
            wanted = _wanted(select)
            shown = {k: v for k, v in self.props.items() if k in wanted}
        else:  # only the properties shown: the zone's times only if asked for
            wanted = _wanted(select)
            shown = {k: v for k, v in self.event.items() if k in wanted and k[0] != "_"}
            for name in ("start", "end"):
                if name in shown:
                    shown[name] = self._moment(name)
        if "bodyPreview" in wanted:  # last, as in `_all` (a stored event has no property of that name)
            shown = {**shown, "bodyPreview": self._preview()}
        return shown

    def text(self, select: tuple[str, ...] | None) -> RawJSON:
        """The event's JSON with the properties `select` shows (None: all), one RawJSON handed to every answer
        (only ever spliced in or decoded, never changed)."""
        raw = self.texts.get(select)
        if raw is None:
            raw = self.texts[_shared(select)] = RawJSON(_json_text(self.properties(select)))
        return raw

    def expanded_text(self, select: tuple[str, ...] | None, expand_ids: frozenset[str]) -> RawJSON:
        """`text(select)` with the extended properties of `expand_ids` last, as Graph expands them. Made again
        whenever the event's extended properties differ from those it was made from (a PATCH changes them in place):
        other ids, another order, or a value that is not the same object. Checked in C (`map`), not by a generator
        per property: the check of every event of a window read was a tenth of a rerun's mailbox read (issue 25)."""
        key = (select, expand_ids)
        props = self.event["_props"]
        known = self.expanded.get(key)
        if known is not None:
            ids, values, raw = known
            if len(props) == len(ids) and all(map(operator.is_, values, props.values())) and ids == tuple(props):
                return raw
        shown = self.properties(select)
        shown = {**shown, "singleValueExtendedProperties": expanded_properties(props, expand_ids)}
        raw = RawJSON(_json_text(shown))
        self.expanded[_shared(key)] = (_shared(tuple(props)), tuple(props.values()), raw)
        return raw


@functools.lru_cache(maxsize=65536)
def _moment_in(value: dt.datetime, tzinfo: dt.tzinfo | None, zone: str | None) -> dict:
    """Graph's dateTimeTimeZone of `value` in `zone` (None: UTC, the time as it is), made once per (time, zone) and
    shared by every event shown at that time, as the store's own values are (only ever encoded or copied, never
    changed): a sync's events share their start and end times, and converting and writing each event's again was
    a fifth of the first read of an event in a zone (issue 25). `tzinfo` is `value`'s: times in other zones can
    compare equal."""
    return {"dateTime": fmt_graph_dt(value.astimezone(zone_of(zone)) if zone else value), "timeZone": zone or "UTC"}


_SHARED: dict = {}


def _shared(value: tuple | None) -> tuple | None:
    """One object for equal keys (`$select`, expanded ids): every event a read shows keeps the same key objects,
    not a copy each that the garbage collector would visit for as long as the event is remembered (a full
    collection of a 200 x 100 emulator's heap took 0.3 s, issue 25)."""
    if len(_SHARED) >= 4096:
        _SHARED.clear()
    return _SHARED.setdefault(value, value)


# (id of a stored event, zone) -> how it is shown there; see event_json
_SHOWN: dict[tuple[int, str | None], _Shown] = {}
_SHOWN_MAX = 250_000


def _shown_in(event: dict, zone: str | None) -> _Shown:
    """How the event is shown in `zone`, remembered while every stored value is the same object. The values are
    compared where they are (`event.values()`), not copied into a tuple first: the check of every event of a
    window read was a sixth of a rerun's mailbox read (issue 25), mostly reaching each value in memory."""
    key = (id(event), zone)
    shown = _SHOWN.get(key)
    if shown is not None and shown.event is event and len(shown.values) == len(event) \
            and all(map(operator.is_, shown.values, event.values())):
        return shown
    if len(_SHOWN) >= _SHOWN_MAX:
        _SHOWN.clear()
    shown = _SHOWN[key] = _Shown(event, tuple(event.values()), zone)
    return shown


def expanded_properties(props: dict, expand_ids: set[str] | frozenset[str]) -> list[dict]:
    """`singleValueExtendedProperties` as `$expand` shows them: those of `expand_ids`, in the stored order
    (props: id -> value, as the store keeps an event's or calendar's extended properties)."""
    return [{"id": pid, "value": value} for pid, value in props.items() if pid in expand_ids]


def event_shown(event: dict, select: list[str] | None, expand_ids: set[str] | frozenset[str] | None,
                zone: str | None) -> dict:
    """`event_json`'s answer as a dict to encode with the rest of an answer (`encode_json`): a new dict whose
    nested values are the store's (encode it, never change it). Pages splice `event_json`'s texts instead: with
    msgspec an event's text costs what its share of a page's encoding did, and every later read of the same
    `$select` (each rerun of a sync) uses it again (issue 25)."""
    shown = _shown_in(event, zone)
    out = dict(shown.properties(tuple(select) if select else None))
    if expand_ids is not None:
        out["singleValueExtendedProperties"] = expanded_properties(event["_props"], expand_ids)
    return out


def event_json(event: dict, select: list[str] | None, expand_ids: set[str] | None, zone: str | None) -> RawJSON:
    """A stored event as Graph answers it, as JSON text: `$select` (None: every property), `$expand` of extended
    properties (None: not expanded), times in `zone` (an `outlook.timezone` name; None: UTC).

    The text is remembered per (event, zone, `$select`) and used again while every stored value is the same
    object (the emulator replaces a value on a write, never changes one in place): the answer to a create is
    what a later read shows, `$select` only leaves properties out (rendering and encoding every event of a
    sync again per answer was most of the emulator's CPU, issue 25). An expanded answer is made again whenever
    the event's extended properties are not those (the same ids, in order, the same objects) it was made from."""
    shown = _shown_in(event, zone)
    chosen = tuple(select) if select else None
    if expand_ids is None:
        return shown.text(chosen)
    return shown.expanded_text(chosen, expand_ids if isinstance(expand_ids, frozenset) else frozenset(expand_ids))


def created_json(event: dict, zone: str | None) -> RawJSON:
    """`event_json(event, None, None, zone)` of an event just stored, made by the same code but not remembered: a
    create's answer is every property in UTC (the client's Prefer names no zone), which a sync's later reads (a
    `$select`, the mailbox's zone) do not ask for again; remembering it was a thirtieth of a create's CPU (issue 25)."""
    return RawJSON(_json_text(_Shown(event, (), zone)._all()))  # properties(None)


def render_event(event: dict, select: list[str] | None, expand_ids: set[str] | None, zone: str | None) -> dict:
    """`event_json`'s answer decoded: a new dict each call, sharing nothing with the store or other answers."""
    return event_json(event, select, expand_ids, zone).value()
