"""Test doubles and helpers shared by the unit tests (not tests themselves)."""
