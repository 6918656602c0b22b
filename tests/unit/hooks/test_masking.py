"""mask_secrets: every value reaches Airflow's masker once per process; empty values never."""

from __future__ import annotations

import threading

import airflow.sdk.log
import pytest

from oh_outlook_provider.hooks.masking import mask_secrets


@pytest.fixture
def masked(monkeypatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(airflow.sdk.log, "mask_secret", lambda value, name=None: calls.append(value))
    return calls


def test_each_value_is_registered_once(masked):
    mask_secrets("masking-test-secret-1", "masking-test-token-1")
    mask_secrets("masking-test-secret-1")
    mask_secrets("masking-test-token-1", "masking-test-secret-1")
    assert masked == ["masking-test-secret-1", "masking-test-token-1"]


def test_empty_values_are_skipped(masked):
    mask_secrets(None, "", "masking-test-secret-2")
    assert masked == ["masking-test-secret-2"]


def test_many_threads_register_a_value_only_once(masked):
    threads = [threading.Thread(target=mask_secrets, args=("masking-test-shared-3",)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert masked == ["masking-test-shared-3"]


def test_a_registered_value_is_redacted_by_airflow():
    from tests.airflow_lines import secrets_masker
    redact = secrets_masker.redact

    mask_secrets("masking-test-real-4")
    assert redact("token masking-test-real-4 here") == "token *** here"
