"""openHandwerk's single-record path: proven before it may say "gone", and each record asked once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.runners.records import AppointmentLookup
from oh_outlook_provider.sync.models import Appointment, Rejected

START = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)


def appointment(app_id: str) -> Appointment:
    return Appointment(app_id, "T", START, START + dt.timedelta(hours=1))


class OpenHandwerk:
    openhandwerk_conn_id = "openhandwerk_default"

    def __init__(self, known: dict):
        self.known = known
        self.asked: list[str] = []

    def iter_appointments(self, start, end):
        return iter(self.known.values())

    def get_appointment(self, appointment_id):
        self.asked.append(appointment_id)
        return self.known.get(appointment_id)


def test_the_path_is_proven_with_a_listed_record_before_any_other_is_asked():
    oh = OpenHandwerk({"1": appointment("1"), "2": appointment("2")})
    lookup = AppointmentLookup(oh)
    assert [getattr(r, "id", None) for r in lookup.noting([Rejected("x", "bad"), appointment("1")])] == [None, "1"]
    assert lookup.get("5") is None and lookup.get("5") is None and lookup.get("1").id == "1"
    assert oh.asked == ["1", "5"]  # proven once with "1" (kept), "5" asked once


def test_a_path_that_answers_nothing_raises_and_names_the_connection():
    oh = OpenHandwerk({"1": appointment("1")})
    oh.get_appointment = lambda appointment_id: None
    oh.openhandwerk_conn_id = "oh_betrieb_b"
    lookup = AppointmentLookup(oh)
    list(lookup.noting([appointment("1")]))
    with pytest.raises(OpenHandwerkError, match="'appointment' path of connection 'oh_betrieb_b'"):
        lookup.get("2")


def test_without_a_listed_record_there_is_nothing_to_prove_with():
    oh = OpenHandwerk({"3": appointment("3")})
    assert AppointmentLookup(oh).get("3").id == "3" and oh.asked == ["3"]


def test_parallel_mailboxes_get_the_same_answer_and_it_is_kept():
    oh = OpenHandwerk({"1": appointment("1")})
    lookup = AppointmentLookup(oh)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(lookup.get("1"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked = len(oh.asked)
    assert len(answers) == 8 and {a.id for a in answers} == {"1"}
    assert lookup.get("1").id == "1" and len(oh.asked) == asked  # kept: not asked again
