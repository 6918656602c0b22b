"""The read-backs of one run, shared: each mailbox asks as its writes end, and one `$batch` answers all of them.

A read-back (`MailboxStore.read_back`) follows a mailbox's creates so that overlapping runs leave no duplicate
behind. Asked mailbox by mailbox, it is one HTTP request per mailbox. Here a mailbox that asks waits until every
mailbox still writing has asked too (or left without asking); then the last to ask sends them all
(`MailboxStore.read_backs`: one GET per mailbox, 4 a call, the calls at once) and each gets its own answer. The
mailbox whose writes end last sends at once, its GET beside the others'. A mailbox waits only once every mailbox
the run will write (`expect`) has started: with more mailboxes than workers, a waiting mailbox would hold a
worker that a mailbox not yet started needs, so until the last ones have started each sends its own. What a
waiting mailbox does after its read-back (removing duplicates an overlapping run made, moving copies out of
other calendars) starts when the group is answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from oh_outlook_provider.exceptions import GraphError
from oh_outlook_provider.i18n import _
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
        self._expected = 0  # mailboxes the run will write (`expect`)
        self._started = 0

    def expect(self, mailboxes: int) -> None:
        """How many mailboxes the run will write; until all have started, nobody waits for the others."""
        with self._cond:
            self._expected = mailboxes

    @contextmanager
    def writing(self, mailbox: str) -> Iterator[None]:
        """`mailbox` under way: it asks for its read-back (`read_back`) at most once, or leaves without one."""
        with self._cond:
            self._writing += 1
            self._started += 1
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
        """The asks to send now (under the lock): all of them once no mailbox under way is still writing, or
        while some the run will write have not started (see the module's docstring)."""
        if not self._asked or (self._writing > 0 and self._started >= self._expected):
            return []
        group, self._asked = self._asked, []
        return group

    def _send(self, group: list[_Ask]) -> None:
        """Ask the store; every ask of the group is answered whatever happens, so no mailbox waits forever."""
        if not group:
            return
        answers: list[list[ExistingEvent] | Exception] = []
        try:
            answers = list(self._store.read_backs([(a.reading, a.created) for a in group]))
        except Exception as exc:  # noqa: BLE001 - every mailbox of the group gets it, as its own read-back would
            answers = [GraphError(_("the read-back failed: {error}").format(error=exc)) for _ask in group]
            for answer in answers:
                answer.__cause__ = exc
        finally:
            if len(answers) != len(group):  # the store answered for fewer (or raised BaseException)
                answers = [GraphError(_("the read-back was not answered")) for _ask in group]
            with self._cond:
                for ask, answer in zip(group, answers, strict=True):
                    ask.answer = answer
                self._cond.notify_all()
