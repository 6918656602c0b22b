"""Our events in one mailbox, as Microsoft Graph keeps them: every query, header and batch id the sync sends.

The engine (`runners/calendar_sync.py`) decides the order of work; this store knows how to ask
Graph for it and returns data. Everything protocol-specific lives here, as in vdirsyncer's
storages: `$filter`/`$select`/`$expand` strings, the `Prefer` header, `$batch` ids, the calendar
tags that say where our events live, the read-back of what a run created, and the mailbox's
master category list. Requests go through the Graph client (`hooks/office365.Office365Hook`),
which owns retries, throttling and `$batch` shapes.

Sources: extended-property filters (learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get),
`Prefer: outlook.timezone` and `IdType="ImmutableId"` (learn.microsoft.com/graph/outlook-immutable-id),
JSON batching (learn.microsoft.com/graph/json-batching), outlookCategory
(learn.microsoft.com/graph/api/outlookuser-post-mastercategories).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol
from urllib.parse import quote

from oh_outlook_provider.exceptions import GraphError, MailboxAccessDeniedError, MailboxNotEnabledError
from oh_outlook_provider.graph import paths
from oh_outlook_provider.graph.timezones import graph_timezone
from oh_outlook_provider.i18n import carried
from oh_outlook_provider.sync import fingerprint
from oh_outlook_provider.sync.categories import missing
from oh_outlook_provider.sync.models import Window
from oh_outlook_provider.sync.plan import Action, Create, ExistingEvent
from oh_outlook_provider.sync.render import DesiredEvent
from oh_outlook_provider.sync.tags import HELD, HOLDS, KEY_PROP, SOURCE_PROP, EventKey, expand_tags, holds_prop, tag_filter

if TYPE_CHECKING:
    from oh_outlook_provider.hooks.graph_batch import BatchResponse

READ_SELECT = ",".join((*fingerprint.COMPARABLE, "changeKey"))
DUPLICATE_TRANSACTION = "ErrorDuplicateTransactionId"  # a create whose transactionId Exchange has seen
SHARED_CALL = 4  # sub-requests of several mailboxes in one call: Graph runs 4 of a batch at a time (row B5)


class RequestCounts(Protocol):
    """The client's request counts for the sync report (`hooks/http.RequestStats`)."""

    def as_dict(self) -> dict[str, int]: ...


class GraphClient(Protocol):
    """What the store and the engine need from Microsoft Graph; `hooks/office365.Office365Hook` is the real one.

    `batch` sends sub-requests (`{"id", "method", "url", "headers"?, "body"?}`; a body may be a function
    of no arguments, called when its call goes out) and answers each id
    with a `BatchResponse` (status, body); `page_after` follows a page's `@odata.nextLink`; `stats`
    counts the requests made, for the report.
    """

    stats: RequestCounts

    def batch(self, requests_: Iterable[dict]) -> Mapping[str, BatchResponse]: ...

    def batch_error(self, item: dict, response: BatchResponse) -> GraphError: ...

    def page_after(self, page: dict, headers: dict | None = None) -> Iterator[dict]: ...

    def ensure_calendar(self, user_id: str, name: str) -> str: ...

    def is_default_calendar(self, user_id: str, calendar_id: str) -> bool: ...

    def patch(self, path: str, body: Any, headers: dict | None = None) -> Any: ...


class Reading(NamedTuple):
    """One mailbox as read before planning."""

    target: str  # the events collection of the target calendar
    headers: dict[str, str]
    existing: list[ExistingEvent]  # ours in the target calendar's window
    any_ours: bool  # the target calendar holds events of ours somewhere (not only in this window)
    strays: list[ExistingEvent]  # ours in other calendars of the mailbox
    categories: list[dict] | None  # the master category list; None: not readable (no MailboxSettings permission)


Outcome = Literal["done", "gone", "reused", "refused", "failed"]


@dataclass(frozen=True)
class Written:
    """What Graph answered to one action: `done`; `gone` (404 for an update or delete: removed
    meanwhile); `reused` (a create whose transactionId Exchange has seen); `refused` (a 4xx about
    this event alone); `failed` (anything else: 401/403/429/5xx after the client's retries)."""

    action: Action
    outcome: Outcome
    error: GraphError | None = None


