"""Which window a run syncs: explicit bounds, else the run's data interval, else a rolling window."""

from __future__ import annotations

import datetime as dt

from oh_outlook_provider.sync.models import Window


def resolve_window(
    start: dt.datetime | None,
    end: dt.datetime | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    now: dt.datetime,
    past: dt.timedelta,
    future: dt.timedelta,
) -> Window:
    if start is not None and end is not None:
        return Window(start, end)
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        return Window(interval_start, interval_end)
    return Window(now - past, now + future)
