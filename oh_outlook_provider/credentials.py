"""Credential lifetime: the secret's date from the connection, or a certificate's notAfter."""

from __future__ import annotations

import datetime as dt


def certificate_not_after(pem: str) -> dt.datetime | None:
    """notAfter of the first CERTIFICATE block in a PEM bundle (None when there is none)."""
    marker = "-----BEGIN CERTIFICATE-----"
    if marker not in pem:
        return None
    from cryptography import x509

    start = pem.index(marker)
    end = pem.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    cert = x509.load_pem_x509_certificate(pem[start:end].encode())
    return cert.not_valid_after_utc


def days_left(valid_until: dt.date, today: dt.date) -> int:
    return (valid_until - today).days