@dataclass(frozen=True)
class CategoriesAdded:
    """The answer to adding categories: how many were created, whether the permission is missing
    (403: MailboxSettings.ReadWrite not granted), and the names still missing after a read-back."""

    created: int
    forbidden: bool
    still_missing: tuple[str, ...] = ()


class MailboxStore:
    """Our events in the mailboxes of one openHandwerk account (`source`), read and written through Graph.

    `zone`: the IANA zone all-day events are read in; `calendar_name`: the target calendar (None:
    each user's default calendar, created when missing); `page_size`: events per page (Graph's
    `$top`, at most 1000 for events); `dry_run`: read only, never tag a calendar.
    """

    def __init__(self, graph: GraphClient, source: str, zone: str, calendar_name: str | None = None,
                 page_size: int = 500, dry_run: bool = False, categories: bool = True):
        self.graph = graph
        self.source = source
        self.headers = {"Prefer": f'outlook.timezone="{graph_timezone(zone)}", IdType="ImmutableId"'}
        self.calendar_name = calendar_name
        self.page_size = page_size
        self.dry_run = dry_run
        self.categories = categories

    # ------------------------------------------------------------------ queries
    def _query(self, filter_: str, top: int, select: str = READ_SELECT, expand: tuple[str, ...] | None = None) -> str:
        """A query of our events: `expand` names the tags to return (all three unless said)."""
        params = {"$filter": filter_, "$select": select, "$top": str(top)}
        if expand is None:
            params["$expand"] = expand_tags()
        elif expand:
            params["$expand"] = expand_tags(expand)
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    @property
    def _ours(self) -> str:
        """$filter clause: events tagged with our source."""
        return tag_filter(SOURCE_PROP, self.source)

    def _in_range(self, start: dt.datetime, end: dt.datetime) -> str:
        return f"{self._ours} and start/dateTime ge '{_utc(start)}' and start/dateTime lt '{_utc(end)}'"

    def _get(self, request_id: str, url: str) -> dict:
        return {"id": request_id, "method": "GET", "url": url, "headers": self.headers}

    def _our_events(self, events: Iterable[dict], elsewhere: bool = False) -> list[ExistingEvent]:
        """Graph's events as ExistingEvents, ours only (a second line of defence behind the filter)."""
        return [e for e in (ExistingEvent.from_graph(x, elsewhere) for x in events) if e.source == self.source]

    def _pages(self, requests: list[dict], probes: frozenset[str] = frozenset(),
               optional: frozenset[str] = frozenset()) -> dict[str, list[dict] | None]:
        """GETs in one `$batch`, each followed through all its pages (a probe: its first page only);
        an optional one the app may not read (403) gives None instead of failing the mailbox."""
        return self._followed(requests, self.graph.batch(requests), probes, optional)

    def _followed(self, requests: list[dict], responses: Mapping[str, BatchResponse],
                  probes: frozenset[str] = frozenset(), optional: frozenset[str] = frozenset()
                  ) -> dict[str, list[dict] | None]:
        """`_pages` of answers already there (a call several mailboxes shared: `read_backs`)."""
        out: dict[str, list[dict] | None] = {}
        for item in requests:
            response = responses[item["id"]]
            if not response.ok and item["id"] in optional and response.status == 403:
                out[item["id"]] = None
                continue
            if not response.ok:
                raise self.graph.batch_error(item, response)
            page = response.body or {}
            rest = () if item["id"] in probes else self.graph.page_after(page, headers=item.get("headers"))
            out[item["id"]] = [*page.get("value", []), *rest]
        return out

    # ------------------------------------------------------------------ reads
    def _target(self, mailbox: str) -> str | None:
        """Id of the target calendar, None for the default calendar."""
        if not self.calendar_name:
            return None
        calendar_id = self.graph.ensure_calendar(mailbox, self.calendar_name)
        return None if self.graph.is_default_calendar(mailbox, calendar_id) else calendar_id

    def read(self, mailbox: str, window: Window) -> Reading:
        """Our events in the window, and whether and where else the mailbox holds ours, in one `$batch`
        (plus one for the calendars a `calendar_name` change left events in). Raises GraphError."""
        target_id = self._target(mailbox)
        target = paths.events(mailbox, target_id)
        ours = self._ours
        requests = [
            self._get("window", f"{target}?{self._query(self._in_range(window.start, window.end), self.page_size)}"),
            self._get("probe", f"{target}?{self._query(ours, 1, 'id', ())}"),
            self._get("holders", f"{paths.calendars(mailbox)}?"
                                 f"{self._query(tag_filter(holds_prop(self.source), HOLDS), 100, 'id,name', ())}"),
        ]
        if target_id is not None:  # events of ours written before calendar_name was set
            requests.append(self._get("default", f"{paths.events(mailbox)}?{self._query(ours, 1, 'id', ())}"))
        if self.categories:  # in the same round trip: colours cost no extra request
            requests.append({"id": "categories", "method": "GET", "url": paths.master_categories(mailbox)})
        pages = self._pages(requests, probes=frozenset({"probe", "default"}), optional=frozenset({"categories"}))
        existing = self._our_events(pages["window"])
        holders = {c["id"] for c in pages["holders"]}
        elsewhere: list[str | None] = sorted(holders - {target_id})
        if pages.get("default"):
            elsewhere.append(None)
        strays = self._strays(mailbox, elsewhere) if elsewhere else []
        if target_id is not None and target_id not in holders and not self.dry_run:
            self._tag_calendar(mailbox, target_id, HOLDS)
        return Reading(target, self.headers, existing, bool(pages["probe"]), strays, pages.get("categories"))

    def _strays(self, mailbox: str, calendars: list[str | None]) -> list[ExistingEvent]:
        """All our events in calendars other than the target; a tagged calendar found empty is untagged."""
        requests = [self._get(f"s{i}", f"{paths.events(mailbox, cal)}?{self._query(self._ours, self.page_size)}")
                    for i, cal in enumerate(calendars)]
        pages = self._pages(requests)
        strays = []
        for i, cal in enumerate(calendars):
            found = self._our_events(pages[f"s{i}"], elsewhere=True)
            if not found and cal is not None and not self.dry_run:
                self._tag_calendar(mailbox, cal, HELD)  # emptied by an earlier run: stop reading it
            strays.extend(found)
        return strays

    def _tag_calendar(self, mailbox: str, calendar_id: str, value: str) -> None:
        self.graph.patch(paths.calendar(mailbox, calendar_id),
                         {"singleValueExtendedProperties": [{"id": holds_prop(self.source), "value": value}]})

    def find(self, reading: Reading, keys: Sequence[EventKey]) -> list[ExistingEvent]:
        """Our events with these keys anywhere in the target calendar (moved in from outside the
        window), found by their key tag: one sub-request per key, in one `$batch`."""
        requests = [self._get(f"k{i}", f"{reading.target}?{self._query(tag_filter(KEY_PROP, str(key)), 10)}")
                    for i, key in enumerate(keys)]
        return [e for events in self._pages(requests).values() for e in self._our_events(events)]

    def _read_back_request(self, reading: Reading, created: Sequence[DesiredEvent], request_id: str) -> dict:
        start = min(d.start_utc for d in created)
        end = max(d.start_utc for d in created) + dt.timedelta(seconds=1)
        query = self._query(self._in_range(start, end), self.page_size, "id", (SOURCE_PROP, KEY_PROP))
        return self._get(request_id, f"{reading.target}?{query}")

    def read_back(self, reading: Reading, created: Sequence[DesiredEvent]) -> list[ExistingEvent]:
        """Our events (ids and tags only) starting where this run created some: an overlapping run
        may have created the same keys meanwhile. Outlook is the store every worker shares."""
        return self._our_events(self._pages([self._read_back_request(reading, created, "readback")])["readback"])

    def read_backs(self, asked: Sequence[tuple[Reading, Sequence[DesiredEvent]]], workers: int = 32
                   ) -> list[list[ExistingEvent] | Exception]:
        """`read_back` of several mailboxes: one GET each, 4 mailboxes' in a call, the calls at once (Graph runs at
        most 4 sub-requests of a batch at a time whatever their mailboxes, fidelity row B5, so a call of 20
        would take 5 round trips), further pages in `workers` threads. Each answer is the mailbox's events or
        the error that stopped it; when a shared call fails as a whole, its mailboxes are read on their own."""
        requests = [self._read_back_request(reading, created, f"r{i}.readback") for i, (reading, created)
                    in enumerate(asked)]
        calls = [list(range(i, min(i + SHARED_CALL, len(asked)))) for i in range(0, len(asked), SHARED_CALL)]
        with ThreadPoolExecutor(max(1, min(workers, len(requests))), "read-back", **carried()) as pool:
            answered = list(pool.map(lambda call: _outcome(self.graph.batch, [requests[i] for i in call]), calls))
            responses = {k: v for answer in answered if not isinstance(answer, Exception) for k, v in answer.items()}

            def answer(i: int) -> list[ExistingEvent] | Exception:
                if requests[i]["id"] not in responses:  # its call failed as a whole: this mailbox's on its own
                    return _outcome(self.read_back, *asked[i])
                return _outcome(lambda: self._our_events(
                    self._followed([requests[i]], responses)[requests[i]["id"]]))

            return list(pool.map(answer, range(len(asked))))

    # ------------------------------------------------------------------ writes
    def write(self, mailbox: str, reading: Reading, actions: Sequence[Action], salt: str) -> list[Written]:
        """Creates, updates and deletes in one `$batch`, each answered by its outcome (see Written).

        `salt` goes into every create's transactionId (retries of a run share it). Raises
        MailboxNotEnabledError / MailboxAccessDeniedError: the mailbox as a whole cannot be written.
        """
        items = [({"id": f"a{i}", **action.request(mailbox, reading.target, salt)}, action)
                 for i, action in enumerate(actions)]
        responses = self.graph.batch([item for item, _ in items]) if items else {}
        written = []
        for item, action in items:
            response = responses[item["id"]]
            if response.ok:
                written.append(Written(action, "done"))
                continue
            if response.status == 404 and not isinstance(action, Create):
                written.append(Written(action, "gone"))  # deleted meanwhile (in Outlook, or an overlapping run)
                continue
            error = self.graph.batch_error(item, response)
            if isinstance(error, (MailboxNotEnabledError, MailboxAccessDeniedError)):
                raise error
            if isinstance(action, Create) and error.code == DUPLICATE_TRANSACTION:
                written.append(Written(action, "reused", error))
            elif 400 <= response.status < 500 and response.status not in (401, 403, 429) and action.key is not None:
                written.append(Written(action, "refused", error))
            else:
                written.append(Written(action, "failed", error))
        return written

    def add_categories(self, mailbox: str, bodies: Sequence[dict], colors: Mapping[str, str]) -> CategoriesAdded:
        """POST outlookCategory bodies (`{"displayName", "color"}`) to the master list in one `$batch`.

        A refused POST (409 or 400: Graph does not say which) most likely met a category an
        overlapping run made meanwhile: the list is read back once and what is still missing named.
        """
        requests = [{"id": f"c{i}", "method": "POST", "url": paths.master_categories(mailbox), "body": body}
                    for i, body in enumerate(bodies)]
        responses = self.graph.batch(requests)
        created, unsure = 0, []
        for item in requests:
            response = responses[item["id"]]
            if response.ok:
                created += 1
            elif response.status == 403:
                return CategoriesAdded(created, forbidden=True)
            else:
                unsure.append(item["body"]["displayName"])
        if not unsure:
            return CategoriesAdded(created, forbidden=False)
        listed = self._pages([{"id": "categories", "method": "GET", "url": paths.master_categories(mailbox)}],
                             optional=frozenset({"categories"}))["categories"] or []
        still = tuple(b["displayName"] for b in missing(listed, unsure, colors))
        return CategoriesAdded(created, forbidden=False, still_missing=still)


def _outcome(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)`, or the exception it raised (a mailbox's error, kept for that mailbox alone)."""
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, which reports it per mailbox
        return exc


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat()  # years < 1000 padded
