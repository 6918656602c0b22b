"""The roles claim read from a token, the registration's requiredResourceAccess read back."""

from __future__ import annotations

import base64
import json

import pytest

from oh_outlook_provider.graph import permissions as p


def jwt(claims) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2lnbmF0dXJl"


@pytest.mark.parametrize(("token", "roles"), [
    (jwt({"roles": ["User.Read.All", "Calendars.ReadWrite"]}), {"User.Read.All", "Calendars.ReadWrite"}),
    (jwt({"idtyp": "app"}), set()),  # no consent: Entra leaves the claim out
    (jwt({"roles": []}), set()),
    (jwt({"roles": "User.Read.All"}), None),  # not the documented shape: nothing concluded
    (jwt(["not", "an", "object"]), None),
    ("opaque-token", None),
    ("a.%%%.c", None),
])
def test_the_roles_claim_is_read_without_a_signature_check(token, roles):
    assert p.token_roles(token) == (None if roles is None else frozenset(roles))


def test_required_resource_access_round_trips_role_and_scope():
    added = {"User.Read.All": "Role", "Calendars.ReadWrite": "Scope"}
    value = p.required_resource_access(added)
    assert value[0]["resourceAppId"] == p.GRAPH_APP_ID
    assert {"id": "ef54d2bf-783f-4e0f-bca1-3210c0444d99", "type": "Role"} not in value[0]["resourceAccess"]
    assert {"id": "1ec239c2-d7c9-4623-a91a-a9775856bb36", "type": "Scope"} in value[0]["resourceAccess"]
    assert p.configured({"requiredResourceAccess": value}) == {"User.Read.All": {"Role"}, "Calendars.ReadWrite": {"Scope"}}


def test_other_resources_and_unknown_ids_are_left_out():
    app = {"requiredResourceAccess": [
        {"resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
         "resourceAccess": [{"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"}]},
        {"resourceAppId": p.GRAPH_APP_ID, "resourceAccess": [{"id": "00000000-0000-0000-0000-000000000000",
                                                              "type": "Role"}, None]}]}
    assert p.configured(app) == {} and p.configured({}) == {} and p.required_resource_access({}) == []
