"""Secrets kept in the database sealed with a key derived from the app's secret key.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key made by
HKDF-SHA256 from FEEDSVC_SECRET_KEY, one key per purpose, so a value sealed for
one use cannot be opened as another. A value sealed under another secret key
does not open: it is set again, never guessed at.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from feedsvc.errors import FeedsvcError

# What a key is for: HKDF's `info`, so one secret key yields unrelated keys.
SOURCE_SECRETS = "feedsvc source fetch secrets v1"
WEBHOOK_SECRETS = "feedsvc webhook signing secrets v1"


class CannotOpen(FeedsvcError):
    """A sealed value that this secret key did not seal (or that was altered)."""


class Sealer:
    def __init__(self, secret_key: str, purpose: str) -> None:
        if not secret_key:
            raise ValueError("sealing needs the app's secret key")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise CannotOpen(
                "a stored secret cannot be read: it was sealed under another secret key; "
                "set it again"
            ) from None
