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
    state = RetryPolicy(max_attempts=10, wait_budget=5, retry_after_jitter=0, sleep=sleeps.append).start()
    assert state.wait(3) and not state.wait(3)
    assert sleeps == [3]


def test_server_retry_after_is_never_shortened_capped_and_jittered_above():
    policy = RetryPolicy(retry_after_max=10, retry_after_jitter=0.1)
    waits = [policy.server_wait(2) for _ in range(200)]
    assert min(waits) >= 2 and max(waits) <= 2.2 and len(set(waits)) > 1  # spread, so clients do not return at once
    assert 10 <= policy.server_wait(3600) <= 11  # a runaway header does not stall a run for an hour


def test_idempotent_methods_and_creates_with_transaction_id():
    policy = RetryPolicy()
    assert policy.is_idempotent("get") and policy.is_idempotent("PATCH") and policy.is_idempotent("DELETE")
    assert policy.is_idempotent("POST", {"transactionId": "t"})
    assert not policy.is_idempotent("POST", {"subject": "x"}) and not policy.is_idempotent("POST")


def test_again_counts_attempts_without_sleeping():
    sleeps = []
    state = RetryPolicy(max_attempts=3, sleep=sleeps.append).start()
    assert state.again() and state.again() and not state.again()
    assert sleeps == []
