"""The ledger against real Postgres: never negative, sums explain balances, keys are idempotent."""

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lib.accounts import users
from lib.core.errors import InvalidInput
from lib.credits import ledger as credits
from lib.credits.statement import statement
from tests.conftest import PASSWORD

PERIOD = credits.period_of(credits.today())


def fake_item(conn, user) -> uuid.UUID:
    """A differences row to hang holds on (needs a character and job)."""
    character = conn.execute(text(
        "INSERT INTO characters (user_id, name, base_key, base_width, base_height, base_source) "
        "VALUES (:u, 'c', 'k', 1, 1, 'upload') RETURNING id"), {"u": user.id}).scalar_one()
    job = conn.execute(text("INSERT INTO generation_jobs (user_id, character_id, backend, model, image_size) "
                            "VALUES (:u, :c, 'offline', 'offline', '1K') RETURNING id"),
                       {"u": user.id, "c": character}).scalar_one()
    return job, conn.execute(text("INSERT INTO differences (job_id, character_id, expression_key) "
                                  "VALUES (:j, :c, :k) RETURNING id"),
                             {"j": job, "c": character, "k": uuid.uuid4().hex[:8]}).scalar_one()


def test_new_users_get_their_plans_monthly_credits(conn, make_user) -> None:
    member = make_user(plan="basic")
    b = credits.balance(conn, user_id=member.id)
    assert (b.available, b.held, b.used_this_period, b.monthly_credits) == (300, 0, 0, 300)
    assert credits.ledger_sums(conn, user_id=member.id) == (300, 0)
    assert not credits.monthly_reset(conn, user_id=member.id, period=PERIOD)  # already done for this period


def test_hold_capture_release_and_idempotency(conn, make_user) -> None:
    member = make_user()  # free: 30
    job, first = fake_item(conn, member)
    _, second = fake_item(conn, member)
    assert credits.hold_items(conn, user_id=member.id, job_id=job, items=[(first, 3), (second, 4)]) == 7
    assert (credits.balance(conn, user_id=member.id).available, credits.balance(conn, user_id=member.id).held) == (
        23, 7)
    assert credits.capture(conn, difference_id=first) == 3
    assert credits.capture(conn, difference_id=first) == 0  # at-least-once delivery: no double charge
    assert credits.release(conn, difference_id=first) == 0  # a captured hold cannot be released
    assert credits.release(conn, difference_id=second) == 4
    b = credits.balance(conn, user_id=member.id)
    assert (b.available, b.held, b.used_this_period) == (27, 0, 3)
    assert credits.ledger_sums(conn, user_id=member.id) == (27, 0)
    cost = conn.execute(text("SELECT cost_credits FROM differences WHERE id = :i"), {"i": first}).scalar()
    assert cost == 3


def test_a_batch_that_needs_more_than_available_holds_nothing(conn, make_user) -> None:
    member = make_user()
    job, item = fake_item(conn, member)
    with pytest.raises(credits.InsufficientCredits, match="needs 31, 30 available"):
        credits.hold_items(conn, user_id=member.id, job_id=job, items=[(item, 31)])
    b = credits.balance(conn, user_id=member.id)
    assert (b.available, b.held) == (30, 0)


