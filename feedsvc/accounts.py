"""Admin users and their API tokens.

Passwords are kept as werkzeug scrypt hashes. A token is shown once, when it is
made, and stored only as its SHA-256: a copy of the database cannot be used to
call the API.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from feedsvc.content import normalize_space
from feedsvc.errors import ErrorKind, FeedsvcError
from feedsvc.models import ApiToken, User

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "fsv_"


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the user does not exist, so a wrong username
    takes as long as a wrong password. Made on first use: scrypt is slow on
    purpose, and every process importing this module would pay for it at start."""
    return generate_password_hash("not a real password", method="scrypt")


class AccountError(FeedsvcError):
    """A user or token cannot be made or found; the message says why."""


def create_user(session: Session, username: str, password: str, now: dt.datetime) -> User:
    username = normalize_space(username)
    if not username or len(username) > 200:
        raise AccountError("a username is 1 to 200 characters", "username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    user = User(username=username, password_hash=generate_password_hash(password, "scrypt"),
                created_at=now)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AccountError(
            f"a user named {username!r} exists already", "username", ErrorKind.CONFLICT
        ) from None
    return user


def set_password(user: User, password: str) -> None:
    """A new password, and every session made with the old one ends."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    user.password_hash = generate_password_hash(password, "scrypt")
    end_sessions(user)


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: session cookies carry the generation this bumps."""
    # In SQL, so two sign-outs at once both count.
    user.session_generation = User.session_generation + 1  # type: ignore[assignment]


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def delete_user(session: Session, user: User) -> None:
    """Delete a user and their tokens; never the last one, or no one could sign in.
    On an AccountError the caller rolls back."""
    # Every user row locked (PostgreSQL) and the delete made before counting
    # (SQLite's write lock), so two deletes at once cannot remove the last two.
    session.scalars(select(User.id).with_for_update()).all()
    session.delete(user)
    session.flush()
    if not session.scalar(select(func.count()).select_from(User)):
        raise AccountError(
            f"{user.username} is the last admin; make another one first", kind=ErrorKind.CONFLICT
        )


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == normalize_space(username)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user named {username!r}", "username", ErrorKind.NOT_FOUND)
    return user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str, now: dt.datetime) -> tuple[ApiToken, str]:
    """A new token: the stored row and the token itself, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=normalize_space(name)[:200], token_hash=hash_token(token),
                   created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: Session, token: str, now: dt.datetime) -> User | None:
    """The user a live token belongs to; notes when it was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    # Written at most once a minute per token, so reads stay reads.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        row.last_used_at = now
    return session.get(User, row.user_id)


def list_tokens(session: Session, user: User | None = None) -> Sequence[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return session.scalars(query).all()


def revoke_token(
    session: Session, token_id: int, now: dt.datetime, user: User | None = None
) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or (user is not None and row.user_id != user.id):
        raise AccountError(f"no token with id {token_id}", "token_id", ErrorKind.NOT_FOUND)
    if row.revoked_at is None:
        row.revoked_at = now
    return row
