"""Every argument of an operator, sensor or hook has its `:param` line, as Airflow's own providers do."""

from __future__ import annotations

import inspect

import pytest

from oh_outlook_provider.hooks.office365 import Office365Hook
from oh_outlook_provider.hooks.openhandwerk import OpenHandwerkHook
from oh_outlook_provider.operators.appointments import OpenHandwerkAppointmentsOperator
from oh_outlook_provider.operators.calendar_sync import Office365CalendarSyncOperator
from oh_outlook_provider.operators.user_mapping import Office365UserMappingOperator
from oh_outlook_provider.sensors.secret_expiry import Office365SecretExpirySensor


@pytest.mark.parametrize("cls", [Office365CalendarSyncOperator, Office365UserMappingOperator,
                                 OpenHandwerkAppointmentsOperator, Office365SecretExpirySensor, Office365Hook,
                                 OpenHandwerkHook])
def test_every_argument_is_documented(cls):
    arguments = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    assert [a for a in arguments if f":param {a}:" not in (cls.__doc__ or "")] == []
