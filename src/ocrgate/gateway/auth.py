"""Optional API keys: compared in constant time; a key's jobs are visible to that key only."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from ocrgate.errors import Unauthorized


def owner_of(key: str) -> str:
    """What the job store keeps instead of the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class APIKeys:
    def __init__(self, keys: list[str]) -> None:
        self.keys = [k.encode() for k in keys if k]

    def __call__(self, request: Request) -> str | None:
        """FastAPI dependency: the caller's owner id, None when authentication is off."""
        if not self.keys:
            return None
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        # compare with every key, always, so timing tells nothing about which one nearly matched
        matches = [hmac.compare_digest(given.encode(), key) for key in self.keys]
        if not given or not any(matches):
            raise Unauthorized("missing or invalid API key (send it in the X-API-Key header)")
        return owner_of(given)
