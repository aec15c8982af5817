"""Users and their API tokens (salted hashes, constant-time comparison, expiry, revocation)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.exceptions import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from hcdc_server.models.users import NewToken, TokenModel, UserModel, UserRole
from hcdc_server.schema.tables import Token, User

_KEY_BYTES = 8
#: Longest token lifetime (a century); 0 means the token never expires.
MAX_TOKEN_DAYS = 36_500


def utcnow() -> datetime:
    """Naive UTC now, as every timestamp in the database is stored."""
    return datetime.now(UTC).replace(tzinfo=None)


def hash_secret(salt: str, secret: str) -> str:
    """Salted SHA-256 of a token secret (secrets are 256-bit random, so no slow KDF is needed)."""
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class UserService:
    """Create users, issue, check and revoke tokens."""

    def __init__(self, sessions: sessionmaker[Session], *, token_days: int = 365) -> None:
        self._sessions = sessions
        self._token_days = token_days

    def add_user(
        self,
        login: str,
        *,
        email: str | None = None,
        role: UserRole = "user",
        full_name: str | None = None,
    ) -> UserModel:
        """Create a user; a login already taken is a conflict."""
        if not login or len(login) > 128 or any(c.isspace() or c == "/" for c in login):
            raise ConflictError(f"invalid login {login!r}: non-empty, no spaces or '/'")
        with self._sessions.begin() as session:
            if session.scalar(select(User.id).where(User.login == login)) is not None:
                raise ConflictError(f"user {login!r} already exists")
            user = User(
                login=login, email=email, role=role, full_name=full_name, created_at=utcnow()
            )
            session.add(user)
            session.flush()
            return UserModel.model_validate(user)

    def get_user(self, login: str) -> UserModel:
        with self._sessions() as session:
            user = session.scalar(select(User).where(User.login == login))
            if user is None:
                raise NotFoundError(f"no user {login!r}")
            return UserModel.model_validate(user)

    def list_users(self) -> list[UserModel]:
        with self._sessions() as session:
            return [
                UserModel.model_validate(u) for u in session.scalars(select(User).order_by(User.id))
            ]

    def create_token(
        self, login: str, *, name: str | None = None, days: int | None = None
    ) -> NewToken:
        """Issue a token ``<key>.<secret>``; only the salted hash of the secret is stored."""
        key = secrets.token_hex(_KEY_BYTES)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        now = utcnow()
        lifetime = self._token_days if days is None else days
        if not 0 <= lifetime <= MAX_TOKEN_DAYS:
            # A negative lifetime would read as "never expires"; a huge one overflows dates.
            raise InvalidInputError(
                f"token lifetime {lifetime} days: give 1 to {MAX_TOKEN_DAYS}, or 0 for never"
            )
        with self._sessions.begin() as session:
            user = session.scalar(select(User).where(User.login == login))
            if user is None:
                raise NotFoundError(f"no user {login!r}")
            token = Token(
                user_id=user.id,
                name=name,
                key=key,
                salt=salt,
                secret_hash=hash_secret(salt, secret),
                created_at=now,
                expires_at=now + timedelta(days=lifetime) if lifetime > 0 else None,
            )
            session.add(token)
            session.flush()
            return NewToken(token=f"{key}.{secret}", info=TokenModel.model_validate(token))

    def revoke_token(self, key: str) -> TokenModel:
        """Revoke a token by its public key (the part before the dot); effective at once."""
        key = key.split(".", 1)[0]
        with self._sessions.begin() as session:
            token = session.scalar(select(Token).where(Token.key == key))
            if token is None:
                raise NotFoundError(f"no token with key {key!r}")
            if token.revoked_at is None:
                token.revoked_at = utcnow()
            return TokenModel.model_validate(token)

    def list_tokens(self, login: str) -> list[TokenModel]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Token).join(User, User.id == Token.user_id).where(User.login == login)
            )
            return [TokenModel.model_validate(t) for t in rows]

    def authenticate(self, login: str | None, token: str | None) -> UserModel:
        """The active user owning ``token``; any mismatch is the same 401, with no detail leak."""
        return self.check_token(login, token)[0]

    def check_token(
        self, login: str | None, token: str | None
    ) -> tuple[UserModel, datetime | None]:
        """:meth:`authenticate`, with the token's expiry (None: never) for caches."""
        failure = AuthenticationError("invalid login or token")
        if not login or not token or "." not in token:
            raise AuthenticationError("missing credentials: give a login and a token")
        key, secret = token.split(".", 1)
        with self._sessions() as session:
            row = session.execute(
                select(Token, User).join(User, User.id == Token.user_id).where(Token.key == key)
            ).first()
            # Hash even when the key is unknown, so timing does not reveal which keys exist.
            salt = row[0].salt if row else "0" * 32
            expected = row[0].secret_hash if row else "0" * 64
            matches = hmac.compare_digest(hash_secret(salt, secret), expected)
            if row is None or not matches:
                raise failure
            stored, user = row
            if not hmac.compare_digest(user.login.encode(), login.encode()):
                raise failure
            now = utcnow()
            if stored.revoked_at is not None:
                raise AuthenticationError("token revoked")
            if stored.expires_at is not None and stored.expires_at <= now:
                raise AuthenticationError("token expired")
            if not user.is_active:
                raise AuthenticationError("user disabled")
            return UserModel.model_validate(user), stored.expires_at
