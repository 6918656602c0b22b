"""The Airflow UI as an admin meets it, in Debian's Chromium driven by Playwright, against the stack.

Asserts on visible text only (labels, toasts, log lines), so small UI changes do not break it.
A screenshot of each step goes to .ui-screenshots/ (or OH_UI_SCREENSHOTS); `.ci/run` lists them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from devtools.sandbox import control
from devtools.sandbox.state import CLIENT_ID
from tests.e2e.form_browser import add_form
from tests.stack.conftest import settle, trigger, wait_run

pytestmark = [pytest.mark.stack, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OH_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("OH_UI_SCREENSHOTS", ROOT / ".ui-screenshots"))
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this machine refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SYNC = "oh_outlook_calendar_sync"
BACKFILL = "oh_outlook_calendar_backfill"
SETUP = "oh_outlook_setup_check"
SECRET_LABEL = "Client secret VALUE (Geheimer Clientschlüssel, Wert)"


@pytest.fixture(scope="module")
def page(stack):
    if not Path(CHROMIUM).exists():
        reason = f"Debian's Chromium is not at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(20_000)
        tab = context.new_page()
        tab.base = stack.settings.api_url
        try:
            yield tab
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{len(list(SHOTS.iterdir())) + 1:02d}-{name}.png", full_page=True)


def open_page(page, path: str) -> None:
    page.goto(page.base + path)
    page.wait_for_load_state("networkidle")


def test_01_log_in(page):
    open_page(page, "/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    shot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Dags").first.wait_for()
    shot(page, "home")


def test_02_add_an_office365_connection_with_the_form(page, shared_sandbox):
    values = shared_sandbox.office365_connection()
    open_page(page, "/connections")
    form = add_form(page, "o365_ui", "Office 365")
    form.get_by_label("Application (client) ID (Anwendungs-ID)").fill(values["login"])
    form.get_by_label(SECRET_LABEL).fill(values["password"])
    form.get_by_role("button", name="Extra Fields", exact=True).click()
    # Item 9: the format hints are shown under the fields.
    form.get_by_text("a GUID such as 6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d").wait_for()
    form.get_by_text("as 2028-11-26 or 26.11.2028").wait_for()
    for key in ("tenant_id", "credential_valid_until", "authority_url", "graph_url", "ca_bundle"):
        form.locator(f"[name=element_{key}]").fill(str(values["extra"][key]))
    shot(page, "add-connection")
    form.get_by_role("button", name="Save").click()
    page.get_by_role("row").filter(has_text="o365_ui").wait_for()


def _test_button(page, conn_id: str) -> str:
    """Click the row's Test button; the toast's text."""
    open_page(page, "/connections")
    page.get_by_role("row").filter(has_text=conn_id).get_by_role("button", name="Test Connection").click()
    toast = page.get_by_role("status").filter(has_text="Test Connection")
    toast.first.wait_for()
    # The toast slides in from below: the screenshot shows what the admin reads once it stands, and
    # the whole message must be inside the window by then (a long one is cut off at the bottom).
    page.wait_for_function("el => { const r = el.getBoundingClientRect(); return r.bottom <= window.innerHeight; }",
                           arg=toast.first.element_handle(), timeout=5000)
    shot(page, f"test-{conn_id}")
    return toast.first.inner_text()


def test_03_test_button_works_for_form_made_and_stored_connections(page):
    """Item 1: Airflow 3.3.2's form sends port 0; the provider's plugin makes Test work anyway."""
    for conn_id in ("o365_ui", "office365_default", "openhandwerk_default"):
        text = _test_button(page, conn_id)
        assert "Test Connection Successful" in text and "Connection OK" in text, (conn_id, text)
        if conn_id != "openhandwerk_default":  # issue 22: every step of the guide, one line each, in the toast
            assert "Connection OK: 11 of 12 steps of the setup checked" in text and "7. OK Calendars.ReadWrite" in text
            assert "12. OPTIONAL Application.Read.All (optional)" in text, (conn_id, text)


def test_04_wrong_secret_names_the_fix_not_a_random_connection_id(page):
    open_page(page, "/connections")
    page.get_by_role("row").filter(has_text="o365_ui").get_by_role("button", name="Edit Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_label(SECRET_LABEL).fill("a-wrong-secret-value")
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="hidden")
    text = _test_button(page, "o365_ui")
    assert "Test Connection Failed" in text and "AADSTS7000215" in text, text
    assert "Paste the secret's VALUE" in text and "into this connection" in text, text  # item 3
    assert "a-wrong-secret-value" not in text


def test_05_edit_form_shows_every_field_of_a_connection_made_without_them(page):
    """Item 2: o365_ui was saved without a certificate; its edit form still offers the certificate fields."""
    open_page(page, "/connections")
    page.get_by_role("row").filter(has_text="o365_ui").get_by_role("button", name="Edit Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_role("button", name="Extra Fields", exact=True).click()
    for label in ("Certificate private key (PEM, instead of a secret)", "Certificate thumbprint", "Target calendar name"):
        form.get_by_text(label, exact=True).wait_for()
    shot(page, "edit-connection-certificate-fields")
    page.keyboard.press("Escape")


def test_06_trigger_the_sync_with_params_from_the_form_and_read_the_mailbox_table(page, api, tenant):
    since = time.time()
    open_page(page, f"/dags/{SYNC}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    form.get_by_text("Parallel sync tasks").wait_for()  # item 8: every param is documented in the form
    form.locator("[name=element_shards]").fill("2")
    shot(page, "trigger-form")
    form.get_by_role("button", name="Trigger", exact=True).click()
    page.wait_for_url(re.compile(r".*/runs/manual__.*"))
    run_id = page.url.rsplit("/runs/", 1)[1].split("/")[0]
    _wait_for_text(page, f"/dags/{SYNC}/runs/{run_id}", re.compile(re.escape(run_id) + r"\s+Success"))
    shot(page, "sync-run-success")
    open_page(page, f"/dags/{SYNC}/runs/{run_id}/tasks/sync_calendars/mapped/0")
    log = page.get_by_text(re.compile(r"mailbox\s+status\s+create\s+update\s+delete\s+same"))
    log.first.wait_for()
    text = page.locator("body").inner_text()
    assert re.search(r"\ntotal\s+\d+", text) and "Syncing appointments starting" in text
    assert "(Europe/Berlin)" in text  # item 6: the window in the business's zone, to the minute
    shot(page, "sync-task-log")
    settle(api, SYNC, _utc(since))


BACKFILL_ROW = re.compile(r"(backfill__\S+)\s+\S+\s+\S+\s+(\w+)\s+Backfill")  # id, run after, state, type


def backfill_rows(text: str) -> list[tuple[str, str]]:
    """(run id, state) of the runs table's backfill rows; a narrow column wraps ids after a '-'."""
    return BACKFILL_ROW.findall(re.sub(r"-\s*\n\s*", "-", text))


