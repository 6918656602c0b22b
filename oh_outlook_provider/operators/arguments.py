"""Operator arguments as DAG authors pass them: XComArgs, rendered templates (text), timedeltas."""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.sync.models import Window


def mapping_of(value: Any) -> dict[str, dict]:
    """Accept the mapping operator's result, its `mapping` part, or either as rendered text."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ConfigurationError("mapping is neither JSON nor a dict; pass the mapping task's output") from None
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"mapping must be a dict, got {type(value).__name__}")
    if "mapping" in value and isinstance(value["mapping"], Mapping):
        value = value["mapping"]
    return {str(k): dict(v) for k, v in value.items() if isinstance(v, Mapping)}


def moment(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    import pendulum

    parsed = pendulum.parse(str(value))
    if not isinstance(parsed, dt.datetime):
        parsed = pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
    return parsed


def days(value: Any, what: str = "days") -> dt.timedelta:
    """A timedelta, or a number of days (templated params render as text); never negative, which
    would silently move the window instead of widening it."""
    if isinstance(value, dt.timedelta):
        span = value
    else:
        try:
            span = dt.timedelta(days=float(value))
        except (TypeError, ValueError):
            raise ConfigurationError(f"{what} '{value}' is neither a timedelta nor a number of days") from None
    if span < dt.timedelta(0):
        raise ConfigurationError(f"{what} is {value}: give a number of days of 0 or more.")
    return span


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def window_of(context: Mapping[str, Any], start: Any, end: Any, past: Any, future: Any) -> Window:
    """An explicit window, else the run's data interval, else now - past .. now + future."""
    from oh_outlook_provider.sync.window import resolve_window

    return resolve_window(
        moment(start), moment(end), moment(context.get("data_interval_start")),
        moment(context.get("data_interval_end")), dt.datetime.now(dt.UTC),
        days(past, "past (days back)"), days(future, "future (days ahead)"),
    )


def minutes(moment_: dt.datetime, zone: Any) -> str:
    """A window bound as the business reads it: local time, to the minute."""
    return moment_.astimezone(zone).strftime("%d.%m.%Y %H:%M")


def text_map(given: Any, what: str) -> dict[str, str]:
    """A dict of text -> text, or its JSON (templates render as text); None or "" = {}."""
    if isinstance(given, str):
        try:
            given = json.loads(given) if given.strip() else {}
        except ValueError as exc:
            raise ConfigurationError(f"{what} map is not valid JSON: {exc}") from None
    if given is not None and not isinstance(given, Mapping):
        raise ConfigurationError(f"{what} map must be a dict of category -> value, got {type(given).__name__}")
    return {str(k): str(v) for k, v in (given or {}).items()}


def kind_map(given: Any, defaults: Mapping[str, str], enum: str, what: str) -> dict[str, str]:
    """A category -> showAs/sensitivity/colour map: `defaults` overridden by `given` (a dict or JSON text),
    every value a member of Graph's `enum` in Microsoft's schema (`unknown` is Graph's answer, never written)."""
    from oh_outlook_provider.graph.schema import enum_members
    from oh_outlook_provider.sync.event_kinds import casefolded

    given = text_map(given, what)
    allowed = tuple(m for m in enum_members(enum) if m != "unknown")
    for category, value in given.items():
        if value not in allowed:
            raise ConfigurationError(f"{what} for category '{category}' is '{value}'; Outlook knows "
                                     f"{', '.join(allowed)}")
    return casefolded(defaults, given)


def names_of(value: Any, what: str) -> list[str] | None:
    """A list of categories or statuses: a list, a JSON list, or "a, b" (templates render as text).
    None or "" = no list; "[]" = an empty one (an empty include list takes nothing)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigurationError(f"{what} is not a valid JSON list: {exc}") from None
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{what} must be a list of names or a comma-separated text, got {value!r:.60}")
    return [v.strip() for v in value if v.strip()]


def map_link(value: Any) -> str | None:
    """The route link template: an https URL with "{query}" where the address goes; "" or None: no link."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        sample = text.format(query="Hauptstra%C3%9Fe+5")
    except (KeyError, IndexError, ValueError):
        raise ConfigurationError(f"map_url '{text[:80]}' may hold only the placeholder {{query}}") from None
    if "{query}" not in text or not sample.startswith("https://"):
        raise ConfigurationError(f"map_url '{text[:80]}' must be an https:// URL with {{query}} where the address "
                                 "goes, e.g. https://www.openstreetmap.org/search?query={query}")
    return text
