"""Access tokens the sandbox issues (HS256 JWTs) and verifies on every Graph call."""

from __future__ import annotations

import time
import uuid

import jwt


class TokenInvalid(Exception):
    pass


def issue_access_token(state, tenant: str, client_id: str, roles: set[str]) -> tuple[str, int]:
    now = int(time.time())
    lifetime = state.token_lifetime
    claims = {"aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{tenant}/", "iat": now,
              "nbf": now, "exp": now + lifetime, "appid": client_id, "tid": tenant,
              "idtyp": "app", "jti": str(uuid.uuid4())}
    if roles:  # the consented application permissions; Entra leaves the claim out when there are none (row K3)
        claims["roles"] = sorted(roles)
    return jwt.encode(claims, state.signing_key, algorithm="HS256"), lifetime


def verify_access_token(state, authorization: str) -> dict:
    if not authorization.lower().startswith("bearer "):
        raise TokenInvalid("Access token is empty.")
    try:
        claims = jwt.decode(authorization[7:].strip(), state.signing_key, algorithms=["HS256"],
                            audience="https://graph.microsoft.com")
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("Lifetime validation failed, the token is expired.") from None
    except jwt.PyJWTError:
        raise TokenInvalid("IDX14100: JWT is not well formed.") from None
    if claims.get("jti") in state.revoked_tokens:
        raise TokenInvalid("Lifetime validation failed, the token is expired.")
    if claims.get("tid") not in state.tenants:  # issued for another directory (fidelity row N1)
        raise TokenInvalid("IDX10205: Issuer validation failed.")
    return claims
