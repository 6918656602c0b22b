"""Drives an Airflow UI's connection form in Debian's Chromium (tests/e2e/test_legacy_form_browser.py).

Run with the repository's main environment, which has Playwright:
`python -m tests.e2e.form_browser URL CONNECTION_JSON SCREENSHOT_DIR CHROMIUM`. Adds the connection `o365_ui` of
type Office 365 through the Add form, clicks the row's Test button where the line has one, opens the edit form,
and prints one JSON line of what it saw: our labels and hints, saved, test_button, test_toast, edit_fields.
A screenshot of each step goes to SCREENSHOT_DIR (`legacy-form-*.png`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Without the background-networking flags Chromium keeps dialling Google's hosts, which this machine refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
LABELS = ("Application (client) ID (Anwendungs-ID)", "Client secret VALUE (Geheimer Clientschlüssel, Wert)")
HINTS = ("a GUID such as 6f1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",)
FILLED = ("tenant_id", "credential_valid_until", "authority_url", "graph_url", "ca_bundle")


def add_form(page, conn_id: str, conn_type: str):
    """On the connections list: open the Add form, name the connection, pick its type; the form's dialog
    (a Playwright Locator). The same on every Airflow 3 line; the stack's browser suite uses it too."""
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Connection ID").fill(conn_id)
    form.get_by_role("combobox").first.click()
    page.keyboard.type(conn_type)
    page.keyboard.press("Enter")
    return form


def drive(url: str, values: dict, shots: Path, chromium: str) -> dict:
    """The steps in the browser; what the form showed."""
    from playwright.sync_api import sync_playwright

    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(30_000)

        def shot(name: str) -> None:
            page.screenshot(path=shots / f"legacy-form-{name}.png", full_page=True)

        try:
            page.goto(url + "/connections")
            form = add_form(page, "o365_ui", "Office 365")
            form.get_by_text(LABELS[0], exact=True).wait_for()
            seen["labels"] = {label: form.get_by_text(label, exact=True).count() > 0 for label in LABELS}
            form.get_by_label(LABELS[0]).fill(values["login"])
            form.get_by_label(LABELS[1]).fill(values["password"])
            form.get_by_role("button", name="Extra Fields", exact=True).click()
            form.get_by_text(HINTS[0]).first.wait_for()
            seen["hints"] = {hint: form.get_by_text(hint).count() > 0 for hint in HINTS}
            for key in FILLED:
                form.locator(f"[name=element_{key}]").fill(str(values["extra"][key]))
            shot("add")
            form.get_by_role("button", name="Save").click()
            row = page.get_by_role("row").filter(has_text="o365_ui")
            row.wait_for()
            seen["saved"] = True
            shot("saved")
            test_button = row.get_by_role("button", name="Test Connection")
            seen["test_button"] = test_button.count() > 0
            if seen["test_button"]:
                test_button.click()
                toast = page.get_by_role("status").filter(has_text="Test Connection")
                toast.first.wait_for()
                seen["test_toast"] = toast.first.inner_text()
                shot("test")
            row.get_by_role("button", name="Edit Connection").click()
            form = page.get_by_role("dialog")
            form.get_by_role("button", name="Extra Fields", exact=True).click()
            form.locator("[name=element_tenant_id]").wait_for()
            names = form.locator("[name^=element_]").evaluate_all("els => els.map(e => e.getAttribute('name'))")
            seen["edit_fields"] = sorted(name.removeprefix("element_") for name in names)
            shot("edit")
        except Exception as exc:  # the step that failed, with the page as it stood
            shot("failed")
            seen["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        finally:
            browser.close()
    return seen


def main(argv: list[str]) -> int:
    url, values, shots, chromium = argv[0], json.loads(argv[1]), Path(argv[2]), argv[3]
    seen = drive(url, values, shots, chromium)
    print(json.dumps(seen))
    return 1 if "error" in seen else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
