"""Typed settings read from Airflow connections: each value checked against the form's declaration
(hooks/connection_values.py), then turned into the settings the hooks use."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oh_outlook_provider.get_provider_info import OFFICE365_CONN_TYPE, OPENHANDWERK_CONN_TYPE
from oh_outlook_provider.graph.clouds import CLOUDS
from oh_outlook_provider.graph.timezones import MAPPED_IANA_NAMES, iana_of
from oh_outlook_provider.hooks.connection_values import check_connection
from oh_outlook_provider.i18n import _


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
    """The settings of an office365 connection; ConfigurationError naming every wrong field (connection_values)."""
    conn_id = getattr(conn, "conn_id", None) or "office365_default"
    v = check_connection(conn, OFFICE365_CONN_TYPE, conn_id,
                         required=(("tenant_id",), ("login",), ("password", "certificate_private_key")),
                         needs={"certificate_private_key": "certificate_thumbprint"},
                         converters={"credential_valid_until": dt.date.fromisoformat})
    cloud = CLOUDS[v["national_cloud"]]
    return Office365Settings(
        conn_id=conn_id,
        tenant_id=v["tenant_id"],
        client_id=v["login"],
        client_secret=v["password"],
        certificate_private_key=v["certificate_private_key"],
        certificate_thumbprint=v["certificate_thumbprint"],
        valid_until=v["credential_valid_until"],
        cloud=v["national_cloud"],
        authority_host=_base_url(v["authority_url"]) or cloud.authority_host,
        graph_root=_base_url(v["graph_url"]) or cloud.graph_root,
        calendar_name=v["calendar_name"],
        verify=v["ca_bundle"] or True,
        timeout=float(v["request_timeout"]),
    )


def _base_url(value: str | None) -> str | None:
    """An https URL already checked, without a trailing slash or Graph's version segment."""
    if value is None:
        return None
    text = value.rstrip("/")
    return text[: -len("/v1.0")] if text.endswith("/v1.0") else text


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
    """The settings of an openhandwerk connection; ConfigurationError naming every wrong field (connection_values).
    The account id is the form's `schema`; the extra `id_kn` of connections made before 0.2 still counts."""
    conn_id = getattr(conn, "conn_id", None) or "openhandwerk_default"
    v = check_connection(conn, OPENHANDWERK_CONN_TYPE, conn_id,
                         required=(("host",), ("schema",), ("login",), ("password",)),
                         converters={"timezone": _timezone})
    return OpenHandwerkSettings(
        conn_id=conn_id,
        base_url=v["host"].rstrip("/"),
        id_kn=v["schema"],
        employee=v["login"],
        password=v["password"],
        timezone=v["timezone"],
        page_size=v["page_size"],
        web_url=v["web_url"].rstrip("/") if v["web_url"] else None,
        paths=dict(v["paths"] or {}),
        verify=v["ca_bundle"] or True,
        timeout=float(v["request_timeout"]),
    )


def _timezone(value: str) -> str:
    """The IANA zone appointments are written in; a Windows name (as Outlook shows it) is translated.
    ValueError (what is allowed) for a name Python or CLDR does not know."""
    name = iana_of(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_("an IANA time zone such as Europe/Berlin, or a Windows name such as "
                           "'W. Europe Standard Time'")) from None
    if name not in MAPPED_IANA_NAMES:
        raise ValueError(_("a zone with a Windows name in CLDR, so that Outlook can be told which zone appointments "
                           "are in; '{name}' has none: use the zone's canonical IANA name (e.g. Europe/Berlin)").format(
            name=name))
    return name


def as_test_result(message: str, conn_id: str | None) -> str:
    """A message for the connection form's Test: Airflow tests a copy of the form under a random id
    (e.g. 'jbAt6RMJ'), which would only confuse; the admin is looking at the connection, so it is
    "this connection" there (capitalised at the start of a sentence), in English and the admin's language."""
    if not conn_id:
        return message
    named = [f"Airflow connection '{conn_id}'", _("Airflow connection '{conn_id}'").format(conn_id=conn_id),
             f"connection '{conn_id}'", _("connection '{conn_id}'").format(conn_id=conn_id),
             _("Connection '{conn_id}'").format(conn_id=conn_id)]
    this = _("this connection")
    pattern = re.compile("|".join(re.escape(n) for n in sorted(set(named), key=len, reverse=True)), re.IGNORECASE)

    def replace(match: re.Match) -> str:
        before = message[: match.start()].rstrip(" ")
        starts = not before or before.endswith((".", "\n", ":", "-"))
        return this[:1].upper() + this[1:] if starts else this

    return pattern.sub(replace, message)
