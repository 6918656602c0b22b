"""Reproducible performance runs with printed tables (`make bench`)."""
