"""MailboxLimiter: at most `limit` slots per mailbox across threads, a call's slots taken at once."""

from __future__ import annotations

import threading
import time

import pytest

from oh_outlook_provider.hooks.limiter import MailboxLimiter


def test_limiter_never_exceeds_four_in_flight_across_threads():
    limiter = MailboxLimiter(4)
    in_flight = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    lock = threading.Lock()

    def worker(mailbox, slots):
        with limiter.hold({mailbox: slots}):
            with lock:
                in_flight[mailbox] += slots
                peak[mailbox] = max(peak[mailbox], in_flight[mailbox])
            time.sleep(0.002)
            with lock:
                in_flight[mailbox] -= slots

    threads = [threading.Thread(target=worker, args=("ab"[i % 2], 1 + i % 3)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak["a"] == 4 and peak["b"] <= 4
    assert max(limiter.peak.values()) == 4


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        MailboxLimiter(0)


def test_slots_are_released_when_the_call_raises():
    limiter = MailboxLimiter(2)
    with pytest.raises(RuntimeError), limiter.hold({"a": 2}):
        raise RuntimeError("boom")
    assert limiter._in_flight["a"] == 0
    with limiter.hold({"a": 2}):  # would block forever if the slots had leaked
        assert limiter.peak["a"] == 2


def test_a_call_wanting_more_than_the_limit_takes_the_whole_limit_not_a_deadlock():
    limiter = MailboxLimiter(4)
    with limiter.hold({"a": 20, "b": 0}):
        assert limiter._in_flight == {"a": 4} and limiter.peak["a"] == 4
    with limiter.hold({}):  # nothing to hold: passes straight through
        pass
    assert limiter._in_flight["a"] == 0


def test_a_call_waits_until_all_its_mailboxes_have_room():
    limiter = MailboxLimiter(2)
    entered = threading.Event()
    release = threading.Event()

    def other():
        with limiter.hold({"b": 1, "a": 1}):
            entered.set()

    with limiter.hold({"a": 2}):
        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.05)  # "b" has room, "a" does not: nothing taken yet
        assert limiter._in_flight["b"] == 0
        release.set()
    assert entered.wait(2)
    thread.join()
    assert limiter.peak == {"a": 2, "b": 1}
