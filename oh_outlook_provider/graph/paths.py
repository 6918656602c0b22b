"""Graph paths built from ids: each id is checked against what Graph issues and encoded as one segment.

An id pasted raw into a path is an injection: `<id>/../<other id>` addresses another mailbox
(clients normalise dot segments before sending), `#` cuts the rest of the path off, `?` starts a
query. So a user id must be an Entra object id (a GUID: the mapping stores nothing else), an
event or calendar id must use the alphabet of Exchange ids (base64, url-safe or not), and both
are percent-encoded whole, `/` included.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from oh_outlook_provider.exceptions import GraphIdError

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_EXCHANGE_ID = re.compile(r"[A-Za-z0-9+/=_-]{1,1024}")


def segment(value: str) -> str:
    """One path segment, every reserved character encoded."""
    return quote(value, safe="")


def user_id(value: str) -> str:
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise GraphIdError(f"user id {str(value)[:60]!r} is not an Entra object id (a GUID); "
                           "rerun the user mapping, which stores the id Graph returns.")
    return value


def item_id(value: str, what: str = "event") -> str:
    if not isinstance(value, str) or not _EXCHANGE_ID.fullmatch(value):
        raise GraphIdError(f"{what} id {str(value)[:60]!r} is not an id Exchange issues.")
    return value


def user(uid: str) -> str:
    return f"/users/{segment(user_id(uid))}"


def events(uid: str, calendar_id: str | None = None) -> str:
    """The events of one calendar, the default one without an id.

    `/users/{id}/calendar/events` names the default calendar on every Graph page; whether the
    shorter `/users/{id}/events` lists only it or the whole mailbox is not said the same way
    everywhere, so a read never depends on it.
    """
    if calendar_id is None:
        return f"{default_calendar(uid)}/events"
    return f"{calendar(uid, calendar_id)}/events"


def event(uid: str, event_id: str) -> str:
    """One event, wherever in the mailbox it is (ids are mailbox-wide)."""
    return f"{user(uid)}/events/{segment(item_id(event_id))}"


def calendars(uid: str) -> str:
    return f"{user(uid)}/calendars"


def calendar(uid: str, calendar_id: str) -> str:
    return f"{calendars(uid)}/{segment(item_id(calendar_id, 'calendar'))}"


def default_calendar(uid: str) -> str:
    return f"{user(uid)}/calendar"


def application(app_id: str) -> str:
    """The app registration by its application (client) id, Graph's alternate key (application-get page)."""
    if not isinstance(app_id, str) or not _GUID.fullmatch(app_id):
        raise GraphIdError(f"application id {str(app_id)[:60]!r} is not a GUID; check the connection's "
                           "Application (client) ID.")
    return f"/applications(appId='{app_id}')"


def master_categories(uid: str) -> str:
    """The mailbox's category list (MailboxSettings.Read to list, .ReadWrite to add)."""
    return f"{user(uid)}/outlook/masterCategories"
