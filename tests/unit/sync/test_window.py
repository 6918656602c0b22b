"""Which window a run syncs: explicit bounds, else the data interval, else rolling."""

from __future__ import annotations

import datetime as dt

import pytest

from oh_outlook_provider.sync.window import resolve_window

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
WEEK, QUARTER = dt.timedelta(days=7), dt.timedelta(days=90)


def test_resolve_window_prefers_explicit_then_interval_then_rolling():
    a, b = NOW - dt.timedelta(days=1), NOW
    assert resolve_window(a, b, None, None, NOW, WEEK, QUARTER).start == a
    assert resolve_window(None, None, a, b, NOW, WEEK, QUARTER).end == b
    rolling = resolve_window(None, None, NOW, NOW, NOW, WEEK, QUARTER)  # zero-length interval (CronTrigger)
    assert (rolling.start, rolling.end) == (NOW - WEEK, NOW + QUARTER)


def test_explicit_bounds_win_over_the_interval():
    a, b = NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2)
    window = resolve_window(a, b, NOW - WEEK, NOW, NOW, WEEK, QUARTER)
    assert (window.start, window.end) == (a, b)


def test_half_an_explicit_window_falls_back_to_the_interval():
    a, b = NOW - WEEK, NOW
    window = resolve_window(NOW + dt.timedelta(days=3), None, a, b, NOW, WEEK, QUARTER)
    assert (window.start, window.end) == (a, b)


def test_an_explicit_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="not after start"):
        resolve_window(NOW, NOW - WEEK, None, None, NOW, WEEK, QUARTER)
