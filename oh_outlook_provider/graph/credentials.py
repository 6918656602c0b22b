"""Credential lifetime: the secret's date from the connection, or a certificate's notAfter.

The admin's texts follow `[oh_outlook] language` (i18n)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from oh_outlook_provider.graph.errors import APP_NAME
from oh_outlook_provider.i18n import _


def certificate_not_after(pem: str) -> dt.datetime | None:
    """notAfter of the first CERTIFICATE block in a PEM bundle (None when there is none)."""
    marker, end_marker = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if marker not in pem:
        return None
    from cryptography import x509

    start = pem.index(marker)
    end = pem.index(end_marker, start) + len(end_marker)
    return x509.load_pem_x509_certificate(pem[start:end].encode()).not_valid_after_utc


def rotation_steps(conn_id: str, kind: str = "client secret") -> str:
    """The rotation as numbered steps, one short line each (read in the task log, not a terminal)."""
    if kind == "certificate":
        steps = [
            _("App registrations > {app} > Certificates & secrets > Certificates: upload a new one").format(app=APP_NAME),
            _("Airflow > Admin > Connections > '{conn_id}': put its PEM key and thumbprint in, Save").format(
                conn_id=conn_id),
        ]
    else:
        steps = [
            _("Microsoft Entra admin center > App registrations > {app} > Certificates & secrets").format(app=APP_NAME),
            _("New client secret (Valid: 24 months); copy the VALUE at once"),
            _("Airflow > Admin > Connections > '{conn_id}': paste it into 'Client secret VALUE',").format(conn_id=conn_id),
            "   " + _("set 'Client secret valid until' to the date shown, Save"),
            _("Delete the old secret after the next successful sync"),
        ]
    numbered, n = [], 0
    for step in steps:
        if step.startswith("   "):
            numbered.append(f"   {step.strip()}")
        else:
            n += 1
            numbered.append(f"{n}. {step}")
    return "\n" + _("Rotate it:") + "\n" + "\n".join(numbered)


@dataclass(frozen=True)
class Assessment:
    ok: bool
    days_left: int | None
    message: str
    note: str | None = None  # for the admin whatever the outcome: Entra and the connection disagree
    source: str | None = None  # where the date comes from: "Entra" or "the connection" (None: no date)


def assess(
    valid_until: dt.date | None,
    today: dt.date,
    min_valid_for: dt.timedelta,
    conn_id: str,
    kind: str = "client secret",
    token_error: str | None = None,
    expired_by_token: bool = False,
) -> Assessment:
    """Is the credential valid for at least `min_valid_for`? Pure, so sensor and trigger agree."""
    steps = rotation_steps(conn_id, kind)
    what = _("certificate") if kind == "certificate" else _("client secret")
    if expired_by_token:
        return Assessment(False, 0 if valid_until is None else min(0, (valid_until - today).days), _(
            "The {kind} of '{conn_id}' is expired (AADSTS7000222), whatever date is set. {steps}").format(
            kind=what, conn_id=conn_id, steps=steps))
    if token_error:
        return Assessment(False, None, _("Token request for '{conn_id}' failed: {error}").format(
            conn_id=conn_id, error=token_error))
    if valid_until is None:
        if min_valid_for <= dt.timedelta(0):
            return Assessment(True, None, _(
                "No expiry date set on '{conn_id}', but a token was issued. Enter 'Client secret valid until' to get "
                "warnings before it lapses.").format(conn_id=conn_id))
        return Assessment(False, None, _(
            "No expiry date set on connection '{conn_id}': enter 'Client secret valid until' (the date shown under "
            "Certificates & secrets) so the expiry can be watched.").format(conn_id=conn_id))
    days = (valid_until - today).days
    if days < 0:
        return Assessment(False, days, _("The {kind} of '{conn_id}' expired on {date} ({days} days ago). {steps}").format(
            kind=what, conn_id=conn_id, date=valid_until, days=-days, steps=steps))
    if dt.timedelta(days=days) < min_valid_for:
        return Assessment(False, days, _(
            "The {kind} of '{conn_id}' expires on {date}: {days} days left, less than the required {required}. "
            "{steps}").format(kind=what, conn_id=conn_id, date=valid_until, days=days, required=min_valid_for.days,
                              steps=steps))
    return Assessment(True, days, _("The {kind} of '{conn_id}' is valid until {date} ({days} days left).").format(
        kind=what, conn_id=conn_id, date=valid_until, days=days))


# ---------------------------------------------------------------------- the expiry Entra knows
@dataclass(frozen=True)
class Registered:
    """One credential of the app registration, as `GET /applications(appId=...)` lists it."""

    key_id: str
    description: str
    ends: dt.datetime
    hint: str = ""  # a secret's first three characters (never logged: part of the secret)
    thumbprint: str = ""  # a certificate's SHA-1 thumbprint, upper hex


def registered(application: dict) -> list[Registered]:
    """The application object's passwordCredentials and keyCredentials; unreadable entries are skipped."""
    import base64
    import binascii

    found = []
    for kind in ("passwordCredentials", "keyCredentials"):
        for item in application.get(kind) or []:
            try:
                ends = dt.datetime.fromisoformat(str(item["endDateTime"]).replace("Z", "+00:00"))
                thumbprint = ""
                if kind == "keyCredentials" and item.get("customKeyIdentifier"):
                    thumbprint = base64.b64decode(item["customKeyIdentifier"]).hex().upper()
            except (KeyError, ValueError, TypeError, binascii.Error):
                continue
            found.append(Registered(str(item.get("keyId") or "?"), str(item.get("displayName") or ""),
                                    ends if ends.tzinfo else ends.replace(tzinfo=dt.UTC),
                                    str(item.get("hint") or "") if kind == "passwordCredentials" else "", thumbprint))
    return found


