"""Ids in Graph paths: checked against what Graph issues, encoded as one segment (issue 11 item 8)."""

from __future__ import annotations

import pytest

from oh_outlook_provider.graph import paths

USER = "bdd640fb-0667-4ad1-9c80-317fa3b1799d"


@pytest.mark.parametrize("user_id", [f"{USER}/../{USER}", f"{USER}#", "../users", "", "max@firma.de", f"{USER}?a=1"])
def test_user_ids_that_are_not_object_ids_are_refused(user_id):
    with pytest.raises(paths.GraphIdError, match="not an Entra object id"):
        paths.events(user_id)


def test_event_ids_are_encoded_whole_and_foreign_alphabets_refused():
    assert paths.event(USER, "AAMkAD/x+y==") == f"/users/{USER}/events/AAMkAD%2Fx%2By%3D%3D"
    for bad in ("a#b", "a?b", "a b", "..%2F", ""):
        with pytest.raises(paths.GraphIdError):
            paths.event(USER, bad)


def test_the_default_calendar_is_named_explicitly():
    assert paths.events(USER) == f"/users/{USER}/calendar/events"
    assert paths.events(USER, "AAMkCal1") == f"/users/{USER}/calendars/AAMkCal1/events"
