"""The openHandwerk half of the setup checklist: URL, account id, login, one employee, one appointment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from oh_outlook_provider.exceptions import OhOutlookError
from oh_outlook_provider.i18n import _
from oh_outlook_provider.runners.checklist import FAILED, NOT_CHECKED, OK, WARNING, Checklist, Step, connections_page, values_step


def openhandwerk_checklist(hook: Any, today: dt.date | None = None) -> Checklist:
    """The openHandwerk connection through `hook` (an OpenHandwerkHook): https URL, account id, login,
    one employee and one appointment readable."""
    today = today or dt.date.today()
    steps: list[Step] = []
    t_url, t_account, t_login = _("API base URL (https)"), _("Account id (ID KN)"), _("Login of the API user")
    t_employee, t_appointment = _("An employee readable"), _("An appointment readable")
    conn = connections_page("openHandwerk")
    try:
        s = hook.settings
    except OhOutlookError as exc:  # a wrong or missing value: the same lines as a task's error
        steps.append(values_step(exc, "openHandwerk"))
        for key, title in (("oh_account", t_account), ("oh_login", t_login), ("oh_employee", t_employee),
                           ("oh_appointment", t_appointment)):
            steps.append(Step(key, title, conn, NOT_CHECKED, _("needs the connection's values (line 1)")))
        return Checklist("openHandwerk", tuple(steps))
    steps.append(Step("oh_url", t_url, conn, OK, s.base_url))
    account_ok = bool((s.id_kn or "").strip())
    steps.append(Step("oh_account", t_account, conn, OK if account_ok else FAILED, s.id_kn if account_ok else _(
        "missing: enter openHandwerk's account id (ID KN) in the connection's field 'Schema'.")))
    try:
        hook.login()
        steps.append(Step("oh_login", t_login, conn, OK, _("logged in as {user}.").format(user=s.employee)))
    except (OhOutlookError, ValueError) as exc:
        steps.append(Step("oh_login", t_login, conn, FAILED, str(exc)))
        steps += [Step(k, t, conn, NOT_CHECKED, _("needs the login (line 3)"))
                  for k, t in (("oh_employee", t_employee), ("oh_appointment", t_appointment))]
        return Checklist("openHandwerk", tuple(steps))
    steps.append(_first_record("oh_employee", t_employee, conn, lambda: hook.iter_employees(),
                               _("no employee in openHandwerk: the mapping has nobody to map.")))
    start = dt.datetime.combine(today - dt.timedelta(days=30), dt.time(), dt.UTC)
    steps.append(_first_record("oh_appointment", t_appointment, conn,
                               lambda: hook.iter_appointments(start, start + dt.timedelta(days=90)),
                               _("no appointment from 30 days ago to 60 days ahead: nothing to sync yet.")))
    return Checklist("openHandwerk", tuple(steps))


def _first_record(key: str, title: str, where: str, records: Any, empty: str, limit: int = 200) -> Step:
    """The first readable record among the first `limit`; records rejected as malformed are named."""
    rejected = None
    try:
        for n, record in enumerate(records()):
            if not getattr(record, "reason", None):
                return Step(key, title, where, OK, _("readable."))
            rejected = rejected or record
            if n + 1 >= limit:
                break
    except (OhOutlookError, ValueError) as exc:
        return Step(key, title, where, FAILED, str(exc))
    if rejected is None:
        return Step(key, title, where, WARNING, empty)
    return Step(key, title, where, WARNING, _("read, but every record was rejected, the first: {reason}").format(
        reason=rejected.reason))
