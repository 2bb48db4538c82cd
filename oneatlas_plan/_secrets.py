"""Process-wide redaction of secrets (API key, tokens): defence in depth.

The client registers every secret it handles; the CLI's error boundary and log handler
pass all text through :func:`redact` so a secret that slipped into a message is masked.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(value: str) -> None:
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
