"""Shared read-backs (runners/read_backs.py): sent once every mailbox under way has asked or left, each mailbox
answered with its own events or its own error, never a wait for a mailbox that cannot start."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.runners.mailbox import Reading
from oh_outlook_provider.runners.read_backs import SharedReadBacks


def reading(mailbox: str) -> Reading:
    return Reading(f"/users/{mailbox}/events", {}, [], True, [], [])


class Store:
    """Answers each read-back with its mailbox's target (or an error for the mailboxes in `refuse`)."""

    def __init__(self, refuse=(), fail=False):
        self.calls: list[list[str]] = []
        self.refuse, self.fail = set(refuse), fail
        self.lock = threading.Lock()

    def read_backs(self, asked):
        with self.lock:
            self.calls.append([r.target for r, _ in asked])
        if self.fail:
            raise GraphError("POST /$batch failed with HTTP 502", 502)
        return [GraphError(f"{r.target}: 404", 404) if r.target in self.refuse else [r.target] for r, _ in asked]


def mailbox_run(shared: SharedReadBacks, mailbox: str, asks: bool, started: threading.Barrier | None = None,
                go: threading.Event | None = None):
    with shared.writing(mailbox):
        if started:
            started.wait(5)
        if go:
            assert go.wait(5)
        if asks:
            return shared.read_back(mailbox, reading(mailbox), ["created"])
        return None


def test_mailboxes_ask_as_their_writes_end_and_one_call_answers_them_all():
    store = Store()
    shared = SharedReadBacks(store)
    started, last = threading.Barrier(3), threading.Event()
    with ThreadPoolExecutor(3) as pool:
        early = [pool.submit(mailbox_run, shared, m, True, started) for m in ("a", "b")]
        late = pool.submit(mailbox_run, shared, "c", True, started, last)
        threading.Event().wait(0.2)
        assert store.calls == [] and not any(f.done() for f in early)  # waiting for c, still writing
        last.set()
        answers = [f.result(5) for f in [*early, late]]
    assert answers == [["/users/a/events"], ["/users/b/events"], ["/users/c/events"]]
    assert len(store.calls) == 1 and sorted(store.calls[0]) == ["/users/a/events", "/users/b/events", "/users/c/events"]


def test_a_mailbox_that_leaves_without_asking_lets_the_waiting_ones_go():
    store = Store()
    shared = SharedReadBacks(store)
    started, leave = threading.Barrier(2), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        asking = pool.submit(mailbox_run, shared, "a", True, started)
        leaving = pool.submit(mailbox_run, shared, "b", False, started, leave)
        threading.Event().wait(0.2)
        assert not asking.done()
        leave.set()
        assert asking.result(5) == ["/users/a/events"] and leaving.result(5) is None
    assert store.calls == [["/users/a/events"]]


def test_each_mailbox_gets_its_own_error_and_a_failed_call_reaches_every_mailbox_of_it():
    shared = SharedReadBacks(Store(refuse={"/users/b/events"}))
    started = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        a, b = (pool.submit(mailbox_run, shared, m, True, started) for m in ("a", "b"))
        assert a.result(5) == ["/users/a/events"]
        with pytest.raises(GraphError, match="404"):
            b.result(5)
    shared = SharedReadBacks(Store(fail=True))
    with pytest.raises(GraphError, match="502"):
        mailbox_run(shared, "a", True)


def test_with_more_mailboxes_than_workers_only_those_under_way_are_waited_for():
    store = Store()
    shared = SharedReadBacks(store)
    with ThreadPoolExecutor(2) as pool:  # 5 mailboxes, 2 at a time: a wait for one not started would never end
        answers = list(pool.map(lambda m: mailbox_run(shared, m, True), "abcde", timeout=10))
    assert answers == [[f"/users/{m}/events"] for m in "abcde"]
    assert sum(len(call) for call in store.calls) == 5


def test_until_every_mailbox_the_run_writes_has_started_nobody_waits():
    """With more mailboxes than workers a waiting mailbox would hold a worker a mailbox not yet started needs:
    while `expect` says more will come, each sends its own at once (review of issue 25's change)."""
    store = Store()
    shared = SharedReadBacks(store)
    shared.expect(3)
    started, finish = threading.Barrier(2), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        writing = pool.submit(mailbox_run, shared, "b", False, started, finish)
        asking = pool.submit(mailbox_run, shared, "a", True, started)
        assert asking.result(5) == ["/users/a/events"]  # b still writing, c not started: no wait
        finish.set()
        writing.result(5)
    assert store.calls == [["/users/a/events"]]


class Broken(Store):
    def __init__(self, how):
        super().__init__()
        self.how = how

    def read_backs(self, asked):
        if self.how == "short":
            return []
        raise SystemExit("stopped")


@pytest.mark.parametrize("how", ["short", "base exception"])
def test_a_store_that_answers_for_fewer_or_stops_leaves_no_mailbox_waiting(how):
    shared = SharedReadBacks(Broken(how))
    started = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(mailbox_run, shared, m, True, started) for m in "ab"]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(5))
            except (GraphError, SystemExit) as exc:
                outcomes.append(exc)
    assert len(outcomes) == 2 and all(isinstance(o, (GraphError, SystemExit)) for o in outcomes)
    assert any(isinstance(o, GraphError) for o in outcomes)  # the one that waited was answered


def test_a_failed_call_gives_each_mailbox_an_error_of_its_own():
    shared = SharedReadBacks(Store(fail=True))
    started = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(mailbox_run, shared, m, True, started) for m in "ab"]
        errors = [f.exception(5) for f in futures]
    assert all(isinstance(e, GraphError) and "502" in str(e) for e in errors) and errors[0] is not errors[1]


@pytest.mark.parametrize(("language", "words"), [("de", "Zurücklesen der angelegten Termine"), ("en", "read-back")])
def test_a_failed_read_back_is_told_in_the_admins_language(language, words):
    from oh_outlook_provider.i18n import speaking

    with speaking(language), pytest.raises(GraphError, match=words):
        mailbox_run(SharedReadBacks(Store(fail=True)), "a", True)
    with speaking(language), pytest.raises(GraphError, match=words):
        mailbox_run(SharedReadBacks(Broken("short")), "a", True)
