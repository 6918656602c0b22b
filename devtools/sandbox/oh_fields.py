"""The openHandwerk spellings the emulator serves and filters on: its own, never the client's parser's.

The client (`oh_outlook_provider.openhandwerk.api`) accepts several plausible spellings of each
field. The emulator serves exactly one spelling per field, chosen here, so a client that stopped
reading it (or read another one) fails against the emulator instead of agreeing with itself.
"""

from __future__ import annotations

# Login (POST /auth/login) and its answer; every answer is wrapped in the envelope.
LOGIN_ID_KN, LOGIN_EMPLOYEE, LOGIN_PASSWORD = "idKn", "employee", "password"
TOKEN, EXPIRES_IN = "token", "expiresIn"
ENVELOPE_SUCCESS, ENVELOPE_RESPONSE, ENVELOPE_STATUS = "success", "response", "status"

# Query parameters of the lists: start and end (exclusive) of the appointment range, paging.
RANGE_FROM, RANGE_TO, PAGE, LIMIT = "from", "to", "page", "limit"

# An employee record.
EMPLOYEE_ID, FIRST_NAME, LAST_NAME, ROLE, EMAIL, ACTIVE = "id", "firstName", "lastName", "role", "email", "active"
EMPLOYEE_FIELDS = (EMPLOYEE_ID, FIRST_NAME, LAST_NAME, ROLE, EMAIL, ACTIVE)

# An appointment record; START and END are ISO dates (all-day) or naive ISO date-times (Europe/Berlin).
APPOINTMENT_ID, TITLE, CATEGORY, CUSTOMER, PROJECT_NUMBER = "id", "title", "category", "customer", "projectNumber"
DESCRIPTION, ADDRESS, EMPLOYEES, STATUS = "description", "address", "employees", "status"
ALL_DAY, START, END = "allDay", "start", "end"
APPOINTMENT_FIELDS = (APPOINTMENT_ID, TITLE, CATEGORY, CUSTOMER, PROJECT_NUMBER, DESCRIPTION, ADDRESS, EMPLOYEES,
                      STATUS, ALL_DAY, START, END)
# The address object inside an appointment.
STREET, HOUSE_NUMBER, ZIP, CITY = "street", "houseNumber", "zip", "city"
ADDRESS_FIELDS = (STREET, HOUSE_NUMBER, ZIP, CITY)

# Values of STATUS the emulator writes.
PLANNED, CANCELLED = "geplant", "storniert"
