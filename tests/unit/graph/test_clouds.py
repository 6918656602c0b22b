"""National clouds: each login host pairs with its Graph root."""

from __future__ import annotations

import dataclasses

import pytest

from oh_outlook_provider.graph.clouds import CLOUDS, Cloud


def test_each_cloud_is_keyed_by_its_own_name_and_speaks_https():
    assert set(CLOUDS) == {"global", "usgov", "usgov-dod", "china"}
    for key, cloud in CLOUDS.items():
        assert cloud.name == key
        assert cloud.authority_host.startswith("https://") and cloud.graph_root.startswith("https://")
        assert not cloud.authority_host.endswith("/") and not cloud.graph_root.endswith("/")


def test_the_pairs_microsoft_documents():
    assert CLOUDS["global"] == Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com")
    assert CLOUDS["china"].graph_root == "https://microsoftgraph.chinacloudapi.cn"
    # both US government clouds log in at one host, their Graph roots differ
    assert CLOUDS["usgov"].authority_host == CLOUDS["usgov-dod"].authority_host
    assert CLOUDS["usgov"].graph_root != CLOUDS["usgov-dod"].graph_root


def test_a_cloud_cannot_be_changed_in_place():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CLOUDS["global"].graph_root = "https://evil.example"