def test_adjustments_need_a_reason_and_cannot_go_negative(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    with pytest.raises(InvalidInput, match="reason"):
        credits.adjust(conn, user_id=member.id, amount=5, reason=" ", key="k1", actor_id=admin.id)
    assert credits.adjust(conn, user_id=member.id, amount=-10, reason="refund reversed", key="k2", actor_id=admin.id)
    assert not credits.adjust(conn, user_id=member.id, amount=-10, reason="refund reversed", key="k2",
                              actor_id=admin.id)  # replayed key
    with pytest.raises(credits.InsufficientCredits), conn.begin_nested():
        credits.adjust(conn, user_id=member.id, amount=-21, reason="too much", key="k3", actor_id=admin.id)
    assert credits.balance(conn, user_id=member.id).available == 20


def test_postgres_refuses_negative_balances_and_inconsistent_rows(conn, make_user) -> None:
    member = make_user()
    for sql in ("UPDATE user_credits SET available = -1 WHERE user_id = :u",
                "INSERT INTO credit_transactions (user_id, kind, amount, delta_available, delta_held, idempotency_key)"
                " VALUES (:u, 'grant', 5, 50, 0, 'bad')"):
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(text(sql), {"u": member.id})


def test_monthly_reset_happens_once_and_late_runs_do_nothing(conn, make_user) -> None:
    member = make_user()
    credits.adjust(conn, user_id=member.id, amount=-12, reason="spent elsewhere", key="spend", actor_id=None)
    next_period = (PERIOD + dt.timedelta(days=32)).replace(day=1)
    assert credits.users_due_for_reset(conn, period=next_period)
    assert credits.monthly_reset(conn, user_id=member.id, period=next_period)
    assert not credits.monthly_reset(conn, user_id=member.id, period=next_period)  # the task ran twice
    assert not credits.monthly_reset(conn, user_id=member.id, period=PERIOD)  # a late run for an old period
    assert credits.balance(conn, user_id=member.id).available == 30
    assert member.id not in credits.users_due_for_reset(conn, period=next_period)


def test_statement_explains_the_balance_with_todays_usage_and_the_newest_rows(conn, make_user) -> None:
    member, other = make_user(), make_user()
    job, first = fake_item(conn, member)
    _, second = fake_item(conn, member)
    credits.hold_items(conn, user_id=member.id, job_id=job, items=[(first, 3), (second, 4)])
    credits.capture(conn, difference_id=first)
    credits.capture(conn, difference_id=second)
    credits.grant(conn, user_id=other.id, amount=5, key="other", reason="not theirs")

    mine = statement(conn, user_id=member.id, limit=3)
    assert (mine.balance.available, mine.balance.held, mine.balance.used_this_period) == (23, 0, 7)
    assert [used for _, used in mine.usage_by_day] == [7]  # one day, today
    assert [(e["kind"], e["amount"]) for e in mine.entries] == [("capture", 4), ("capture", 3), ("hold", 4)]
    assert len(statement(conn, user_id=member.id).entries) == 5  # the monthly credits and both holds too


class LedgerMachine(RuleBasedStateMachine):
    """Random grants, holds, captures, releases, resets and adjustments against a simple model."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = None

    @initialize()
    def start(self) -> None:
        self.conn = LedgerMachine.connection
        self.outer = self.conn.begin_nested()
        self.user = users.create_user(self.conn, email=f"h{uuid.uuid4().hex[:10]}@example.com", password=PASSWORD)
        self.available, self.held, self.open_holds, self.resolved = 30, 0, {}, []
        self.period = PERIOD
        self.keys: dict[str, int] = {}

    def teardown(self) -> None:
        if self.conn is not None:
            self.outer.rollback()

    @rule(amount=st.integers(1, 40), key=st.sampled_from(["g1", "g2", "g3", "g4"]))
    def grant(self, amount: int, key: str) -> None:
        done = credits.grant(self.conn, user_id=self.user.id, amount=amount, key=f"{self.user.id}:{key}",
                             reason="test")
        assert done == (key not in self.keys)
        if done:
            self.keys[key] = amount
            self.available += amount

    @rule(amounts=st.lists(st.integers(1, 9), min_size=1, max_size=4))
    def hold(self, amounts: list[int]) -> None:
        items = []
        for amount in amounts:
            job, item = fake_item(self.conn, self.user)
            items.append((item, amount))
        total = sum(amounts)
        try:
            with self.conn.begin_nested():
                credits.hold_items(self.conn, user_id=self.user.id, job_id=job, items=items)
        except credits.InsufficientCredits:
            assert total > self.available
            return
        assert total <= self.available
        self.available -= total
        self.held += total
        self.open_holds.update(items)

    @precondition(lambda self: self.open_holds or self.resolved)
    @rule(data=st.data(), capture=st.booleans())
    def resolve(self, data: st.DataObject, capture: bool) -> None:
        # Insertion order, not sorted ids: ids are random, and a replayed example must pick the same hold.
        item = data.draw(st.sampled_from(list(self.open_holds) + self.resolved))
        fn = credits.capture if capture else credits.release
        moved = fn(self.conn, difference_id=item)
        if item in self.resolved:
            assert moved == 0
            return
        amount = self.open_holds.pop(item)
        self.resolved.append(item)
        assert moved == amount
        self.held -= amount
        if not capture:
            self.available += amount

    @rule(amount=st.integers(-50, 50).filter(bool))
    def adjust(self, amount: int) -> None:
        try:
            with self.conn.begin_nested():
                credits.adjust(self.conn, user_id=self.user.id, amount=amount, reason="admin",
                               key=f"adj:{uuid.uuid4()}", actor_id=None)
        except credits.InsufficientCredits:
            assert self.available + amount < 0
            return
        self.available += amount

    @rule(months=st.integers(0, 2))
    def reset(self, months: int) -> None:
        period = (self.period + dt.timedelta(days=31 * months)).replace(day=1)
        done = credits.monthly_reset(self.conn, user_id=self.user.id, period=period)
        assert done == (period > self.period)
        if done:
            self.period = period
            self.available = 30

    @invariant()
    def balances_match_the_model_and_the_ledger(self) -> None:
        if self.conn is None:
            return
        b = credits.balance(self.conn, user_id=self.user.id)
        assert (b.available, b.held) == (self.available, self.held)
        assert b.available >= 0 and b.held >= 0
        assert credits.ledger_sums(self.conn, user_id=self.user.id) == (self.available, self.held)


def test_ledger_state_machine(conn) -> None:
    LedgerMachine.connection = conn
    run = LedgerMachine.TestCase
    run.settings = settings(max_examples=25, stateful_step_count=25, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow])
    run().runTest()


def test_a_reused_key_for_another_request_is_refused_not_reported_as_done(conn, make_user) -> None:
    admin, member, other = make_user(role="admin"), make_user(), make_user()
    assert credits.adjust(conn, user_id=member.id, amount=5, reason="gift", key="k1", actor_id=admin.id)
    assert not credits.adjust(conn, user_id=member.id, amount=5, reason="gift", key="k1", actor_id=admin.id)
    for user_id, amount, reason in ((other.id, 5, "gift"), (member.id, 7, "gift"), (member.id, 5, "bonus")):
        with pytest.raises(credits.IdempotencyConflict, match="key 'k1' was already used"):
            credits.adjust(conn, user_id=user_id, amount=amount, reason=reason, key="k1", actor_id=admin.id)
    with pytest.raises(InvalidInput, match="already used"):  # a grant's key cannot name another user's grant
        credits.grant(conn, user_id=other.id, amount=5, key="k1", reason="gift")
    assert credits.grant(conn, user_id=member.id, amount=9, key="invoice:1", reason="basic plan")
    with pytest.raises(credits.IdempotencyConflict):
        credits.grant(conn, user_id=other.id, amount=9, key="invoice:1", reason="basic plan")
    assert credits.balance(conn, user_id=member.id).available == 30 + 5 + 9
    assert credits.balance(conn, user_id=other.id).available == 30
