"""API keys and tenants: a key is shown once and stored only as its SHA-256; a tenant owns a
Standard Webhooks signing secret for its outgoing webhooks."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from foundation.errors import InvalidInputError, Problem
from store.db import session_scope
from store.models import ApiKey, ApiTenant

KEY_PREFIX = "sl_"
TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_tenant_name(name: str, where: str = "--tenant") -> str:
    if not TENANT_RE.match(name):
        raise InvalidInputError(
            "invalid tenant name",
            [Problem(where, "1-64 letters, digits, '.', '_' or '-', starting alphanumeric")],
        )
    return name


def ensure_tenant(session: Session, name: str) -> ApiTenant:
    tenant = session.get(ApiTenant, name)
    if tenant is None:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        tenant = ApiTenant(name=name, webhook_secret=secret)
        session.add(tenant)
        session.flush()
    return tenant


def create_key(db_url: str, tenant: str) -> str:
    """Create a key for ``tenant`` (creating the tenant if new); returns the key, never stored."""
    check_tenant_name(tenant)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with session_scope(db_url) as session:
        ensure_tenant(session, tenant)
        session.add(ApiKey(tenant=tenant, prefix=key[:10], key_hash=hash_key(key)))
    return key


def tenant_for_key(db_url: str, key: str) -> str | None:
    """The tenant owning an active key, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    with session_scope(db_url) as session:
        return session.scalar(
            select(ApiKey.tenant).where(
                ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
            )
        )


def revoke_key(db_url: str, key: str) -> bool:
    with session_scope(db_url) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = datetime.now(UTC)
        return True


def webhook_secret(db_url: str, tenant: str) -> str:
    with session_scope(db_url) as session:
        return ensure_tenant(session, tenant).webhook_secret
