"""Graph's query options as the emulator reads them: our subset of `$filter`, `$expand` of extended properties,
`$top`, and pages with their nextLink (`$skip` for events, an opaque `$skiptoken` elsewhere).

Plain functions over a request's query (name -> value); each rule names its row in docs/sandbox-fidelity.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import operator
import re
from urllib.parse import urlencode

from devtools.sandbox.answers import GraphFault
from devtools.sandbox.events import parse_graph_dt

ANY_RE = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(\w+)\s*:\s*\1/id eq '((?:[^']|'')*)'\s+and\s+\1/value eq "
    r"'((?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
CMP_RE = re.compile(r"^(start|end)/dateTime (ge|gt|le|lt|eq) '([^']*)'$", re.IGNORECASE)
EXPAND_RE = re.compile(r"^singleValueExtendedProperties\(\$filter=(.+)\)$", re.IGNORECASE)
EXPAND_ID_RE = re.compile(r"^id eq '((?:[^']|'')*)'$", re.IGNORECASE)
PAGE_CAP = 1000  # calendarView pages hold at most this many (fidelity row Q3)


def _unq(text: str) -> str:
    return text.replace("''", "'")


def parse_filter(text: str) -> list:
    """Our subset of $filter: tag lambdas and start/end comparisons joined by 'and'. Read once per text (a
    mailbox's reads repeat theirs): a new list of the same clauses each call; GraphFault for a filter refused."""
    return list(_parsed_filter(text))


@functools.lru_cache(maxsize=1024)
def _parsed_filter(text: str) -> tuple:
    """`parse_filter`'s clauses, each a tuple of str and datetime (nothing in them can change)."""
    clauses: list = []
    rest = text
    for match in ANY_RE.finditer(text):
        clauses.append(("tag", _unq(match.group(2)), _unq(match.group(3))))
        rest = rest.replace(match.group(0), "")
    for part in [p.strip() for p in re.split(r"(?:^|\s+)and(?:\s+|$)", rest.strip(), flags=re.IGNORECASE)]:
        if not part:
            continue
        match = CMP_RE.match(part)
        if not match:
            raise GraphFault(400, "ErrorInvalidUrlQueryFilter", f"The query filter contains one or more invalid "
                             f"nodes: '{part}'.")
        try:
            value = parse_graph_dt(match.group(3)).replace(tzinfo=dt.UTC)
        except ValueError:
            raise GraphFault(400, "ErrorInvalidUrlQueryFilter", f"Invalid date '{match.group(3)}'.") from None
        clauses.append(("cmp", match.group(1).lower(), match.group(2).lower(), value))
    return tuple(clauses)


_COMPARE = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt, "eq": operator.eq}


def matches(event: dict, clauses: list) -> bool:
    """Does a stored event (or calendar) pass every clause of `parse_filter`? Every event of a mailbox is tested
    per read: a value spelled exactly as asked passes without folding either (equal texts fold equal)."""
    for clause in clauses:
        if clause[0] == "tag":  # Exchange compares string values case-insensitively (fidelity row Q4)
            props = event.get("_props")
            value = props.get(clause[1]) if props else None
            if value is None:
                return False
            if value != clause[2]:
                text = value if type(value) is str else str(value)
                if text.casefold() != clause[2].casefold():
                    return False
        else:
            _, field, op, value = clause
            if not _COMPARE[op](event["_start_utc"] if field == "start" else event["_end_utc"], value):
                return False
    return True


@functools.lru_cache(maxsize=1024)
def parse_expand(text: str | None) -> frozenset[str] | None:
    """The ids `$expand=singleValueExtendedProperties($filter=id eq '...' or ...)` names (None without `$expand`),
    read once per text; GraphFault for an expand refused."""
    if not text:
        return None
    match = EXPAND_RE.match(text.strip())
    if not match:
        raise GraphFault(400, "BadRequest", f"Parsing OData Select and Expand failed: '{text}'.")
    ids = set()
    for part in re.split(r"\s+or\s+", match.group(1).strip(), flags=re.IGNORECASE):
        id_match = EXPAND_ID_RE.match(part.strip())
        if not id_match:
            raise GraphFault(400, "BadRequest", f"Unsupported expand filter '{part}'.")
        ids.add(_unq(id_match.group(1)))
    return frozenset(ids)


def _top(query: dict, default: int, maximum: int | None) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphFault(400, "BadRequest", f"Invalid $top value '{raw}'.") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise GraphFault(400, "BadRequest", f"Invalid page size specified: '{value}'. Must be between 1 and {maximum}.")
    return min(value, PAGE_CAP)


def _skip_digest(offset: int | str) -> str:
    return hashlib.sha256(f"skip:{offset}".encode()).hexdigest()[:8]


def _skiptoken(offset: int) -> str:
    """Opaque to clients, as Graph's are (fidelity row P1)."""
    return base64.urlsafe_b64encode(f"{_skip_digest(offset)}:{offset}".encode()).decode().rstrip("=")


def _offset(query: dict, opaque: bool) -> int:
    if not opaque:
        return int(query.get("$skip") or 0)
    token = query.get("$skiptoken")
    if not token:
        return 0
    try:
        digest, offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if digest == _skip_digest(offset):
            return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise GraphFault(400, "BadRequest", "The $skiptoken is invalid.")


def page_of(items: list, query: dict, base_url: str, path: str, default: int, maximum: int | None, show=None,
          opaque: bool = False) -> dict:
    """One page of `items` with a nextLink (`$skip` for events, an opaque `$skiptoken` elsewhere)."""
    top = _top(query, default, maximum)
    skip = _offset(query, opaque)
    page = items[skip : skip + top]
    if show is not None:
        page = [show(item) for item in page]
    body: dict = {"@odata.context": f"{base_url}/$metadata#{path.strip('/')}", "value": page}
    if skip + top < len(items):
        rest = {k: v for k, v in query.items() if k not in ("$skip", "$skiptoken")}
        body["@odata.nextLink"] = f"{base_url}{path}?" + urlencode(
            rest | ({"$skiptoken": _skiptoken(skip + top)} if opaque else {"$skip": str(skip + top)}))
    return body
