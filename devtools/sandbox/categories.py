"""The mailbox's master category list: `/users/{id}/outlook/masterCategories` (fidelity row G1).

List (`GET`, MailboxSettings.Read or .ReadWrite), create (`POST`, .ReadWrite): displayName is
required and unique in the mailbox, compared without regard to case (Outlook's own rule), and
cannot change after creation; `color` is a categoryColor (none, preset0 ... preset24). What Graph
answers to a second category of the same name is not documented: setting `duplicate_category`
answers `409 Conflict` ("conflict") or `400 ErrorInvalidRequest` ("bad_request").
Sources: outlookuser-list-mastercategories, outlookuser-post-mastercategories,
outlookcategory-update and outlookCategory resource pages (learn.microsoft.com).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from devtools.sandbox.answers import GraphFault
from devtools.sandbox.events import check_shape

if TYPE_CHECKING:
    from devtools.sandbox.state import SandboxState

# A German mailbox starts with Outlook's six colour categories.
DEFAULT_CATEGORIES = (("Rote Kategorie", "preset0"), ("Orange Kategorie", "preset1"),
                      ("Gelbe Kategorie", "preset3"), ("Grüne Kategorie", "preset4"),
                      ("Blaue Kategorie", "preset7"), ("Lila Kategorie", "preset8"))


def _category_id(user_id: str, name: str) -> str:
    """Categories have GUIDs as ids; a name made again after a delete gets the same one here."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user_id}/{name.casefold()}"))


def seed_categories(state: SandboxState, user_id: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
    with state.lock:
        found = state.master_categories.setdefault(user_id, {})
        for name, color in (*DEFAULT_CATEGORIES, *extra):
            category_id = _category_id(user_id, name)
            found[category_id] = {"id": category_id, "displayName": name, "color": color}


def categories_route(state: SandboxState, user_id: str, method: str, rest: tuple[str, ...], body: Any) -> tuple[int, Any]:
    """`rest` is the path after /outlook/masterCategories."""
    with state.lock:
        found = state.master_categories.setdefault(user_id, {})
        if not rest and method == "GET":
            return 200, {"value": [dict(c) for c in found.values()]}
        if not rest and method == "POST":
            check_shape("outlookCategory", body, "outlookCategory")
            name = str((body or {}).get("displayName") or "").strip()
            if not name:
                raise GraphFault(400, "ErrorInvalidRequest", "The displayName of a category is required.")
            if any(c["displayName"].casefold() == name.casefold() for c in found.values()):
                if state.behaviour.duplicate_category == "conflict":
                    raise GraphFault(409, "ErrorItemExists", f"A category with the name '{name}' already exists.")
                raise GraphFault(400, "ErrorInvalidRequest", f"The category '{name}' already exists.")
            category_id = _category_id(user_id, name)
            found[category_id] = {"id": category_id, "displayName": name, "color": body.get("color") or "none"}
            return 201, dict(found[category_id])
        category = found.get(rest[0]) if len(rest) == 1 else None
        if category is None:
            raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if method == "GET":
            return 200, dict(category)
        if method == "PATCH":
            check_shape("outlookCategory", body, "outlookCategory")
            if "displayName" in (body or {}) and body["displayName"] != category["displayName"]:
                raise GraphFault(400, "ErrorInvalidRequest", "The displayName of a category cannot be changed.")
            category["color"] = body.get("color", category["color"])
            return 200, dict(category)
        if method == "DELETE":
            del found[rest[0]]
            return 204, None
    raise GraphFault(405, "ErrorInvalidRequest", "Method not allowed.")
