"""Which language the provider speaks, and the stdlib gettext catalog for it.

The setting is Airflow's config option ``[oh_outlook] language`` (environment:
``AIRFLOW__OH_OUTLOOK__LANGUAGE``), ``de`` or ``en``; default ``de``: the business, the admin and
openHandwerk's setup guide are German, and the names in the admin's Microsoft admin center are the
German ones. English is the source text (the msgids), so it is always there, also for an unknown
language. The catalogs are compiled ``.mo`` files shipped as package data
(``locale/<lang>/LC_MESSAGES/oh_outlook_provider.mo``), built from the ``.po`` with Babel.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

DOMAIN = "oh_outlook_provider"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
SECTION, OPTION = "oh_outlook", "language"
ENVIRONMENT = "AIRFLOW__OH_OUTLOOK__LANGUAGE"
# A tenant's own language (the fleet's registry), over the setting while a tenant's task runs: per thread
# and context (two tenants checked at once in one process do not trade languages); the threads a sync
# starts take it over through `carried()`.
_spoken: ContextVar[str | None] = ContextVar("oh_outlook_language", default=None)


def _normal(value: str | None) -> str:
    value = (value or DEFAULT_LANGUAGE).strip().lower().replace("_", "-").split("-")[0]
    return value if value in LANGUAGES else "en"


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Messages built inside are in `language` (``de``/``en``; None: the setting), e.g. one tenant's
    task in the fleet DAG; the setting counts again afterwards. A context variable: other threads keep
    their own, except the worker threads started with `carried()`."""
    token = _spoken.set(_normal(language) if language else None)
    try:
        yield
    finally:
        _spoken.reset(token)


def _adopt(language: str | None) -> None:
    _spoken.set(language)


def carried() -> dict[str, Any]:
    """``ThreadPoolExecutor(**carried(), ...)``: its worker threads speak the language of the thread
    that starts the pool (a tenant's, inside `speaking()`), not only the setting."""
    return {"initializer": _adopt, "initargs": (_spoken.get(),)}


def current_language() -> str:
    """``de`` or ``en``: the language of `speaking()` where one is set, else Airflow's config option
    (which reads the environment variable first), or the environment variable alone where Airflow's
    configuration is not importable; unknown values fall back to English, the source text, rather
    than failing where an error is being reported."""
    spoken = _spoken.get()
    if spoken is not None:
        return spoken
    try:
        from airflow.configuration import conf

        value = conf.get(SECTION, OPTION, fallback=DEFAULT_LANGUAGE)
    except ImportError:
        value = os.environ.get(ENVIRONMENT, DEFAULT_LANGUAGE)
    return _normal(value)


@cache
def translator(language: str) -> gettext.NullTranslations:
    """The catalog of `language` (``en``: the messages as written)."""
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])


def _(message: str) -> str:
    """`message` (an English msgid, with ``{name}`` placeholders filled in by ``.format`` afterwards)
    in the language of the setting."""
    return translator(current_language()).gettext(message)


def pgettext(context: str, message: str) -> str:
    """`message` in the language of the setting, as meant in `context` (gettext's msgctxt; Babel extracts
    it by default): one English word ("employee") may need two translations (a column's "Mitarb.", a
    record's "Mitarbeiter")."""
    return translator(current_language()).pgettext(context, message)
