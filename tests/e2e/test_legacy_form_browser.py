"""The connection form of an Airflow older than 3.3 in a browser (issue 23): the UI renders the hook's Python form
(hooks/connection_form.py, through the FAB provider), so the Add form must show our fields, save a connection that
then tests OK, and show every field again when edited.

The line's own api-server (this test's Python, a SQLite metadata DB in a temporary AIRFLOW_HOME) serves the UI;
Debian's Chromium is driven by Playwright from the repository's main environment (`make install`), which holds the
`test` extra, as a separate process (tests/e2e/form_browser.py), since the line's environment has no Playwright.
Not collected from 3.3 on (tests/e2e/conftest.py): there the form is the declarative one, which the stack's browser
suite drives (tests/stack/test_ui_browser.py). The matrix runs it on the oldest line (devtools/matrix.py).

3.0's UI has no Test button (it came with 3.1): the saved connection is tested with `airflow connections test`,
which reads it from the metadata DB as the API's test does from 3.1 on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devtools.demo import airflow_env
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CHROMIUM = os.environ.get("OH_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT_PYTHON = Path(os.environ.get("OH_PLAYWRIGHT_PYTHON", ROOT / ".venv" / "bin" / "python"))
SHOTS = Path(os.environ.get("OH_UI_SCREENSHOTS", ROOT / ".ui-screenshots"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def api_server(airflow_home, shared_sandbox):
    """The line's api-server on a free port; every user an admin (the stack's browser suite logs in)."""
    if not Path(CHROMIUM).exists() or not PLAYWRIGHT_PYTHON.exists():
        reason = f"needs Debian's Chromium ({CHROMIUM}) and Playwright in {PLAYWRIGHT_PYTHON} (`make install`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    env = {**airflow_env(airflow_home, shared_sandbox, ROOT / "dags", connections=False),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    log = (airflow_home / "api-server.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "api-server", "--port", str(port),
                               "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/v2/version", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((airflow_home / "api-server.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_add_form_shows_our_fields_and_the_saved_connection_tests_ok(api_server, today_sandbox):
    from tests.airflow_lines import CONNECTION_TEST_READS_STORED

    url, env = api_server
    values = today_sandbox.office365_connection()
    SHOTS.mkdir(parents=True, exist_ok=True)
    driven = subprocess.run([str(PLAYWRIGHT_PYTHON), "-m", "tests.e2e.form_browser", url, json.dumps(values),
                             str(SHOTS), CHROMIUM], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert driven.returncode == 0, (driven.stdout + driven.stderr)[-3000:]
    seen = json.loads(driven.stdout.strip().splitlines()[-1])
    # Our labels and format hints (from get_provider_info's conn-fields, through the hook's Python form).
    assert all(seen["labels"].values()) and all(seen["hints"].values()), seen
    assert seen["saved"]
    # The edit form offers the fields the Add form left empty (a certificate instead of the secret).
    assert {"tenant_id", "certificate_private_key", "certificate_thumbprint", "calendar_name"} <= set(seen["edit_fields"])
    assert seen["test_button"] == CONNECTION_TEST_READS_STORED  # 3.0's UI has none; 3.1 brought it
    if seen["test_button"]:
        assert "Connection OK" in seen["test_toast"], seen["test_toast"]
    tested = subprocess.run([str(Path(sys.executable).parent / "airflow"), "connections", "test", "o365_ui"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert tested.returncode == 0 and "Connection success!" in tested.stdout, tested.stdout[-3000:]