def test_07_backfill_two_days_from_the_ui(page, api, tenant):
    from playwright.sync_api import expect

    since = time.time()
    # The runs there before, from the REST API: a runs page read too early may not show its table yet.
    before = {r["dag_run_id"] for r in api.get(f"dags/{BACKFILL}/dagRuns", limit=100)["dag_runs"]}
    first = dt.date.today() - dt.timedelta(days=10)  # days no other test has run
    open_page(page, f"/dags/{BACKFILL}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    form.get_by_text("Backfill", exact=True).click()
    pickers = form.get_by_test_id("datetime-input")  # From, To; each opens a date and a time field
    for index, day in enumerate((first, first + dt.timedelta(days=2))):  # the form's zone is UTC: two Berlin
        pickers.nth(index).click()                                       # midnights lie in between
        page.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
        page.get_by_placeholder("HH:mm").fill("00:00")
        page.keyboard.press("Escape")
        expect(page.get_by_placeholder("YYYY/MM/DD")).to_have_count(0)  # closed before the next one opens
    form.get_by_text("2 runs will be triggered.").wait_for()
    shot(page, "backfill-form")
    form.get_by_role("button", name="Run Backfill").click()

    def new_runs(text: str) -> dict[str, str]:
        return {run: state for run, state in backfill_rows(text) if run not in before}

    text = _wait_for_text(page, f"/dags/{BACKFILL}/runs",
                          lambda t: len(new_runs(t)) == 2 and set(new_runs(t).values()) <= {"Success", "Failed"})
    assert list(new_runs(text).values()) == ["Success", "Success"], new_runs(text)
    shot(page, "backfill-runs-success")
    settle(api, BACKFILL, _utc(since))


def _text_of(page, path: str) -> str:
    open_page(page, path)
    return page.locator("body").inner_text()


def _wait_for_text(page, path: str, wanted, timeout: float = 180) -> str:
    """Reload `path` until its text matches (a regex or a predicate); the page's text."""
    deadline = time.monotonic() + timeout
    while True:
        text = _text_of(page, path)
        if (wanted(text) if callable(wanted) else wanted.search(text)):
            return text
        if time.monotonic() > deadline:
            shot(page, "timeout")
            raise AssertionError(f"{path}: not found after {timeout:.0f}s:\n{text[:2000]}")
        time.sleep(2)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


# ---------------------------------------------------------------------------------------------- issue 22
def speak(stack, language: str, *components: str, timeout: float = 120) -> None:
    """Restart `components` with `[oh_outlook] language` = `language` (read per process, as an admin sets it in
    the Airflow config the stack's processes share); the tests before this ran the suite's English. All are killed,
    then started side by side (each spends seconds importing Airflow; one after the other they took 31 s), and the
    stack must be healthy again with every restarted Celery worker ready (Stack.restart's checks, for several)."""
    ready = {name: stack.log_of(name).count(" ready.") for name in components}
    for name in components:
        stack.kill(name)
    for name in components:
        args, env = stack._commands[name]
        stack._spawn(name, args, {**env, "AIRFLOW__OH_OUTLOOK__LANGUAGE": language})
    deadline = time.monotonic() + timeout
    for name in (n for n in components if n in stack.settings.worker_names):
        while stack.log_of(name).count(" ready.") == ready[name]:
            if time.monotonic() > deadline or stack.processes[name].poll() is not None:
                raise RuntimeError(f"{name} did not start again; see {stack.logs}/{name}.log")
            time.sleep(0.5)
    stack.wait_healthy(max(1.0, deadline - time.monotonic()))


def test_08_the_german_test_toast_for_success_and_for_the_wrong_permission(page, stack, shared_sandbox):
    """From here on the stack speaks the product's default, German: the API server (Test) and the workers (task logs)."""
    speak(stack, "de", "api-server", *stack.settings.worker_names)
    page.reload()
    text = _test_button(page, "office365_default")
    assert "Verbindung OK: 11 von 12 Schritten der Einrichtung geprüft" in text and "7. OK Calendars.ReadWrite" in text, text
    assert "6. OK User.Read.All" in text and "8. OK Administratorzustimmung" in text
    control.pick_calendars_read(shared_sandbox.state)  # guide step 9: the first search hit picked
    try:
        text = _test_button(page, "office365_default")
    finally:  # the guide's permissions again, for the test after this one
        control.grant(shared_sandbox.state, "Calendars.ReadWrite")
        shared_sandbox.state.apps[CLIENT_ID].roles.discard("Calendars.Read")
    assert "Test Connection Failed" in text, text
    assert "Einrichtung unvollständig: Prüfung 7 'Calendars.ReadWrite' fehlgeschlagen (Anleitung: Berechtigung " \
        "erteilen, Schritt 9)" in text and "API-Berechtigungen" in text and "7. FEHLER Calendars.ReadWrite" in text, text


def test_09_the_setup_dags_log_table_in_german(page, api):
    since = time.time()
    run_id = trigger(api, SETUP)
    assert wait_run(api, SETUP, run_id)["state"] == "success"
    open_page(page, f"/dags/{SETUP}/runs/{run_id}/tasks/office365")
    page.get_by_text(re.compile(r"Einrichtungsprüfung: Office 365")).first.wait_for()
    text = page.locator("body").inner_text()
    assert re.search(r"7\. OK\s+Calendars\.ReadWrite", text) and re.search(r"8\. OK\s+Administratorzustimmung", text)
    assert "Verbindung OK: 11 von 12 Schritten der Einrichtung geprüft" in text, text[-3000:]
    assert re.search(r"12\. OPTIONAL\s+Application\.Read\.All \(optional\)", text), text[-3000:]
    shot(page, "setup-check-task-log-de")
    settle(api, SETUP, _utc(since))
