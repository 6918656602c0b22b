"""Shared fixtures: the in-process sandbox and hooks wired to it."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# The suite asserts the English texts unless a test chooses German ([oh_outlook] language; the product's default is de).
# Subprocesses (the airflow CLI, the stack) get it through devtools' environments.
os.environ.setdefault("AIRFLOW__OH_OUTLOOK__LANGUAGE", "en")

from devtools.sandbox import SandboxServer  # noqa: E402
from devtools.sandbox.state import Behaviour, SandboxState  # noqa: E402
from oh_outlook_provider.hooks.office365 import Office365Hook  # noqa: E402
from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook  # noqa: E402
from oh_outlook_provider.hooks.retry import RetryPolicy  # noqa: E402
from oh_outlook_provider.hooks.settings import office365_settings, openhandwerk_settings  # noqa: E402

BASE_DATE = dt.date(2026, 3, 20)  # a week before the DST change of 29 March 2026


def connection(data: dict, conn_id: str) -> SimpleNamespace:
    """An object shaped like airflow.sdk.Connection from the sandbox's connection dict."""
    return SimpleNamespace(conn_id=conn_id, host=data.get("host"), schema=data.get("schema"), login=data.get("login"),
                           password=data.get("password"), extra=json.dumps(data.get("extra") or {}))


def json_output(text: str):
    """The JSON document an airflow `-o json` command printed among its log lines."""
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise AssertionError(f"no JSON in output: {text[-300:]}")


def scaled_sleep(seconds: float) -> None:
    """Tests only: the sandbox sends Graph's whole-second Retry-After; tests wait 1/100 of it."""
    time.sleep(seconds / 100)


def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=12, backoff_base=0.5, backoff_max=5, wait_budget=60, sleep=scaled_sleep)


def graph_hook(server: SandboxServer, **extra) -> Office365Hook:
    settings = office365_settings(connection(server.office365_connection(**extra), "office365_default"))
    return Office365Hook(settings=settings, retry_policy=fast_retry())


def oh_hook(server: SandboxServer, **extra) -> OpenHandwerkHook:
    settings = openhandwerk_settings(connection(server.openhandwerk_connection(**extra), "openhandwerk_default"))
    return OpenHandwerkHook(settings=settings, retry_policy=fast_retry())


@pytest.fixture(autouse=True)
def _fresh_secrets_masker() -> Iterator[None]:
    """Each test starts with an empty secrets masker. Airflow's masker recompiles one regex of every
    secret on each `mask_secret` (O(n) per call): with the hundreds of tokens a test session fetches,
    each new token cost 100-370 ms and every sandbox test ran about twice as slow as alone. A task
    process never holds more than a few secrets, so this is a test-session effect only."""
    yield
    from oh_outlook_provider.hooks import masking
    from tests.airflow_lines import secrets_masker

    secrets_masker._secrets_masker().reset_masker()
    with masking._lock:
        masking._registered.clear()


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(seed=42, base_date=BASE_DATE)) as server:
        yield server


# Where Microsoft documents two behaviours or none (docs/sandbox-fidelity.md rows B5, X2, E5, E6, G1),
# every sandbox test that meets Graph's events runs under both settings (tests of Entra, openHandwerk and the user
# mapping, which no setting touches, run once: their modules' `sandbox` is `tenant`): the current throttling page
# with the first event returned for a repeated transactionId, a replacing PATCH, the address as written and 409 for a
# repeated category; and the older all-at-once execution with the repeat refused, a merging PATCH,
# every address property echoed and 400 for a repeated category.
# What Exchange keeps of texts and times (rows E7-E10) rides along: the first stores a long text cut, line
# breaks dropped, seconds and categories as written; the second refuses a long text, makes breaks spaces,
# drops seconds and repeated categories. The third way (cut with "...", breaks kept) changes only what
# Exchange keeps of a text, so it runs with the tests that could tell it apart (STORES: the text
# round-trip tests and the state machine), not with every sandbox test (make test stays under 10 minutes).
BEHAVIOURS = {
    "graph-4-at-a-time": Behaviour(batch_execution="four_at_a_time", duplicate_transaction="first_event",
                                   long_text="truncate", line_breaks="drop", time_precision="seconds",
                                   event_categories="as_written"),
    "graph-all-at-once": Behaviour(batch_execution="all_at_once", duplicate_transaction="error", complex_patch="merge",
                                   address_echo="all_keys", duplicate_category="bad_request", long_text="refuse",
                                   line_breaks="space", time_precision="minutes", event_categories="deduplicated"),
}
STORES = {**BEHAVIOURS, "exchange-ellipsis-keeps-breaks": Behaviour(long_text="ellipsis", line_breaks="keep")}
# OH_TEST_BEHAVIOURS (comma-separated names) runs the sandbox tests under those bundles only: the matrix's older Airflow
# lines (devtools/matrix.py) take one, as what differs between the bundles is Microsoft's, not Airflow's.
if os.environ.get("OH_TEST_BEHAVIOURS"):
    _chosen = {name.strip() for name in os.environ["OH_TEST_BEHAVIOURS"].split(",")}
    assert _chosen <= set(STORES), f"OH_TEST_BEHAVIOURS names none of {sorted(STORES)}: {sorted(_chosen)}"
    BEHAVIOURS = {name: b for name, b in BEHAVIOURS.items() if name in _chosen}
    STORES = {name: b for name, b in STORES.items() if name in _chosen}


@pytest.fixture(params=list(BEHAVIOURS))
def sandbox(shared_sandbox: SandboxServer, request: pytest.FixtureRequest) -> SandboxServer:
    """The session's server with fresh default data for each test, once per Graph behaviour."""
    shared_sandbox.state.reload(seed=42, base_date=BASE_DATE, employees=12, appointments_per_employee=12,
                                latency_ms=0.0, jitter_ms=0.0, faults=None, limits=None, access_policy=True,
                                behaviour=BEHAVIOURS[request.param], rbac_scope=False)
    return shared_sandbox


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first (before the session's sandbox starts its server thread: a unit test that patches asyncio.sleep
    must not see the server's 0.1 s ticks), then the sandbox tests, then the Airflow CLI runs (e2e), the distributed
    stack's suites last. In `make test` the stack runs in a process of its own beside the rest: the in-process tests
    share the machine with the stack's start-up, the CLI runs (a core each) come when the stack mostly waits."""
    unit = Path(__file__).parent / "unit"
    items.sort(key=lambda item: (item.get_closest_marker("stack") is not None, item.get_closest_marker("e2e") is not None,
                                 unit not in item.path.parents))


@pytest.fixture
def tenant(shared_sandbox: SandboxServer) -> SandboxServer:
    """The session's sandbox with fresh data and Microsoft's defaults, for what does not depend on the Graph
    behaviours (the setup checklist and the sandbox's setup mistakes)."""
    shared_sandbox.state.reload(seed=42, base_date=BASE_DATE, employees=12, appointments_per_employee=12,
                                latency_ms=0.0, jitter_ms=0.0, faults=None, limits=None, access_policy=True,
                                behaviour=None, rbac_scope=False)
    return shared_sandbox
