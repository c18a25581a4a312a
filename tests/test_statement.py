"""The credit statement in words, on real Postgres: one line per batch, reasons spelled out, no ids."""

import re

from lib.catalog import characters
from lib.credits import ledger, statement
from lib.design import expressions
from lib.design.features import Features
from lib.generation import jobs


def test_the_ledger_reads_as_one_line_per_batch_with_reasons_in_words(conn, store, make_user) -> None:
    member = make_user(plan="free")
    image, box = characters.generate_base(Features(), size=(96, 128))
    hana = characters.create_character(conn, store, actor=member, name="Hana", image=image, source="generated",
                                       face_box=box)
    request = jobs.JobRequest(expressions=[expressions.get("happy"), expressions.get("sad")], variants=["blink"],
                              backend="offline", model="offline", image_size="1K")
    job_id, ids = jobs.create_job(conn, actor=member, character=hana, request=request)
    ledger.hold_items(conn, user_id=member.id, job_id=job_id, items=[(i, 1) for i in ids])
    ledger.capture(conn, difference_id=ids[0])
    ledger.capture(conn, difference_id=ids[1])
    ledger.release(conn, difference_id=ids[2])
    ledger.adjust(conn, user_id=member.id, amount=5, reason="sorry for the outage", key="k-outage", actor_id=None)
    lines = statement.ledger_lines(conn, user_id=member.id)
    assert [(line.what, line.available, line.held) for line in lines] == [
        ("Adjusted by an admin: sorry for the outage", 5, 0),
        ("Hana: batch of 4 images (2 charged, 1 refunded, 1 still held)", -3, 1),
        (f"Monthly credits for {ledger.today():%Y-%m}", 30, 0),  # a new account's first month
    ]
    shown = " ".join(line.what for line in lines)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", shown) and "None" not in shown
    mine = statement.statement(conn, user_id=member.id)
    assert mine.lines == lines and len(mine.entries) == 1 + 4 + 3 + 1  # the CSV keeps every row
