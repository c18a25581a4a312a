"""What a change of an account's access means for its work: disabling stops it.

Lives here, not in `lib.accounts`, because stopping work reaches into jobs and their credit holds
(`lib.accounts` may not import generation). The Users page calls `set_user_active`.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection

from lib.accounts import users
from lib.accounts.users import User
from lib.core.queries import q
from lib.credits import ledger


def set_user_active(conn: Connection, *, actor: User, user_id: UUID, active: bool) -> int:
    """Enable or disable an account; disabling also stops its queued work. Returns how many items were cancelled.

    The account row is updated first, so a best-of retry racing with this either sees it disabled or has
    committed its attempt before the cancel below runs; the worker refuses any item that still slips through.
    """
    users.set_active(conn, actor=actor, user_id=user_id, active=active)
    return 0 if active else stop_work(conn, user_id=user_id)


def stop_work(conn: Connection, *, user_id: UUID) -> int:
    """Cancel every queued item of the user, release its hold and end its job; running items may finish."""
    cancelled = conn.execute(q("cancel_queued_work_of_user"), {"user_id": str(user_id)}).all()
    for item in cancelled:
        ledger.release(conn, difference_id=item.id)
    for job_id in sorted({item.job_id for item in cancelled}):
        conn.execute(q("mark_job_cancelled"), {"job_id": str(job_id)})
    return len(cancelled)
