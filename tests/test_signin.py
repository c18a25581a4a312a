"""Sign-in throttling as an attacker meets it: forged addresses, simultaneous guesses, loopback lock-outs."""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, Engine, text

from lib.accounts import signin, users
from lib.core.errors import InvalidInput, PermissionDenied
from tests.conftest import PASSWORD, wipe

LIMITS = signin.Limits(max_failures=5, window_seconds=15 * 60, first_lock_seconds=60)
PROXY = [ipaddress.ip_network("10.1.0.0/16")]


def claim(conn: Connection, email: str, source: str) -> signin.Claim:
    return signin.claim_attempt(conn, email=email, source=source, limits=LIMITS)


def pass_time(conn: Connection, seconds: int) -> None:
    """Move every throttling timestamp back, as if `seconds` had passed."""
    shift = {"s": seconds}
    conn.execute(text("UPDATE login_failures SET failed_at = failed_at - make_interval(secs => :s)"), shift)
    conn.execute(text("UPDATE login_accounts SET locked_until = locked_until - make_interval(secs => :s), "
                      "counted_from = counted_from - make_interval(secs => :s)"), shift)


def lock_seconds(conn: Connection, email: str) -> float:
    return conn.execute(text("SELECT extract(epoch FROM locked_until - now()) FROM login_accounts WHERE email = :e"),
                        {"e": email}).scalar_one()


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("127.0.0.1", ["203.0.113.9"], signin.UNKNOWN_SOURCE),  # an untrusted loopback peer's header is ignored
    ("198.51.100.2", ["203.0.113.9"], "198.51.100.2"),  # rotating the header changes nothing
    ("10.1.2.3", ["203.0.113.9"], "203.0.113.9"),  # a trusted proxy's word is taken
    ("10.1.2.3", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client's own prefix is not
    ("10.1.2.3", ["203.0.113.9", "10.1.9.9"], "203.0.113.9"),  # two trusted hops, two headers
    ("10.1.2.3", ["not-an-ip"], signin.UNKNOWN_SOURCE),
    ("::1", [], signin.UNKNOWN_SOURCE),
])
def test_client_address_believes_only_trusted_proxies(peer, forwarded, expected) -> None:
    assert signin.client_address(peer=peer, forwarded_for=forwarded, trusted=PROXY) == expected


def test_simultaneous_guesses_are_checked_at_most_the_limit(engine: Engine) -> None:
    with engine.begin() as conn:
        member = users.create_user(conn, email="target@example.com", password=PASSWORD)
    barrier = threading.Barrier(12)

    def guess(_: int) -> bool:
        with engine.begin() as conn:
            barrier.wait(timeout=30)
            return claim(conn, member.email, "192.0.2.10").allowed

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            checked = sum(pool.map(guess, range(12)))
        assert checked == LIMITS.max_failures
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM login_failures")).scalar_one() == LIMITS.max_failures
    finally:
        wipe(engine)


def test_loopback_guesses_lock_the_owner_out_only_briefly_and_the_lock_doubles(conn, make_user) -> None:
    owner = make_user()
    for _ in range(5):  # anyone on this machine (an SSH tunnel, a local proxy)
        assert claim(conn, owner.email, signin.UNKNOWN_SOURCE).allowed
    assert not claim(conn, owner.email, signin.UNKNOWN_SOURCE).allowed
    assert 0 < lock_seconds(conn, owner.email) <= 60
    pass_time(conn, 61)
    assert claim(conn, owner.email, signin.UNKNOWN_SOURCE).allowed  # the owner's turn: the lock has ended
    for _ in range(4):
        claim(conn, owner.email, signin.UNKNOWN_SOURCE)
    assert 60 < lock_seconds(conn, owner.email) <= 120  # the next lock-out is twice as long
    pass_time(conn, 121)
    signin.record_success(conn, email=owner.email, source=signin.UNKNOWN_SOURCE)
    pass_time(conn, 1)  # one transaction has one now(): later failures must come after the sign-in
    for _ in range(5):
        claim(conn, owner.email, signin.UNKNOWN_SOURCE)
    assert 0 < lock_seconds(conn, owner.email) <= 60  # a sign-in ends the streak


def test_account_lock_never_outlasts_the_window(conn, make_user) -> None:
    owner = make_user()
    for _ in range(6):
        for _ in range(5):
            claim(conn, owner.email, signin.UNKNOWN_SOURCE)
        assert lock_seconds(conn, owner.email) <= LIMITS.window_seconds
        pass_time(conn, int(lock_seconds(conn, owner.email)) + 1)
    assert lock_seconds(conn, owner.email) < 0


def test_rotating_real_addresses_hits_the_account_limit(conn, make_user) -> None:
    owner = make_user()
    allowed = [claim(conn, owner.email, f"203.0.113.{i}").allowed for i in range(12)]
    assert allowed == [True] * 5 + [False] * 7


def test_an_address_keeps_its_own_longer_limit(conn, make_user) -> None:
    owner = make_user()
    for _ in range(5):
        claim(conn, owner.email, "203.0.113.5")
    pass_time(conn, 61)  # the account lock is over, this address's window is not
    assert not claim(conn, owner.email, "203.0.113.5").allowed
    assert claim(conn, owner.email, "198.51.100.1").allowed  # the owner, elsewhere


def test_an_admin_unlocks_an_account(conn, make_user) -> None:
    owner, admin, member = make_user(), make_user(role="admin"), make_user()
    for _ in range(5):
        claim(conn, owner.email, "203.0.113.5")
    assert signin.locked_until(conn, email=owner.email) is not None
    with pytest.raises(PermissionDenied):
        signin.unlock(conn, actor=member, email=owner.email)
    signin.unlock(conn, actor=admin, email=owner.email)
    assert signin.locked_until(conn, email=owner.email) is None
    assert claim(conn, owner.email, "203.0.113.5").allowed


@pytest.mark.parametrize("password", [" leading-space-pw", "trailing-space-pw ", "tab-at-the-end-pw\t"])
def test_passwords_that_sign_in_would_strip_are_refused(conn, make_user, password) -> None:
    with pytest.raises(InvalidInput, match="cannot start or end with a space"):
        users.create_user(conn, email="spaces@example.com", password=password)
    member = make_user()
    with pytest.raises(InvalidInput, match="cannot start or end with a space"):
        users.reset_password(conn, actor=member, user_id=member.id, new_password=password)


def test_cli_unlock_is_for_admins(committed_env, engine: Engine) -> None:
    from tests.test_cli import cli, fails, ok_json

    with engine.begin() as conn:
        users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
        owner = users.create_user(conn, email="owner@example.com", password=PASSWORD)
        for _ in range(5):
            claim(conn, owner.email, signin.UNKNOWN_SOURCE)
    assert "only admins" in fails("users", "unlock", owner.email, "--as", owner.email)
    assert ok_json("users", "unlock", "Owner@example.com", "--as", "boss@example.com") == {
        "email": owner.email, "unlocked": True}
    with engine.connect() as conn:
        assert signin.locked_until(conn, email=owner.email) is None
        assert conn.execute(text("SELECT count(*) FROM login_failures")).scalar_one() == 0
    assert cli("users", "unlock", "nobody@example.com", "--as", "boss@example.com").returncode != 0
