"""The wording of the parser's rejection reasons (openhandwerk/api.py), in the admin's language.

Each helper is asked only for a record that has a problem: every message reads the language setting
(`oh_outlook_provider.i18n`), which the valid records of a run must not pay for.
"""

from __future__ import annotations

from typing import Any

from oh_outlook_provider.i18n import _, pgettext


def kind_name(kind: str) -> str:
    """The name of a kind of record in the admin's language ("appointment": "Termin", "employee":
    "Mitarbeiter"); any other text (a label in that language already) as it is."""
    return {"appointment": pgettext("record", "appointment"), "employee": pgettext("record", "employee")}.get(kind, kind)


def moment_name(what: str) -> str:
    """"start" or "end" in the admin's language ("Beginn", "Ende")."""
    return {"start": _("start"), "end": _("end")}.get(what, what)


def shown(value: Any) -> str:
    """A value's type and a short excerpt: "a float (1.5)", "vom Typ float (1.5)"."""
    text = repr(value)
    return _("a {type} ({excerpt})").format(type=type(value).__name__,
                                            excerpt=f"{text[:40]}{'...' if len(text) > 40 else ''}")


def unreadable(exc: Exception) -> str:
    """The reason for a record of a shape nobody foresaw: its error's type and first 80 characters."""
    return _("unreadable record ({error})").format(error=f"{type(exc).__name__}: {str(exc)[:80]}")
