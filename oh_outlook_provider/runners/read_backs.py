"""The read-backs of one run, shared: each mailbox asks as its writes end, and one `$batch` answers all of them.

A read-back (`MailboxStore.read_back`) follows a mailbox's creates so that overlapping runs leave no duplicate
behind. Asked mailbox by mailbox, it is one HTTP request per mailbox. Here a mailbox that asks waits until every
mailbox still writing has asked too (or left without asking); then the last to ask sends them all in one
`$batch` (`MailboxStore.read_backs`: one GET per mailbox, 20 a call) and each gets its own answer. The run
ends no later for it: the mailbox whose writes end last, the one that sets the run's end, sends at once, and
the others' GETs go beside its own. Only mailboxes under way count (`writing`), so with more mailboxes than
workers the waiting ones never wait for one that cannot start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from oh_outlook_provider.runners.mailbox import Reading
from oh_outlook_provider.sync.plan import ExistingEvent
from oh_outlook_provider.sync.render import DesiredEvent


class ReadBackStore(Protocol):
    """`read_backs([(reading, created), ...])`: each mailbox's read-back, or the error that stopped it."""

    def read_backs(self, asked: Sequence[tuple[Reading, Sequence[DesiredEvent]]]
                   ) -> list[list[ExistingEvent] | Exception]: ...


class _Ask:
    def __init__(self, reading: Reading, created: Sequence[DesiredEvent]):
        self.reading, self.created = reading, created
        self.answer: list[ExistingEvent] | Exception | None = None


class SharedReadBacks:
    """Read-backs of the mailboxes a run writes, sent together once every mailbox under way has asked."""

    def __init__(self, store: ReadBackStore):
        self._store = store
        self._cond = threading.Condition()
        self._writing = 0  # mailboxes under way that have neither asked nor left
        self._asked: list[_Ask] = []
        self._served: set[str] = set()  # mailboxes under way that have asked

    @contextmanager
    def writing(self, mailbox: str) -> Iterator[None]:
        """`mailbox` under way: it asks for its read-back (`read_back`) at most once, or leaves without one."""
        with self._cond:
            self._writing += 1
        try:
            yield
        finally:
            with self._cond:
                asked = mailbox in self._served
                self._served.discard(mailbox)
                if not asked:
                    self._writing -= 1
                group = self._take_group()
            self._send(group)

    def read_back(self, mailbox: str, reading: Reading, created: Sequence[DesiredEvent]) -> list[ExistingEvent]:
        """`mailbox`'s read-back (inside `writing(mailbox)`), answered with the others'. Raises the error that
        stopped it."""
        ask = _Ask(reading, created)
        with self._cond:
            self._served.add(mailbox)
            self._writing -= 1
            self._asked.append(ask)
            group = self._take_group()
        self._send(group)
        with self._cond:
            while ask.answer is None:
                self._cond.wait()
        if isinstance(ask.answer, Exception):
            raise ask.answer
        return ask.answer

    def _take_group(self) -> list[_Ask]:
        """The asks to send now (under the lock): all of them once no mailbox under way is still writing."""
        if self._writing > 0 or not self._asked:
            return []
        group, self._asked = self._asked, []
        return group

    def _send(self, group: list[_Ask]) -> None:
        if not group:
            return
        try:
            answers: list[list[ExistingEvent] | Exception] = list(
                self._store.read_backs([(a.reading, a.created) for a in group]))
        except Exception as exc:  # noqa: BLE001 - every mailbox of the group gets it, as its own read-back would
            answers = [exc] * len(group)
        with self._cond:
            for ask, answer in zip(group, answers, strict=True):
                ask.answer = answer
            self._cond.notify_all()
