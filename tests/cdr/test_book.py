"""Which event fills which column of an inbound call record (the pure book, no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from ccpbx.acd import AcdEvent, EventKind
from ccpbx.cdr.book import ASTERISK_RESTARTED, GONE_WHILE_AWAY, CdrBook, Draft, calls_in

NODE = "pbx@2026-12-03 09:00:00"
T = 1_764_750_000.0


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def arrive(book: CdrBook, uid: str = "1.1", at: float = T, node: str = NODE) -> bool:
    return book.arrived(node, uid, at, linkedid=uid, caller="15550123", callee="18005550100")


def ev(kind: EventKind, at: float, call_id: str = "1.1", **kw: object) -> AcdEvent:
    return AcdEvent(kind, at, call_id=call_id, **kw)  # type: ignore[arg-type]


def only(book: CdrBook):  # type: ignore[no-untyped-def]
    [taken] = book.take(10)
    book.written([taken])
    return taken.update


def test_arrival_opens_an_inbound_record_with_caller_and_did() -> None:
    """The first dialplan step in the inbound context opens the record: node, uniqueid,
    linkedid, caller ID number, the DID, the start time; outcome ivr so far."""
    book = CdrBook()
    assert arrive(book)
    u = only(book)
    assert (u.direction, u.asterisk_node, u.uniqueid, u.linkedid) == ("inbound", NODE, "1.1", "1.1")
    assert (u.caller, u.callee, u.started_at) == ("15550123", "18005550100", utc(T))
    assert (u.queue, u.agent, u.answered_at, u.ended_at) == (None, None, None, None)
    assert u.details == {"outcome": "ivr"}


def test_repeated_arrival_changes_nothing_and_fills_only_what_was_empty() -> None:
    """Every later dialplan step of the same channel is seen again: no second record,
    the first start is kept; a value still empty is filled in."""
    book = CdrBook()
    book.arrived(NODE, "1.1", T, caller="", callee="18005550100")
    only(book)
    assert not book.arrived(NODE, "1.1", T + 1, callee="999")
    assert book.take(10) == []
    assert book.arrived(NODE, "1.1", T + 2, caller="15550123")
    u = only(book)
    assert (u.caller, u.callee, u.started_at) == ("15550123", "18005550100", utc(T))


def test_answered_call_fills_queue_agent_answer_and_end() -> None:
    """Queued, answered by an agent, talked, hung up: queue, agent, answered_at,
    ended_at, the cause; details wait, talk time and outcome answered."""
    book = CdrBook()
    arrive(book)
    assert book.acd(ev(EventKind.CALL_ENQUEUED, T + 5, queue="sales"))
    assert book.acd(ev(EventKind.CALL_OFFERED, T + 6, queue="sales", agent_id="1001")) is False
    assert book.acd(ev(EventKind.CALL_ANSWERED, T + 8, queue="sales", agent_id="1001", wait_s=3.0))
    assert book.hung_up("1.1", T + 60, cause="16", cause_text="Normal Clearing", now=T + 60)
    assert book.acd(ev(EventKind.CALL_ENDED, T + 60, queue="sales", duration_s=52.0))
    u = only(book)
    assert (u.queue, u.agent, u.answered_at, u.ended_at) == (
        "sales",
        "1001",
        utc(T + 8),
        utc(T + 60),
    )
    assert u.hangup_cause == "16"
    assert u.details == {
        "wait_s": 3.0,
        "talk_s": 52.0,
        "hangup_cause_text": "Normal Clearing",
        "outcome": "answered",
    }


def test_repeated_answer_keeps_the_first() -> None:
    """A replayed answer (or one for a second agent) keeps the first time and agent."""
    book = CdrBook()
    arrive(book)
    book.acd(ev(EventKind.CALL_ANSWERED, T + 8, queue="sales", agent_id="1001", wait_s=3.0))
    only(book)
    assert not book.acd(
        ev(EventKind.CALL_ANSWERED, T + 8, queue="sales", agent_id="1001", wait_s=3.0)
    )
    assert not book.acd(
        ev(EventKind.CALL_ANSWERED, T + 9, queue="sales", agent_id="1002", wait_s=4.0)
    )
    assert book.take(10) == []


def test_caller_who_hangs_up_in_the_queue_is_abandoned() -> None:
    """A queued caller hangs up before an agent answers: ended, no answer, outcome
    abandoned, with the wait the ACD reports after the hang-up."""
    book = CdrBook()
    arrive(book)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 2, queue="care"))
    book.hung_up("1.1", T + 7, cause="16", now=T + 7)
    book.acd(ev(EventKind.CALL_ABANDONED, T + 7, queue="care", wait_s=5.0))
    u = only(book)
    assert (u.queue, u.answered_at, u.ended_at) == ("care", None, utc(T + 7))
    assert u.details == {"abandoned": True, "wait_s": 5.0, "outcome": "abandoned"}


def test_caller_who_hangs_up_in_the_ivr_never_queued() -> None:
    """A caller who ends the call before any queue: outcome ivr, no queue."""
    book = CdrBook()
    arrive(book)
    book.hung_up("1.1", T + 4, cause="16", now=T + 4)
    u = only(book)
    assert (u.queue, u.ended_at, u.details["outcome"]) == (None, utc(T + 4), "ivr")


@pytest.mark.parametrize("kind", ["voicemail", "callback", "message"])
def test_overflow_out_of_the_queues_names_the_outcome(kind: str) -> None:
    """A wait that overflows to voicemail, a callback or a message: the overflow is
    kept (queue, kind, target, wait) and names the outcome."""
    book = CdrBook()
    arrive(book)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 1, queue="sales"))
    book.acd(
        ev(
            EventKind.CALL_OVERFLOWED,
            T + 3,
            queue="sales",
            reason=kind,
            target="support@default",
            wait_s=2.0,
        )
    )
    book.hung_up("1.1", T + 20, cause="16", now=T + 20)
    u = only(book)
    assert u.queue == "sales"
    assert u.details["overflows"] == [
        {"queue": "sales", "kind": kind, "target": "support@default", "wait_s": 2.0}
    ]
    assert u.details["outcome"] == kind


def test_overflow_to_another_queue_moves_the_record_there() -> None:
    """Overflowed to a second queue whose agent answers: the record's queue is the
    second one, the overflow from the first is in details, outcome answered."""
    book = CdrBook()
    arrive(book)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 1, queue="sales"))
    overflow = ev(
        EventKind.CALL_OVERFLOWED, T + 3, queue="sales", reason="queue", target="support", wait_s=2
    )
    book.acd(overflow)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 3, queue="support", reason="overflow"))
    assert not book.acd(overflow)  # replayed: listed once
    book.acd(ev(EventKind.CALL_ANSWERED, T + 4, queue="support", agent_id="1001", wait_s=1.0))
    u = only(book)
    assert (u.queue, u.agent) == ("support", "1001")
    assert [o["target"] for o in u.details["overflows"]] == ["support"]
    assert u.details["outcome"] == "answered"


def test_calls_it_did_not_see_arrive_get_nothing() -> None:
    """ACD events and hang-ups of channels that never entered the inbound dialplan
    (the dialer's outbound calls, agent legs) open no record."""
    book = CdrBook()
    assert not book.acd(ev(EventKind.CALL_ENQUEUED, T, call_id="9.9", queue="sales"))
    assert not book.acd(ev(EventKind.CALL_ANSWERED, T, call_id="9.9", agent_id="1001"))
    assert not book.hung_up("9.9", T, cause="16", now=T)
    assert book.take(10) == []
    assert len(book) == 0


def test_a_hung_up_call_is_not_opened_again_by_a_replay() -> None:
    """After its end (kept while it lingers, and after it is forgotten) an arrival
    replayed for the same channel opens nothing."""
    book = CdrBook(linger_s=5.0)
    arrive(book)
    book.hung_up("1.1", T + 3, cause="16", now=T + 3)
    only(book)
    assert not arrive(book, at=T + 4)
    assert book.expire(T + 9) == 1
    assert len(book) == 0
    assert not arrive(book, at=T + 10)
    assert book.take(10) == []


def test_late_acd_events_after_the_hang_up_still_count_while_lingering() -> None:
    """The ACD reports an abandon after the AMI Hangup; a record already written is
    written again with it; past the linger the draft is forgotten."""
    book = CdrBook(linger_s=10.0)
    arrive(book)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 1, queue="care"))
    book.hung_up("1.1", T + 5, now=T + 5)
    only(book)
    assert book.expire(T + 6) == 0
    assert book.acd(ev(EventKind.CALL_ABANDONED, T + 5.1, queue="care", wait_s=4.1))
    assert only(book).details["wait_s"] == 4.1
    assert book.expire(T + 16) == 1


