"""The process's SQLite write lock: intake's urgent writes overtake waiting playbook writes."""

from __future__ import annotations

import threading
import time

import pytest

from defib.store.database import Database
from defib.store.writelock import UrgentFirstLock


def _waiter(lock: UrgentFirstLock, urgent: bool, name: str, order: list[str]) -> threading.Thread:
    def run() -> None:
        lock.acquire(urgent)
        order.append(name)
        lock.release()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _until_waiting(lock: UrgentFirstLock, urgent: int) -> None:
    deadline = time.monotonic() + 5
    while lock._urgent_waiting < urgent:
        assert time.monotonic() < deadline, "waiter never queued"
        time.sleep(0.001)


def test_an_urgent_writer_goes_before_an_ordinary_one_that_waited_longer() -> None:
    lock = UrgentFirstLock(max_defer=30)
    order: list[str] = []
    lock.acquire()
    ordinary = _waiter(lock, False, "playbook", order)
    time.sleep(0.05)  # the ordinary writer is queued first
    urgent = _waiter(lock, True, "intake", order)
    _until_waiting(lock, 1)
    lock.release()
    urgent.join(5)
    ordinary.join(5)
    assert order == ["intake", "playbook"]


def test_an_ordinary_writer_is_let_in_after_max_defer_while_urgent_writers_wait() -> None:
    """Playbooks slow down during a storm; they never stop."""
    lock = UrgentFirstLock(max_defer=0.05)
    urgent_held = threading.Event()
    order: list[str] = []

    def urgent_writer() -> None:
        lock.acquire(True)
        urgent_held.set()
        order.append("intake")
        lock.release()

    # An urgent writer that keeps waiting: the lock is free, yet one is queued.
    lock._urgent_waiting = 1
    ordinary = _waiter(lock, False, "playbook", order)
    ordinary.join(5)
    assert order == ["playbook"]
    lock._urgent_waiting = 0
    threading.Thread(target=urgent_writer, daemon=True).start()
    assert urgent_held.wait(5)


def test_reentrant_for_its_owner_and_refuses_a_stranger_release() -> None:
    lock = UrgentFirstLock()
    lock.acquire()
    lock.acquire(True)
    lock.release()
    errors: list[Exception] = []

    def stranger() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=stranger)
    t.start()
    t.join()
    assert len(errors) == 1
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_on_postgresql_only_intake_and_deferring_writers_queue_on_the_lock(
    db: Database,
) -> None:
    """Other writers stay concurrent on PostgreSQL; on SQLite every writer queues."""
    holder = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with db.write(defer=True):
            holder.set()
            release.wait(5)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    assert holder.wait(5)
    try:
        plain_got_in = threading.Event()

        def plain() -> None:
            with db.write():
                plain_got_in.set()

        threading.Thread(target=plain, daemon=True).start()
        # A plain writer gets in while the deferring one holds the lock only on PostgreSQL.
        assert plain_got_in.wait(0.5 if db.is_sqlite else 5) is (not db.is_sqlite)
    finally:
        release.set()
        t.join(5)


def test_shared_holders_run_beside_each_other() -> None:
    """PostgreSQL's group writers need an order against intake, not against each other."""
    lock = UrgentFirstLock(max_defer=30)
    assert lock.acquire_shared()
    other = threading.Thread(target=lambda: (lock.acquire_shared(), lock.release_shared()))
    other.start()
    other.join(5)
    assert not other.is_alive(), "a second shared holder waited for the first"
    lock.release_shared()


def test_intake_waits_for_shared_holders_and_new_ones_wait_for_intake() -> None:
    lock = UrgentFirstLock(max_defer=30)
    order: list[str] = []
    assert lock.acquire_shared()  # a group writer is in
    urgent = _waiter(lock, True, "intake", order)
    _until_waiting(lock, 1)

    def late_group_writer() -> None:
        lock.acquire_shared()
        order.append("late group writer")
        lock.release_shared()

    late = threading.Thread(target=late_group_writer, daemon=True)
    late.start()
    time.sleep(0.05)
    assert order == [], "intake went in beside a shared holder, or a shared one overtook it"
    lock.release_shared()
    urgent.join(5)
    late.join(5)
    assert order == ["intake", "late group writer"]


def test_a_shared_holder_is_let_in_after_max_defer_while_intake_keeps_waiting() -> None:
    lock = UrgentFirstLock(max_defer=0.05)
    lock._urgent_waiting = 1  # an urgent writer queued that never gets in
    started = time.monotonic()
    assert lock.acquire_shared()
    assert time.monotonic() - started >= 0.04
    lock.release_shared()


def test_a_shared_acquire_inside_an_exclusive_hold_re_enters() -> None:
    lock = UrgentFirstLock()
    lock.acquire(True)
    assert lock.acquire_shared() is False
    lock.release()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
