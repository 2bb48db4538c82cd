"""Keycloak-like API-key → bearer token exchange: HS256 JWTs (PyJWT) signed with the world's
secret. Time comes from the caller so tests can drive the sandbox's clock."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import jwt


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    reason: str  # "", "missing", "invalid", "expired"
    subject: str = ""


class TokenIssuer:
    """Issues and verifies tokens; stateless (the secret lives in the data dir)."""

    def __init__(self, secret: str, api_key: str) -> None:
        self._secret = secret
        self.api_key = api_key

    def issue(self, ttl: float, now: float) -> dict[str, object]:
        claims = {"sub": _key_id(self.api_key), "iat": now, "exp": now + ttl,
                  "jti": str(uuid.uuid4())}
        return {
            "access_token": jwt.encode(claims, self._secret, algorithm="HS256"),
            "expires_in": int(ttl) if ttl >= 1 else ttl,
            "refresh_expires_in": 0,
            "token_type": "bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "",
        }

    def check(self, authorization: str | None, now: float) -> TokenCheck:
        if not authorization or not authorization.lower().startswith("bearer "):
            return TokenCheck(False, "missing")
        try:
            # Expiry is judged below against the sandbox's clock, not PyJWT's.
            claims = jwt.decode(
                authorization[7:].strip(), self._secret, algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
            )
        except jwt.InvalidTokenError:
            return TokenCheck(False, "invalid")
        if claims.get("sub") != _key_id(self.api_key):
            return TokenCheck(False, "invalid")
        if now >= float(claims["exp"]):
            return TokenCheck(False, "expired", claims["sub"])
        return TokenCheck(True, "", claims["sub"])


def _key_id(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
