"""The language setting, the catalog, and a German text for every message the admin may read."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from oh_outlook_provider.i18n import language
from oh_outlook_provider.i18n.language import DOMAIN, LOCALE_DIR, _, current_language, translator

PACKAGE = Path(language.__file__).resolve().parents[1]
DAGS = PACKAGE.parent / "dags"  # the example DAGs' descriptions and docs, shown in the UI
# `N_` marks a message in sync/ (pure, no i18n import) that the runner translates where it shows it.
KEYWORDS = {"_": None, "N_": None, "pgettext": ((1, "c"), 2)}
PO = LOCALE_DIR / "de" / "LC_MESSAGES" / f"{DOMAIN}.po"
POT = LOCALE_DIR / f"{DOMAIN}.pot"  # the template `pybabel update` merges into each language
MO = PO.with_suffix(".mo")
FIELD = re.compile(r"\{(\w*)\}")


def source_messages() -> set[tuple[str | None, str]]:
    """(context, message) of every `_("...")`, `N_("...")` and `pgettext("context", "...")` of the package and
    the example DAGs, as Babel's extraction finds it (context None but for pgettext)."""
    return {(found[4], found[2]) for root in (PACKAGE, DAGS)
            for found in extract_from_dir(str(root), keywords=KEYWORDS) if found[2]}


def german_of(context: str | None, message: str) -> str:
    german = translator("de")
    return german.pgettext(context, message) if context else german.gettext(message)


@pytest.mark.parametrize(("setting", "expected"), [
    ("de", "de"), ("en", "en"), ("DE", "de"), ("de_DE", "de"), ("de-AT", "de"), ("fr", "en"), ("", "de")])
def test_the_setting_chooses_the_language_and_an_unknown_one_is_english(monkeypatch, setting, expected):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", setting)
    assert current_language() == expected


def test_without_a_setting_the_default_is_german(monkeypatch):
    monkeypatch.delenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", raising=False)
    assert current_language() == "de"


def test_a_message_follows_the_setting_from_the_next_message_on(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    assert _("Certificates & secrets") == "Zertifikate & Geheimnisse"
    assert _("API permissions") == "API-Berechtigungen"
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "en")
    assert _("Certificates & secrets") == "Certificates & secrets"


def test_every_message_in_the_source_has_a_german_translation():
    """Fails when a new `_("...")` has no German text: run the extract/update/compile steps of the README."""
    untranslated = sorted(m for c, m in source_messages() if german_of(c, m) == m and not _same_in_german(m))
    assert untranslated == [], "messages without a German text:\n" + "\n".join(untranslated)


# form labels and names that stay as they are
SAME_IN_GERMAN = {"OK", "OPTIONAL", "ok", "Entra", "{name} (optional)", "'Client secret valid until'", "Certificate"}


def _same_in_german(message: str) -> bool:
    return message in SAME_IN_GERMAN


def test_the_catalog_has_no_stale_or_fuzzy_entry_and_keeps_every_placeholder():
    catalog = read_po(PO.open("rb"))
    entries = {(m.context, m.id): m for m in catalog if m.id}
    assert set(entries) == source_messages(), "the .po differs from the source: extract and update again"
    for message in entries.values():
        assert message.string and not message.fuzzy, message.id
        assert sorted(FIELD.findall(message.id)) == sorted(FIELD.findall(message.string)), message.id


def test_the_shipped_mo_is_compiled_from_the_po():
    """Message by message, not byte by byte: each Babel release writes its own version into the header."""
    import gettext

    shipped = gettext.GNUTranslations(MO.open("rb"))._catalog
    compiled = io.BytesIO()
    write_mo(compiled, read_po(PO.open("rb")))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)._catalog
    without_header = {k: v for k, v in expected.items() if k != ""}
    assert {k: v for k, v in shipped.items() if k != ""} == without_header, "compile the catalog again (pybabel compile)"


def test_the_microsoft_admin_center_names_are_the_german_ones(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    texts = " ".join(german_of(c, m) for c, m in source_messages())
    for name in ("App-Registrierungen", "API-Berechtigungen", "Zertifikate & Geheimnisse",
                 "Administratorzustimmung für <Ihre Firma> erteilen", "Anwendungsberechtigungen", "Übersicht"):
        assert name in texts
    assert "App registrations" not in texts and "Grant admin consent" not in texts


def test_the_template_holds_exactly_the_messages_of_the_source():
    """The .pot is what the README's `pybabel update` merges into a language: a stale one would drop or
    miss messages there (it had fallen 82 messages behind the .po once)."""
    template = {(m.context, m.id) for m in read_po(POT.open("rb")) if m.id}
    assert template == source_messages(), "extract the template again (the README's pybabel extract)"


def test_a_tenants_language_holds_inside_speaking_and_the_setting_counts_again_after(monkeypatch):
    from oh_outlook_provider.i18n import speaking

    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    with speaking("en"):
        assert current_language() == "en" and _("Calendar sync:") == "Calendar sync:"
        with speaking(None):  # a tenant without its own language: the setting
            assert current_language() == "de"
        assert current_language() == "en"
    assert current_language() == "de" and _("Calendar sync:") == "Kalendersynchronisierung:"


def test_tenants_checked_at_once_in_one_process_keep_their_own_language_and_pass_it_to_their_threads(monkeypatch):
    """Bug: the tenant's language was one process-wide value; two tenants in threads restored each other's,
    and English stuck for every later message of the process."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from oh_outlook_provider.i18n import carried, speaking

    monkeypatch.setenv("AIRFLOW__OH_OUTLOOK__LANGUAGE", "de")
    barrier, seen = threading.Barrier(2), {}

    def tenant(language):
        with speaking(language):
            barrier.wait()
            with ThreadPoolExecutor(2, **carried()) as pool:
                seen[language] = (current_language(), list(pool.map(lambda _: current_language(), range(2))))
            barrier.wait()

    threads = [threading.Thread(target=tenant, args=(language,)) for language in ("en", "de")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"en": ("en", ["en", "en"]), "de": ("de", ["de", "de"])}
    assert current_language() == "de"
