"""Typed settings read from Airflow connections; one place that knows the extra keys."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oh_outlook_provider.exceptions import ConfigurationError
from oh_outlook_provider.graph.clouds import CLOUDS
from oh_outlook_provider.graph.timezones import MAPPED_IANA_NAMES, iana_of


def _extra(conn: Any) -> dict:
    # The JSON text, not `extra_dejson`: that registers every extra value with the secrets masker, and
    # a short harmless one (idKn "4711") makes the masker warn "too short". The hooks register the
    # real secrets (password, certificate key, tokens) themselves. (Airflow 3.3.2 still warns once
    # per task: fetching a connection builds its URI through `extra_dejson`.)
    raw = getattr(conn, "extra", None)
    if raw is None and getattr(conn, "extra_dejson", None) is not None:
        raw = conn.extra_dejson
    raw = raw or "{}"
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError as exc:
        raise ConfigurationError(f"Connection '{getattr(conn, 'conn_id', '?')}': Extra is not valid JSON ({exc}).") from None
    if not isinstance(extra, dict):
        raise ConfigurationError(f"Connection '{getattr(conn, 'conn_id', '?')}': Extra must be a JSON object.")
    # Accept the legacy prefixed form (extra__office365__tenant_id) written by older UIs.
    out = {}
    for key, value in extra.items():
        out[key.split("__")[-1] if key.startswith("extra__") else key] = value
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_date(value: Any, what: str) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    raise ConfigurationError(f"{what} '{text}' is not a date; use YYYY-MM-DD (e.g. 2028-11-26) or DD.MM.YYYY.")


@dataclass(frozen=True)
class Office365Settings:
    conn_id: str
    tenant_id: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_private_key: str | None = field(default=None, repr=False)
    certificate_thumbprint: str | None = None
    valid_until: dt.date | None = None
    cloud: str = "global"
    authority_host: str = "https://login.microsoftonline.com"
    graph_root: str = "https://graph.microsoft.com"
    calendar_name: str | None = None
    verify: bool | str = True
    timeout: float = 60.0

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def graph_base(self) -> str:
        return f"{self.graph_root}/v1.0"

    @property
    def scope(self) -> str:
        return f"{self.graph_root}/.default"

    @property
    def custom_authority(self) -> bool:
        return self.authority_host not in {c.authority_host for c in CLOUDS.values()}

    @property
    def credential_kind(self) -> str:
        return "certificate" if self.certificate_private_key else "client secret"


def office365_settings(conn: Any) -> Office365Settings:
    """Validate an office365 connection; errors name the field to fix."""
    conn_id = getattr(conn, "conn_id", None) or "office365_default"
    extra = _extra(conn)
    tenant_id = (extra.get("tenant_id") or "").strip()
    client_id = (getattr(conn, "login", None) or extra.get("client_id") or "").strip()
    secret = getattr(conn, "password", None) or None
    key = extra.get("certificate_private_key") or None
    thumbprint = (extra.get("certificate_thumbprint") or "").strip() or None
    missing = [
        name
        for name, value in (("Tenant ID (Mandanten-ID)", tenant_id), ("Application (client) ID", client_id))
        if not value
    ]
    if not secret and not key:
        missing.append("Client secret VALUE (or a certificate private key)")
    if key and not thumbprint:
        missing.append("Certificate thumbprint (needed with a certificate)")
    if missing:
        raise ConfigurationError(f"Connection '{conn_id}' is missing: {', '.join(missing)}.")
    cloud_name = (extra.get("national_cloud") or "global").strip().lower()
    if cloud_name not in CLOUDS:
        raise ConfigurationError(
            f"Connection '{conn_id}': national cloud '{cloud_name}' is unknown; use one of {', '.join(CLOUDS)}."
        )
    cloud = CLOUDS[cloud_name]
    authority_host = _base_url(extra.get("authority_url"), conn_id, "Authority URL") or cloud.authority_host
    graph_root = _base_url(extra.get("graph_url"), conn_id, "Graph base URL") or cloud.graph_root
    timeout = extra.get("request_timeout")
    ca_bundle = (extra.get("ca_bundle") or "").strip()
    return Office365Settings(
        conn_id=conn_id,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=secret,
        certificate_private_key=key,
        certificate_thumbprint=thumbprint,
        valid_until=parse_date(extra.get("credential_valid_until"), f"Connection '{conn_id}': valid-until"),
        cloud=cloud_name,
        authority_host=authority_host,
        graph_root=graph_root,
        calendar_name=(extra.get("calendar_name") or "").strip() or None,
        verify=ca_bundle or True,
        timeout=float(timeout) if not _blank(timeout) else 60.0,
    )


def _base_url(value: Any, conn_id: str, what: str) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip().rstrip("/")
    if text.endswith("/v1.0"):
        text = text[: -len("/v1.0")]
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigurationError(f"Connection '{conn_id}': {what} '{text}' must be an https:// URL.")
    return text


@dataclass(frozen=True)
class OpenHandwerkSettings:
    conn_id: str
    base_url: str
    id_kn: str
    employee: str
    password: str = field(repr=False)
    timezone: str = "Europe/Berlin"
    page_size: int = 200
    web_url: str | None = None
    paths: dict = field(default_factory=dict)
    verify: bool | str = True
    timeout: float = 60.0


def openhandwerk_settings(conn: Any) -> OpenHandwerkSettings:
    conn_id = getattr(conn, "conn_id", None) or "openhandwerk_default"
    extra = _extra(conn)
    host = (getattr(conn, "host", None) or "").strip().rstrip("/")
    if host and "://" not in host:
        host = "https://" + host
    if host and (urlsplit(host).scheme.lower() != "https" or not urlsplit(host).netloc):
        # The login posts the API password: never over plain HTTP (the Office 365 side refuses it too).
        raise ConfigurationError(
            f"Connection '{conn_id}': API base URL '{host}' must be an https:// URL; the login sends the API "
            "password, which plain http:// would show to everyone on the way."
        )
    values = {
        "API base URL (host)": host,
        # In `schema` (see the provider's form); the extra `id_kn` of connections made before 0.2 still counts.
        "Account ID (idKn)": str(getattr(conn, "schema", None) or extra.get("id_kn") or "").strip(),
        "API user (login)": (getattr(conn, "login", None) or "").strip(),
        "API password": getattr(conn, "password", None) or "",
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigurationError(f"Connection '{conn_id}' is missing: {', '.join(missing)}.")
    paths = extra.get("paths") or {}
    if isinstance(paths, str):
        try:
            paths = json.loads(paths) if paths.strip() else {}
        except ValueError as exc:
            raise ConfigurationError(f"Connection '{conn_id}': path overrides are not valid JSON ({exc}).") from None
    page_size = extra.get("page_size")
    return OpenHandwerkSettings(
        conn_id=conn_id,
        base_url=host,
        id_kn=values["Account ID (idKn)"],
        employee=values["API user (login)"],
        password=values["API password"],
        timezone=_timezone(extra.get("timezone"), conn_id),
        page_size=int(page_size) if not _blank(page_size) else 200,
        web_url=(extra.get("web_url") or "").strip().rstrip("/") or None,
        paths=dict(paths),
        verify=(extra.get("ca_bundle") or "").strip() or True,
        timeout=float(extra.get("request_timeout") or 60),
    )


def _timezone(value: Any, conn_id: str) -> str:
    """The IANA zone appointments are written in; a Windows name (as Outlook shows it) is translated."""
    name = "Europe/Berlin" if _blank(value) else str(value).strip()
    name = iana_of(name)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"Connection '{conn_id}': time zone '{name[:60]}' is unknown; use an IANA name such as Europe/Berlin "
            "(or a Windows name such as 'W. Europe Standard Time')."
        ) from None
    if name not in MAPPED_IANA_NAMES:
        raise ConfigurationError(
            f"Connection '{conn_id}': time zone '{name}' has no Windows name in CLDR, so Outlook could not be told "
            "which zone appointments are in; use the zone's canonical IANA name (e.g. Europe/Berlin)."
        )
    return name


def as_test_result(message: str, conn_id: str | None) -> str:
    """A message for the connection form's Test: Airflow tests a copy of the form under a random id
    (e.g. 'jbAt6RMJ'), which would only confuse; the admin is looking at the connection, so it is
    "this connection" there."""
    if not conn_id:
        return message
    return (message.replace(f"Airflow connection '{conn_id}'", "this connection")
            .replace(f"Connection '{conn_id}'", "This connection").replace(f"connection '{conn_id}'", "this connection"))
