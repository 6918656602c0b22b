"""Office365Hook: app-only access to Microsoft Graph with msal client credentials.

The hook owns the token, the HTTP session, paging, `$batch`, throttling and error
translation, and nothing else: it never decides what to write.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from oh_outlook_provider.exceptions import (
    AuthenticationError,
    ConfigurationError,
    GraphError,
    OhOutlookError,
    PermissionMissingError,
    ThrottledError,
)
from oh_outlook_provider.graph import paths
from oh_outlook_provider.graph.errors import tenant_not_found, translate_graph_error, translate_token_error
from oh_outlook_provider.hooks.connection_form import legacy_form
from oh_outlook_provider.hooks.graph_batch import IMMUTABLE_ID, GraphBatchMixin, mailbox_of
from oh_outlook_provider.hooks.http import RequestStats, decoded, make_session
from oh_outlook_provider.hooks.limiter import MailboxLimiter
from oh_outlook_provider.hooks.masking import mask_secrets
from oh_outlook_provider.hooks.retry import RetryPolicy, retry_after_seconds
from oh_outlook_provider.hooks.settings import Office365Settings, office365_settings
from oh_outlook_provider.i18n import _
from oh_outlook_provider.version_compat import BaseHook

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

USER_SELECT = (
    "id,displayName,mail,userPrincipalName,otherMails,proxyAddresses,"
    "accountEnabled,assignedLicenses,assignedPlans,userType"
)


@dataclass(frozen=True)
class WatchedExpiry:
    valid_until: dt.date | None
    source: str  # "Entra" or "the connection" (its date, or the certificate's notAfter)
    readable: bool  # the app may read its own registration (Application.Read.All)
    note: str | None = None  # for the admin: Entra and the connection disagree, or Entra found nothing


@legacy_form  # the connection form of Airflow 3.0-3.2 (3.3 reads get_provider_info)
class Office365Hook(GraphBatchMixin, BaseHook):
    """Talks to Microsoft Graph as the app registered in Entra (client credentials).

    :param office365_conn_id: connection of type ``office365``.
    :param max_per_mailbox: requests in flight per mailbox across all threads (Outlook allows 4).
    :param retry_policy: attempts, back-off and wait budget for throttling and transient errors.
    :param settings: settings already read (tests, the triggerer); default: read the connection.
    """

    conn_name_attr = "office365_conn_id"
    default_conn_name = "office365_default"
    conn_type = "office365"
    hook_name = "Office 365 (Microsoft Graph)"

    def __init__(
        self,
        office365_conn_id: str = default_conn_name,
        *,
        max_per_mailbox: int = 4,
        retry_policy: RetryPolicy | None = None,
        settings: Office365Settings | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.office365_conn_id = office365_conn_id
        self.retry_policy = retry_policy or RetryPolicy()
        self.limiter = MailboxLimiter(max_per_mailbox)
        self.stats = RequestStats()
        self._settings = settings
        self._app: Any = None
        self._session: requests.Session | None = None
        self._init_lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._refreshes = 0  # forced token refreshes so far: a batch round refreshes only if nobody did
        self._default_calendars: dict[str, str] = {}  # user id (casefolded) -> id of the default calendar

    # ------------------------------------------------------------------ settings, auth
    @property
    def settings(self) -> Office365Settings:
        if self._settings is None:
            self._settings = office365_settings(self.get_connection(self.office365_conn_id))
        mask_secrets(self._settings.client_secret, self._settings.certificate_private_key)
        return self._settings

    def _credential(self) -> str | dict:
        s = self.settings
        if s.certificate_private_key:
            return {"private_key": s.certificate_private_key, "thumbprint": s.certificate_thumbprint}
        return s.client_secret or ""

    def get_app(self) -> Any:
        """The one msal ConfidentialClientApplication of this hook (tenant discovery happens here)."""
        with self._init_lock:
            if self._app is None:
                import msal
                import requests

                s = self.settings
                try:
                    self._app = msal.ConfidentialClientApplication(
                        s.client_id,
                        client_credential=self._credential(),
                        authority=s.authority,
                        instance_discovery=False if s.custom_authority else None,
                        http_client=make_session(s.verify, s.timeout),
                    )
                except ValueError as exc:
                    if "authority" in str(exc).lower() or "tenant" in str(exc).lower():
                        raise tenant_not_found(s.conn_id) from None
                    raise ConfigurationError(_(
                        "Connection '{conn_id}': the {credential} cannot be used: {error}. Check the PEM key and "
                        "thumbprint.").format(conn_id=s.conn_id, credential=s.credential_kind, error=type(exc).__name__)
                    ) from None
                except requests.RequestException as exc:
                    raise AuthenticationError(_(
                        "Cannot reach the sign-in service {host} ({error}). Check network, proxy and the national "
                        "cloud of the connection.").format(host=s.authority_host, error=type(exc).__name__)
                    ) from None
            return self._app

    def get_token(self, force_refresh: bool = False) -> str:
        """An app token for Graph; msal serves it from its cache until shortly before expiry."""
        import requests

        app = self.get_app()
        if force_refresh:
            self._refreshes += 1
            cache = app.token_cache
            for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)
        try:
            with self._token_lock:  # one token request, not one per mailbox thread starting at once
                result = app.acquire_token_for_client(scopes=[self.settings.scope])
        except requests.RequestException as exc:
            raise AuthenticationError(_("Token request to {host} failed ({error}).").format(
                host=self.settings.authority_host, error=type(exc).__name__)) from None
        if result.get("token_source") != "cache":
            self.stats.add(token_requests=1)
        token = result.get("access_token")
        if not token:
            raise translate_token_error(result, self.settings.conn_id)
        mask_secrets(token)
        return token

    # ------------------------------------------------------------------ HTTP
    @property
    def session(self) -> requests.Session:
        with self._init_lock:
            if self._session is None:
                self._session = make_session(self.settings.verify, self.settings.timeout, {"Prefer": IMMUTABLE_ID})
            return self._session

    def url(self, path: str) -> str:
        if path.startswith("https://"):
            self._check_host(path)
            return path
        return f"{self.settings.graph_base}{path if path.startswith('/') else '/' + path}"

    def _check_host(self, url: str) -> None:
        expected = urlsplit(self.settings.graph_root)
        got = urlsplit(url)
        if (got.scheme, got.netloc.lower()) != (expected.scheme, expected.netloc.lower()):
            raise GraphError(_("Refusing to follow a link to {link}: only {graph} receives our access token.").format(
                link=f"{got.scheme}://{got.netloc}", graph=self.settings.graph_root))

    def _relative(self, url: str) -> str:
        base = self.settings.graph_base
        return url[len(base) :] if url.startswith(base) else urlsplit(url).path

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        body: Any = None,
        headers: dict | None = None,
        idempotent: bool,
        slots: dict[str, int] | None = None,
    ) -> requests.Response:
        """One logical call: token, limiter, retries on throttling and (idempotent) network errors."""
        import requests

        state = self.retry_policy.start()
        refreshed = False
        while True:
            token = self.get_token()
            call_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            if body is not None:
                call_headers.setdefault("Content-Type", "application/json")
            try:
                with self.limiter.hold(slots or {}):
                    self.stats.add(requests=1)
                    response = self.session.request(
                        method,
                        url,
                        params=params,
                        data=json.dumps(body) if body is not None else None,
                        headers=call_headers,
                    )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if idempotent and state.wait(None):
                    continue
                raise GraphError((_("{request}: {error} talking to Microsoft Graph") if idempotent else
                                  _("{request}: {error} talking to Microsoft Graph (not retried: the request is not "
                                    "idempotent)")).format(request=f"{method} {self._relative(url)}",
                                                           error=type(exc).__name__)) from None
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.get_token(force_refresh=True)
                continue
            if response.status_code in self.retry_policy.statuses:
                self.stats.add(throttled=1)
                if state.wait(retry_after_seconds(response.headers)):
                    continue
                raise ThrottledError(
                    _("{request}: still HTTP {status} after {attempts} attempts and {waited}s of waiting.").format(
                        request=f"{method} {self._relative(url)}", status=response.status_code,
                        attempts=state.attempts, waited=f"{state.waited:.1f}"),
                    response.status_code,
                    "throttled",
                )
            return response

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        headers: dict | None = None,
    ) -> Any:
        """One Graph call; returns the decoded JSON (None for 204) or raises a translated error."""
        method = method.upper()
        url = self.url(path)
        rel = self._relative(url)
        mailbox = mailbox_of(rel)
        idempotent = self.retry_policy.is_idempotent(method, json_body)
        response = self._send(
            method,
            url,
            params=params,
            body=json_body,
            headers=headers,
            idempotent=idempotent,
            slots={mailbox: 1} if mailbox else None,
        )
        payload = decoded(response)
        if response.status_code >= 400:
            raise translate_graph_error(response.status_code, payload, method, rel, mailbox)
        return payload

    def get(self, path: str, params: dict | None = None, headers: dict | None = None) -> Any:
        return self.request("GET", path, params=params, headers=headers)

    def post(self, path: str, body: Any, headers: dict | None = None) -> Any:
        return self.request("POST", path, json_body=body, headers=headers)

    def patch(self, path: str, body: Any, headers: dict | None = None) -> Any:
        return self.request("PATCH", path, json_body=body, headers=headers)

    def delete(self, path: str, headers: dict | None = None) -> Any:
        return self.request("DELETE", path, headers=headers)

    def paginate(self, path: str, params: dict | None = None, headers: dict | None = None) -> Iterator[dict]:
        """Yield items page by page, following `@odata.nextLink` (only to the Graph host)."""
        page = self.get(path, params=params, headers=headers)
        while True:
            yield from page.get("value", [])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            self._check_host(next_link)
            page = self.get(next_link, headers=headers)

    def page_after(self, page: dict, headers: dict | None = None) -> Iterator[dict]:
        """Continue a page obtained elsewhere (e.g. as a batch sub-response)."""
        next_link = page.get("@odata.nextLink")
        if next_link:
            self._check_host(next_link)
            yield from self.paginate(next_link, headers=headers)

    # ------------------------------------------------------------------ users, calendars
    def iter_users(self, page_size: int = 999) -> Iterator[dict]:
        return self.paginate("/users", params={"$select": USER_SELECT, "$top": str(page_size)})

    def ensure_calendar(self, user_id: str, name: str) -> str:
        """Id of the user's calendar called `name`, created when missing."""
        found = self._find_calendar(user_id, name)
        if found:
            return found
        try:
            return self.post(paths.calendars(user_id), {"name": name})["id"]
        except GraphError as exc:
            # A create retried after a gateway timeout may find its own calendar (409 ErrorFolderExists).
            if exc.code != "ErrorFolderExists":
                raise
            found = self._find_calendar(user_id, name)
            if not found:
                raise
            return found

    def _find_calendar(self, user_id: str, name: str) -> str | None:
        wanted = name.casefold()
        found = None
        for calendar in self.paginate(paths.calendars(user_id), params={"$select": "id,name,isDefaultCalendar"}):
            if calendar.get("isDefaultCalendar"):
                self._default_calendars[user_id.casefold()] = calendar["id"]
            if found is None and (calendar.get("name") or "").casefold() == wanted:
                found = calendar["id"]
        return found

    def is_default_calendar(self, user_id: str, calendar_id: str) -> bool:
        """Whether `ensure_calendar` found this to be the user's default calendar (it named it)."""
        return self._default_calendars.get(user_id.casefold()) == calendar_id

    # ------------------------------------------------------------------ expiry, test
    def credential_valid_until(self) -> dt.date | None:
        """Expiry of the credential: the connection's date, or the day of the certificate's notAfter in
        Berlin (the day Entra's admin center shows, as `expiry_in_entra` reads Entra's own date)."""
        s = self.settings
        if s.valid_until:
            return s.valid_until
        if s.certificate_private_key:
            from zoneinfo import ZoneInfo

            from oh_outlook_provider.graph.credentials import ADMIN_ZONE, certificate_not_after

            not_after = certificate_not_after(s.certificate_private_key)
            return not_after.astimezone(ZoneInfo(ADMIN_ZONE)).date() if not_after else None
        return None

    def watched_expiry(self) -> WatchedExpiry:
        """The expiry to watch: Entra's own date when the app may read its registration (the optional
        Application.Read.All), checked against the connection's; else the connection's date or the
        certificate's notAfter. Never fails for lack of the permission: that is the normal setup."""
        from oh_outlook_provider.graph.credentials import expiry_in_entra, reconcile, registered

        s = self.settings
        typed = self.credential_valid_until()
        try:
            application = self.get(paths.application(s.client_id),
                                   params={"$select": "passwordCredentials,keyCredentials"})
        except PermissionMissingError:
            return WatchedExpiry(typed, "the connection", readable=False)
        except GraphError as exc:  # Entra's answer is a bonus: its absence must not fail the check
            return WatchedExpiry(typed, "the connection", readable=True,
                                 note=f"Reading the expiry from Entra failed ({exc}); watching the connection's date.")
        entra, which = expiry_in_entra(registered(application or {}), s.client_secret,
                                       s.certificate_thumbprint if s.certificate_private_key else None)
        valid_until, note = reconcile(typed, entra, which, s.conn_id, s.credential_kind)
        return WatchedExpiry(valid_until, "Entra" if entra else "the connection", readable=True, note=note)

    def test_connection(self) -> tuple[bool, str]:
        """The setup checklist (runners/setup_check.py): a verdict naming the first failed step of the
        guide with its fix, then one line per step; True when no required step failed."""
        from oh_outlook_provider.runners.checklist import for_the_form  # only when testing
        from oh_outlook_provider.runners.setup_check import office365_checklist

        conn_id = self._settings.conn_id if self._settings else self.office365_conn_id
        try:
            checklist = office365_checklist(self).in_the_form(conn_id)
            return checklist.ok, checklist.summary()
        except OhOutlookError as exc:  # the connection's own fields cannot be read
            return False, for_the_form(str(exc), conn_id)
