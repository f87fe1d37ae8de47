"""The comment form's token: signed, bound to one post, valid from a few
seconds after the page was rendered until some hours later. Pure.

Public pages never read the session, so the form cannot carry a session's
CSRF token; this one proves the form came from our page, and when. Its time
is rounded up to a step, so a page renders the same bytes (and ETag) for
`STEP` seconds and caches can share it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from itsdangerous import BadSignature, Signer

from feedsvc.errors import FeedsvcError

STEP = 10
SALT = "feedsvc.comment-form"


class BadToken(FeedsvcError):
    """The form's token is missing, forged, for another post, too new or too old."""


def issue(secret: str, post_id: int, now: dt.datetime, min_seconds: int) -> str:
    """A token for the post's form, usable `min_seconds` (rounded up to STEP) from now."""
    not_before = math.ceil((now.timestamp() + min_seconds) / STEP) * STEP
    return _signer(secret).sign(f"{post_id}.{not_before}").decode()


def check(secret: str, token: str, post_id: int, now: dt.datetime, max_age: dt.timedelta) -> None:
    """Raise BadToken unless the token was issued for this post's form and is
    neither too new (a script posting at once) nor expired."""
    try:
        value = _signer(secret).unsign(token.encode()).decode()
        token_post, not_before = (int(part) for part in value.split("."))
    except (BadSignature, ValueError, UnicodeError):
        raise BadToken("the form has expired or was not ours: reload the page and send it again",
                       "token") from None  # fmt: skip
    if token_post != post_id:
        raise BadToken("the form belongs to another post: reload the page", "token")
    now_seconds = now.timestamp()
    if now_seconds < not_before:
        wait = math.ceil(not_before - now_seconds)
        raise BadToken(f"the form was sent too quickly: wait {wait} seconds and send it again",
                       "token")  # fmt: skip
    if now_seconds > not_before + max_age.total_seconds():
        raise BadToken("the form has expired: reload the page and send it again", "token")


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=SALT, digest_method=hashlib.sha256)