def test_same_uniqueid_from_a_restarted_asterisk_is_another_call() -> None:
    """A restarted Asterisk reusing a uniqueid: the old call ends (it died with its
    process), the new one gets its own record under the new node."""
    book = CdrBook()
    arrive(book, node="old")
    only(book)
    assert arrive(book, at=T + 30, node="new")
    taken = {t.key: t.update for t in book.take(10)}
    assert set(taken) == {("old", "1.1"), ("new", "1.1")}
    assert taken[("old", "1.1")].ended_at == utc(T + 30)
    assert taken[("old", "1.1")].details["ended_by"] == ASTERISK_RESTARTED
    assert taken[("new", "1.1")].ended_at is None


def test_reconcile_ends_calls_asterisk_no_longer_has() -> None:
    """After a reconnect, calls no longer among Asterisk's channels end now (gone while
    away); after a restart every call ends."""
    book = CdrBook()
    arrive(book, "1.1")
    arrive(book, "1.2")
    book.take(10)
    assert book.reconcile({"1.2"}, T + 9, restarted=False) == 1
    [gone] = book.take(10)
    assert (gone.key, gone.update.ended_at) == ((NODE, "1.1"), utc(T + 9))
    assert gone.update.details["ended_by"] == GONE_WHILE_AWAY
    assert book.reconcile({"1.2"}, T + 10, restarted=True) == 1
    [restarted] = book.take(10)
    assert restarted.update.details["ended_by"] == ASTERISK_RESTARTED


