"""Retry-After parsing and the retry budget."""

from __future__ import annotations

import email.utils
import time

from oh_outlook_provider.hooks.retry import RetryPolicy, retry_after_seconds


def test_retry_after_forms():
    assert retry_after_seconds({"Retry-After": "2.128"}) == 2.128
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({}) is None and retry_after_seconds({"Retry-After": "soon"}) is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds({"Retry-After": future}) <= 31


def test_wait_budget_stops_retries():
    sleeps = []
    state = RetryPolicy(max_attempts=10, wait_budget=5, sleep=sleeps.append).start()
    assert state.wait(3) and not state.wait(3)
    assert sleeps == [3]
