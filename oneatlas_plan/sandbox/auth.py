"""Keycloak-like API-key → bearer token exchange, with HMAC-signed JWT-shaped tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    reason: str  # "", "missing", "invalid", "expired"
    subject: str = ""


class TokenIssuer:
    """Issues and verifies tokens; stateless (the secret lives in the data dir)."""

    def __init__(self, secret: str, api_key: str) -> None:
        self._secret = secret.encode()
        self.api_key = api_key

    def issue(self, ttl: float, now: float | None = None) -> dict[str, object]:
        issued = time.time() if now is None else now
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(
            json.dumps(
                {
                    "sub": _key_id(self.api_key),
                    "iat": issued,
                    "exp": issued + ttl,
                    "jti": str(uuid.uuid4()),
                }
            ).encode()
        )
        token = f"{header}.{payload}.{self._sign(header, payload)}"
        return {
            "access_token": token,
            "expires_in": int(ttl) if ttl >= 1 else ttl,
            "refresh_expires_in": 0,
            "token_type": "bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "",
        }

    def check(self, authorization: str | None, now: float | None = None) -> TokenCheck:
        if not authorization or not authorization.lower().startswith("bearer "):
            return TokenCheck(False, "missing")
        token = authorization[7:].strip()
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._sign(parts[0], parts[1])):
            return TokenCheck(False, "invalid")
        try:
            payload = json.loads(_unb64(parts[1]))
        except ValueError:
            return TokenCheck(False, "invalid")
        if payload.get("sub") != _key_id(self.api_key):
            return TokenCheck(False, "invalid")
        if (time.time() if now is None else now) >= float(payload["exp"]):
            return TokenCheck(False, "expired", payload["sub"])
        return TokenCheck(True, "", payload["sub"])

    def _sign(self, header: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())


def _key_id(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