def test_a_failed_write_gives_the_records_back_and_keeps_them() -> None:
    """A batch whose write failed is dirty again, ahead of newer changes, and an ended
    draft is never forgotten while it is unwritten or being written."""
    book = CdrBook(linger_s=0.0)
    arrive(book, "1.1")
    book.hung_up("1.1", T + 1, now=T + 1)
    batch = book.take(10)
    assert book.expire(T + 100) == 0  # being written
    arrive(book, "1.2")
    book.retry(batch)
    assert book.expire(T + 100) == 0  # dirty again
    assert [t.key[1] for t in book.take(10)] == ["1.1", "1.2"]


def test_a_change_while_writing_is_written_again() -> None:
    """An event that arrives while its record is being written marks it again."""
    book = CdrBook()
    arrive(book)
    batch = book.take(10)
    book.acd(ev(EventKind.CALL_ENQUEUED, T + 1, queue="sales"))
    book.written(batch)
    assert only(book).queue == "sales"


def test_a_full_book_drops_new_calls_and_keeps_following_the_others() -> None:
    """At capacity a new call gets no record (counted); calls held still get their
    events."""
    book = CdrBook(capacity=1)
    arrive(book, "1.1")
    assert not arrive(book, "1.2")
    assert book.dropped == 1
    assert book.acd(ev(EventKind.CALL_ENQUEUED, T + 1, queue="sales"))
    assert [t.key[1] for t in book.take(10)] == ["1.1"]


def test_take_hands_out_batches_oldest_change_first() -> None:
    """``take`` gives at most ``limit`` records, the oldest change first."""
    book = CdrBook()
    for n in range(5):
        arrive(book, f"1.{n}", at=T + n)
    assert [t.key[1] for t in book.take(2)] == ["1.0", "1.1"]
    assert [t.key[1] for t in book.take(10)] == ["1.2", "1.3", "1.4"]


def test_times_before_the_start_are_clamped() -> None:
    """An answer or end stamped before the start (clocks of two hosts) is written as the
    start time, never refused by the table's ordering check."""
    book = CdrBook()
    arrive(book)
    book.acd(ev(EventKind.CALL_ANSWERED, T - 0.5, queue="sales", agent_id="1001"))
    book.hung_up("1.1", T - 0.2, now=T)
    u = only(book)
    assert u.answered_at == utc(T)
    assert u.ended_at == utc(T)


def test_only_a_step_of_the_inbound_context_that_is_not_a_dialed_leg_calls_in() -> None:
    """A customer's dialplan step in ccpbx-inbound calls in; a campaign call dialed out on
    the carrier trunk (it waits in the trunk's context as AppDial2) and steps of other
    contexts do not."""
    assert calls_in("ccpbx-inbound", "NoOp")
    assert calls_in("ccpbx-inbound", "AGI")
    assert not calls_in("ccpbx-inbound", "AppDial2")
    assert not calls_in("ccpbx-inbound", "AppDial")
    assert not calls_in("ccpbx-outbound", "NoOp")
    assert not calls_in("ccpbx-queue-wait", "MusicOnHold")


def test_an_open_record_from_before_a_ccpbx_restart_is_followed_again() -> None:
    """A record an earlier ccpbx left open: if its channel lives, later events fill it
    (nothing is written until they do); if not, it ends now, gone while away. A call
    the book knows already is not adopted twice."""
    book = CdrBook()
    stored = Draft(NODE, "1.1", "1.1", "15550123", "1800", T, queue="care")
    assert book.adopt(stored, live=True, now=T + 50)
    assert book.take(10) == []
    assert not book.adopt(Draft(NODE, "1.1", "1.1", "", "", T), live=True, now=T + 50)
    book.hung_up("1.1", T + 60, cause="16", now=T + 60)
    book.acd(ev(EventKind.CALL_ABANDONED, T + 60, queue="care", wait_s=55.0))
    u = only(book)
    assert (u.started_at, u.ended_at, u.queue) == (utc(T), utc(T + 60), "care")
    assert u.details["outcome"] == "abandoned"
    assert book.adopt(Draft(NODE, "1.2", "1.2", "", "", T), live=False, now=T + 70)
    gone = only(book)
    assert (gone.ended_at, gone.details["ended_by"]) == (utc(T + 70), GONE_WHILE_AWAY)
