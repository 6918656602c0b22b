"""OpenHandwerkHook: login, the response envelope, employees and appointments.

Paths and field names come from `openhandwerk_api`; this hook only moves bytes and turns
failures into `OpenHandwerkError` with the API's own message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from oh_outlook_provider.exceptions import OpenHandwerkError
from oh_outlook_provider.hooks.connection_form import legacy_form
from oh_outlook_provider.hooks.http import json_of, make_session
from oh_outlook_provider.hooks.masking import mask_secrets
from oh_outlook_provider.hooks.retry import RetryPolicy, retry_after_seconds
from oh_outlook_provider.hooks.settings import OpenHandwerkSettings, openhandwerk_settings
from oh_outlook_provider.i18n import _
from oh_outlook_provider.openhandwerk import api
from oh_outlook_provider.sync.models import Appointment, Employee, Rejected
from oh_outlook_provider.version_compat import BaseHook

if TYPE_CHECKING:
    import requests

OPENHANDWERK_STATUSES = frozenset({429, 500, 502, 503, 504})


@legacy_form  # the connection form of Airflow 3.0-3.2 (3.3 reads get_provider_info)
class OpenHandwerkHook(BaseHook):
    """Reads employees and appointments from the openHandwerk REST API.

    :param openhandwerk_conn_id: connection of type ``openhandwerk``.
    :param retry_policy: attempts, back-off and wait budget for throttling and transient errors.
    :param settings: settings already read (tests, the triggerer); default: read the connection.
    """

    conn_name_attr = "openhandwerk_conn_id"
    default_conn_name = "openhandwerk_default"
    conn_type = "openhandwerk"
    hook_name = "openHandwerk"

    def __init__(
        self,
        openhandwerk_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        settings: OpenHandwerkSettings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.openhandwerk_conn_id = openhandwerk_conn_id
        self.retry_policy = retry_policy or RetryPolicy(max_attempts=5, wait_budget=120.0, statuses=OPENHANDWERK_STATUSES)
        self._settings = settings
        self._session: requests.Session | None = None
        self._token: str | None = None
        self._lock = threading.Lock()
        self.requests_made = 0

    @property
    def settings(self) -> OpenHandwerkSettings:
        if self._settings is None:
            self._settings = openhandwerk_settings(self.get_connection(self.openhandwerk_conn_id))
        mask_secrets(self._settings.password)
        return self._settings

    @property
    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = make_session(self.settings.verify, self.settings.timeout)
            return self._session

    def _path(self, name: str, **ids: str) -> str:
        return api.path(self.settings.paths, name, **ids)

    # ------------------------------------------------------------------ transport
    def login(self) -> str:
        s = self.settings
        body = dict(zip(api.LOGIN_FIELDS, (s.id_kn, s.employee, s.password), strict=True))
        payload = self._call("POST", self._path("login"), json_body=body, authenticated=False)
        token = api.first(payload, api.TOKEN_FIELDS) if isinstance(payload, dict) else payload
        if not isinstance(token, str) or not token:
            raise OpenHandwerkError(_("openHandwerk login answered without a token; check the API base URL."))
        mask_secrets(token)
        self._token = token
        return token

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        authenticated: bool = True,
    ) -> Any:
        """One API call: envelope unwrapped, one re-login on 401, retries on 429/5xx."""
        import requests

        url = f"{self.settings.base_url}{path}"
        state = self.retry_policy.start()
        relogged = False
        while True:
            headers = {}
            if authenticated:
                headers["Authorization"] = f"Bearer {self._token or self.login()}"
            try:
                self.requests_made += 1
                response = self.session.request(method, url, params=params, json=json_body, headers=headers)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if method == "GET" and state.wait(None):
                    continue
                raise OpenHandwerkError(_("{request}: cannot reach openHandwerk ({error}).").format(
                    request=f"{method} {path}", error=type(exc).__name__)) from None
            envelope = _json(response)
            if response.status_code == 401 and authenticated and not relogged:
                relogged = True
                self._token = None
                continue
            if response.status_code in self.retry_policy.statuses and state.wait(retry_after_seconds(response.headers)):
                continue
            return _unwrap(envelope, response.status_code, method, path)

    # ------------------------------------------------------------------ records
    def _pages(self, name: str, params: dict | None = None) -> Iterator[Any]:
        size = self.settings.page_size
        page = 1
        while True:
            payload = self._call("GET", self._path(name), params={**(params or {}), api.PAGE: page, api.PAGE_SIZE: size})
            try:
                records = api.unwrap_page(payload)
            except ValueError as exc:
                raise OpenHandwerkError(_("GET {path} page {page}: {error}").format(
                    path=self._path(name), page=page, error=exc)) from None
            yield from records
            if len(records) < size:
                return
            page += 1

    def iter_employees(self) -> Iterator[Employee | Rejected]:
        for record in self._pages("employees"):
            yield api.parse_employee(record)

    def iter_appointments(self, start: dt.datetime, end: dt.datetime) -> Iterator[Appointment | Rejected]:
        """Appointments starting in [start, end), asked for in openHandwerk's wall-clock zone."""
        zone = ZoneInfo(self.settings.timezone)
        params = {
            api.RANGE_FROM: start.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds"),
            api.RANGE_TO: end.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds"),
        }
        zone_name = self.settings.timezone  # once: each `settings` read masks the connection's secrets again
        for record in self._pages("appointments", params):
            yield api.parse_appointment(record, zone_name)

    def get_appointment(self, appointment_id: str) -> Appointment | Rejected | None:
        """One appointment by id; None only when openHandwerk itself says it does not exist.

        A 404 without openHandwerk's envelope comes from a wrong path or a proxy, not from the API:
        it raises, as does anything but the record asked for (which is rejected, so its events are
        kept, never deleted on an answer about another record).
        """
        path = self._path("appointment", id=appointment_id)
        try:
            record = self._call("GET", path)
        except OpenHandwerkError as exc:
            if exc.status == 404 and exc.enveloped:
                return None
            raise
        parsed = api.parse_appointment(record, self.settings.timezone)
        answered = parsed.id if isinstance(parsed, Appointment) else parsed.record_id
        if answered != appointment_id:
            return Rejected(appointment_id, f"GET {path} answered appointment {answered!r} instead; its events are "
                            f"kept. Check the 'appointment' path of connection '{self.settings.conn_id}'.")
        return parsed

    def test_connection(self) -> tuple[bool, str]:
        """The openHandwerk checklist (runners/openhandwerk_check.py): URL, account id, login, one
        employee and one appointment readable; the verdict first, then one line per step."""
        from oh_outlook_provider.runners.openhandwerk_check import openhandwerk_checklist  # only when testing

        conn_id = self._settings.conn_id if self._settings else self.openhandwerk_conn_id
        checklist = openhandwerk_checklist(self).in_the_form(conn_id)
        return checklist.ok, checklist.summary()


def _json(response: requests.Response) -> Any:
    try:
        return json_of(response)
    except ValueError:
        return None


def _unwrap(envelope: Any, http_status: int, method: str, path: str) -> Any:
    """Both the HTTP status and the envelope's own success/status can signal a failure."""
    if isinstance(envelope, dict) and "success" in envelope:
        status = envelope.get("status")
        failed = envelope.get("success") is not True or http_status >= 400 or (
            isinstance(status, int) and status >= 400
        )
        if not failed:
            return envelope.get("response")
        message = envelope.get("response")
        text = message if isinstance(message, str) else _("no message")
        raise OpenHandwerkError(
            _("openHandwerk {request} failed (HTTP {http}, status {status}): {message}").format(
                request=f"{method} {path}", http=http_status, status=status, message=text)
            + (" - " + _("check API user and password of the openHandwerk connection.") if http_status == 401 else ""),
            status=status if isinstance(status, int) and status >= 400 else http_status,
            enveloped=True,
        )
    raise OpenHandwerkError(
        _("openHandwerk {request}: HTTP {http} without the response envelope; check the API base URL.").format(
            request=f"{method} {path}", http=http_status),
        status=http_status,
    )
