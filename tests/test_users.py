from datetime import UTC, datetime, timedelta

import bcrypt
import pytest
from sqlalchemy import text

from lib.accounts import users
from lib.core.errors import InvalidInput, NotFound, PermissionDenied
from tests.conftest import PASSWORD


def password_matches(password: str, password_hash: str) -> bool:
    """What sign-in checks (bcrypt on at most 72 bytes), for asserting what was stored."""
    try:
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    except ValueError:
        return False

WINDOW = 15 * 60


def test_create_user_normalises_email_and_hashes_password(conn) -> None:
    user = users.create_user(conn, email="  Mika@Studio.Example ", password=PASSWORD, plan="pro")
    assert user.email == "mika@studio.example" and user.role == "member" and user.plan == "pro"
    stored = conn.execute(text("SELECT password_hash FROM users WHERE id = :i"), {"i": user.id}).scalar_one()
    assert stored.startswith("$2") and PASSWORD not in stored
    assert password_matches(PASSWORD, stored) and not password_matches("wrong-password", stored)
    credits = conn.execute(text("SELECT available, held FROM user_credits WHERE user_id = :i"), {"i": user.id}).one()
    assert tuple(credits) == (1500, 0)  # the pro plan's first month


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": "not-an-email"}, "not an email"),
        ({"password": "short"}, "at least 10"),
        ({"role": "owner"}, "role must be"),
        ({"plan": "enterprise"}, "plan must be"),
    ],
)
def test_create_user_refuses_bad_input(conn, kwargs, message) -> None:
    args = {"email": "a@example.com", "password": PASSWORD} | kwargs
    with pytest.raises(InvalidInput, match=message):
        users.create_user(conn, **args)


def test_duplicate_email_is_a_clear_error_and_keeps_the_transaction_usable(conn) -> None:
    users.create_user(conn, email="dup@example.com", password=PASSWORD)
    with pytest.raises(InvalidInput, match="already exists"):
        users.create_user(conn, email="DUP@example.com", password=PASSWORD)
    assert users.get_user(conn, email="dup@example.com").email == "dup@example.com"


def test_postgres_refuses_bad_roles_and_unhashed_passwords(conn) -> None:
    from sqlalchemy.exc import IntegrityError

    for sql in (
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ('r@x.io','r','$2b$12$x','owner')",
        "INSERT INTO users (email, display_name, password_hash) VALUES ('p@x.io','p','plain-text')",
        "INSERT INTO users (email, display_name, password_hash) VALUES ('UPPER@x.io','u','$2b$12$x')",
    ):
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text(sql))


def test_only_admins_manage_users(conn, make_user) -> None:
    admin, member, other = make_user(role="admin"), make_user(), make_user()
    assert {u.email for u in users.list_users(conn, actor=admin)} >= {admin.email, member.email, other.email}
    with pytest.raises(PermissionDenied):
        users.list_users(conn, actor=member)
    with pytest.raises(PermissionDenied):
        users.reset_password(conn, actor=member, user_id=other.id, new_password="another-password")
    with pytest.raises(PermissionDenied):
        users.set_active(conn, actor=member, user_id=other.id, active=False)
    with pytest.raises(PermissionDenied):
        users.set_role_and_plan(conn, actor=member, user_id=member.id, role="admin", plan="pro")
    with pytest.raises(InvalidInput, match="own account"):
        users.set_active(conn, actor=admin, user_id=admin.id, active=False)
    users.set_role_and_plan(conn, actor=admin, user_id=member.id, role="member", plan="basic")
    assert users.get_user(conn, email=member.email).plan == "basic"


def test_sessions_end_on_logout_password_reset_and_disable(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    signed_in_at = datetime.now(UTC) + timedelta(seconds=1)  # after the account was created
    assert users.session_user(conn, email=member.email, authenticated_at=signed_in_at) is not None

    conn.execute(text("UPDATE users SET sessions_valid_after = now() + interval '2 seconds' WHERE id = :i"),
                 {"i": member.id})  # what end_sessions does, a moment later than the sign-in
    assert users.session_user(conn, email=member.email, authenticated_at=signed_in_at) is None

    later = datetime.now(UTC) + timedelta(seconds=5)
    assert users.session_user(conn, email=member.email, authenticated_at=later) is not None
    users.set_active(conn, actor=admin, user_id=member.id, active=False)
    assert users.session_user(conn, email=member.email, authenticated_at=later + timedelta(days=1)) is None
    assert member.email not in users.authenticator_credentials(conn)["usernames"]


def test_reset_password_voids_older_sessions(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    before = users.end_sessions(conn, user_id=member.id) - timedelta(microseconds=1)
    users.reset_password(conn, actor=admin, user_id=member.id, new_password="a-brand-new-password")
    row = conn.execute(text("SELECT password_hash, sessions_valid_after FROM users WHERE id = :i"),
                       {"i": member.id}).one()
    assert password_matches("a-brand-new-password", row.password_hash)
    assert users.session_user(conn, email=member.email, authenticated_at=before) is None
    with pytest.raises(NotFound):
        users.end_sessions(conn, user_id=admin.id.__class__(int=0))


def test_failed_sign_ins_lock_an_account_per_source_for_a_while(conn, make_user) -> None:
    member = make_user()

    def locked(source: str) -> bool:
        return member.email in users.locked_accounts(conn, source=source, max_failures=3, window_seconds=WINDOW)

    for _ in range(2):
        users.record_login_failure(conn, email=member.email, source="10.0.0.5")
    assert not locked("10.0.0.5")
    users.record_login_failure(conn, email=member.email, source="10.0.0.5")
    assert locked("10.0.0.5")
    assert not locked("192.0.2.1")  # a stranger elsewhere cannot lock the owner out

    conn.execute(text("UPDATE login_failures SET failed_at = now() - interval '16 minutes'"))
    assert not locked("10.0.0.5")  # the lock ends by itself

    users.record_login_failure(conn, email=member.email, source="10.0.0.5")
    users.clear_login_failures(conn, email=member.email, source="10.0.0.5")
    assert conn.execute(text("SELECT count(*) FROM login_failures")).scalar_one() == 0


def test_authenticator_credentials_shape(conn, make_user) -> None:
    member = make_user()
    entry = users.authenticator_credentials(conn)["usernames"][member.email]
    assert entry["email"] == member.email and entry["roles"] == ["member"]
    assert entry["password"].startswith("$2")
