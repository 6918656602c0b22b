"""Operator arguments as DAG authors pass them: XComArgs, rendered templates (text), timedeltas."""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from oh_outlook_provider.errors import ConfigurationError
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
