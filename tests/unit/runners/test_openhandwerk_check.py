"""The openHandwerk half of the checklist against a scripted hook."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from oh_outlook_provider.exceptions import ConfigurationError, OpenHandwerkError
from oh_outlook_provider.runners import setup_check as sc
from oh_outlook_provider.runners.openhandwerk_check import openhandwerk_checklist
from oh_outlook_provider.sync.models import Rejected

SETTINGS = SimpleNamespace(base_url="https://oh.example/api", id_kn="4711", employee="api-sync")


class Hook:
    def __init__(self, settings=SETTINGS, login_error=None, employees=("E1",), appointments=("T1",)):
        self._settings, self.login_error = settings, login_error
        self.employees, self.appointments, self.window = list(employees), list(appointments), None

    @property
    def settings(self):
        if isinstance(self._settings, Exception):
            raise self._settings
        return self._settings

    def login(self):
        if self.login_error:
            raise self.login_error
        return "token"

    def iter_employees(self):
        return iter(self.employees)

    def iter_appointments(self, start, end):
        self.window = (start, end)
        return iter(self.appointments)


def statuses(checklist):
    return [s.status for s in checklist.steps]


def test_a_working_connection_is_ok_on_every_line():
    hook = Hook()
    checklist = openhandwerk_checklist(hook, dt.date(2026, 3, 20))
    assert checklist.ok and statuses(checklist) == [sc.OK] * 5
    assert hook.window[0].date() == dt.date(2026, 2, 18) and (hook.window[1] - hook.window[0]).days == 90


def test_an_http_url_fails_the_first_line_and_checks_nothing_else():
    checklist = openhandwerk_checklist(Hook(settings=ConfigurationError("must be an https:// URL")))
    assert checklist.first_failed.key == "values" and statuses(checklist)[1:] == [sc.NOT_CHECKED] * 4
    assert checklist.verdict().startswith("Setup incomplete: check 1 'Connection values' failed")


def test_a_wrong_password_fails_the_login_line():
    checklist = openhandwerk_checklist(Hook(login_error=OpenHandwerkError("HTTP 401 - check API user and password")))
    assert checklist.first_failed.key == "oh_login" and statuses(checklist)[3:] == [sc.NOT_CHECKED] * 2
    assert checklist.verdict().startswith("Setup incomplete: check 3 'Login of the API user' failed")


def test_a_missing_account_id_fails_and_empty_lists_warn():
    checklist = openhandwerk_checklist(Hook(settings=SimpleNamespace(**{**vars(SETTINGS), "id_kn": " "}),
                                            employees=(), appointments=(Rejected("T-BAD", "no start date"),)))
    assert statuses(checklist) == [sc.OK, sc.FAILED, sc.OK, sc.WARNING, sc.WARNING]
    assert "every record was rejected, the first: no start date" in checklist.report()


def test_a_rejected_first_appointment_is_passed_over_for_a_readable_one():
    checklist = openhandwerk_checklist(Hook(appointments=(Rejected("T-BAD", "no start date"), "T1")))
    assert checklist.ok and statuses(checklist)[-1] == sc.OK