ADMIN_ZONE = "Europe/Berlin"  # the day the Entra admin center shows an expiry on, for a German admin


def expiry_in_entra(credentials: list[Registered], secret: str | None, thumbprint: str | None,
                    zone: str = ADMIN_ZONE) -> tuple[dt.date | None, str]:
    """The expiry of the credential the connection uses, as the admin center shows it (a day in `zone`),
    and which entries it was read from. Secrets are told apart by their hint (Entra keeps only the
    first three characters), certificates by thumbprint; where several secrets share a hint the
    earliest end counts, so a warning never comes too late."""
    from zoneinfo import ZoneInfo

    if thumbprint:
        ours = [c for c in credentials if c.thumbprint and c.thumbprint == thumbprint.replace(":", "").upper()]
    else:
        ours = [c for c in credentials if c.hint and secret and secret.startswith(c.hint)]
    if not ours:
        return None, ""
    first = min(ours, key=lambda c: c.ends)
    which = f"'{first.description}' (ID {first.key_id})" + (
        " " + _("or {count} more alike").format(count=len(ours) - 1) if len(ours) > 1 else "")
    return first.ends.astimezone(ZoneInfo(zone)).date(), which


def reconcile(typed: dt.date | None, entra: dt.date | None, which: str, conn_id: str,
              kind: str = "client secret") -> tuple[dt.date | None, str | None]:
    """The date to watch and a note for the admin, once Entra's registration was read: Entra's date
    wins; `entra` None means no credential there matches the connection's."""
    what = _("certificate") if kind == "certificate" else _("client secret")
    if entra is None:
        return typed, _("Entra lists no credential of this app matching the {kind} of connection '{conn_id}'; watching "
                        "the connection's date.").format(kind=what, conn_id=conn_id)
    field = _("Certificate") if kind == "certificate" else _("'Client secret valid until'")
    if typed is None:
        return entra, _("Entra lists the {kind} {which} as valid until {entra}; the connection '{conn_id}' has no date, "
                        "so Entra's is watched (entering it in {field} keeps warnings working if Application.Read.All "
                        "is taken away).").format(kind=what, which=which, entra=entra, conn_id=conn_id, field=field)
    if typed != entra:
        return entra, _("The connection '{conn_id}' says the {kind} is valid until {typed}, but Entra lists {which} as "
                        "valid until {entra}: watching Entra's date. Correct {field} on the connection.").format(
            conn_id=conn_id, kind=what, typed=typed, which=which, entra=entra, field=field)
    return entra, None
