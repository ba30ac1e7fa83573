"""Wall-clock budgets: they stop runaway work in the main thread and in worker threads,
nest, fire again when an expiry was dropped, and leave nothing armed behind."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import weakref

import pytest

from symact.budget import Budget, BudgetExceeded, QuestionLimit, phase


def _step() -> int:
    return sum(range(50))


def _spin_until(t: float) -> None:
    """Busy Python work: calls to a Python function, which a worker thread's clock checks
    count (as in SymPy's work)."""
    while time.monotonic() < t:
        _step()


def _in_thread(work):
    """Run ``work()`` in a worker thread; what it returned or raised."""
    box: dict[str, object] = {}

    def run():
        try:
            box["value"] = work()
        except BaseException as e:  # noqa: B036 - handed back to the test
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert not t.is_alive(), "the budget did not stop the worker thread"
    return box


WHERE = ["main thread", "worker thread"]


def _run(where, work):
    if where == "main thread":
        try:
            return {"value": work()}
        except BaseException as e:  # noqa: B036
            return {"error": e}
    return _in_thread(work)


@pytest.mark.parametrize("where", WHERE)
def test_a_budget_stops_the_work_and_names_the_phase(where):
    def work():
        start = time.monotonic()
        with Budget(0.2, "activation 'spin'").guard(), phase("spinning", "f"):
            _spin_until(start + 30)

    start = time.monotonic()
    box = _run(where, work)
    assert isinstance(box.get("error"), BudgetExceeded)
    assert "activation 'spin': spinning for f ran past the budget of 0.2 s" in str(box["error"])
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("where", WHERE)
def test_work_within_the_budget_returns_and_leaves_nothing_armed(where):
    def work():
        with Budget(5).guard():
            value = 6 * 7
        return value, sys.gettrace()

    before = sys.gettrace()
    box = _run(where, work)
    assert box["value"] == (42, None if where == "worker thread" else before)
    if where == "main thread":
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)
    _spin_until(time.monotonic() + 0.3)  # nothing fires after the block


@pytest.mark.parametrize("where", WHERE)
def test_a_question_past_its_limit_is_undecided_and_the_outer_budget_goes_on(where):
    def work():
        limit = QuestionLimit(0.1)
        with Budget(10).guard():
            answer = limit.run(lambda: _spin_until(time.monotonic() + 30), "spin")
            after = limit.run(lambda: "quick")
        return answer, after, limit.gave_up

    box = _run(where, work)
    assert box["value"] == (None, "quick", ["spin"])


@pytest.mark.parametrize("where", WHERE)
def test_an_outer_budget_that_ends_inside_a_question_is_not_taken_for_the_question(where):
    def work():
        limit = QuestionLimit(30)
        with Budget(0.2).guard():
            limit.run(lambda: _spin_until(time.monotonic() + 30))

    box = _run(where, work)
    assert isinstance(box.get("error"), BudgetExceeded)


class _Slow:
    """A finalizer that runs past the deadline: an exception raised inside it is dropped."""

    def __init__(self, until: float):
        self.until = until

    def __del__(self):
        _spin_until(self.until)


@pytest.mark.parametrize("where", WHERE)
def test_an_expiry_landing_in_a_finalizer_fires_again_after_it(where):
    def work():
        start = time.monotonic()
        with Budget(0.1).guard():
            _Slow(start + 0.4)  # dropped at once; the deadline passes inside __del__
            _spin_until(start + 30)

    start = time.monotonic()
    box = _run(where, work)
    assert isinstance(box.get("error"), BudgetExceeded)
    assert time.monotonic() - start < 5


def test_an_expiry_waits_out_a_collector_callback(monkeypatch):
    """A garbage-collector callback cannot propagate an exception: Python prints and drops
    it. The expiry must wait until the callback has returned, then fire."""
    start = time.monotonic()
    dropped = []
    stopped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)

    def slow_callback(phase_name, info):
        if phase_name == "start":
            _spin_until(start + 0.4)
        else:
            stopped.append(time.monotonic())

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(BudgetExceeded):
            with Budget(0.1).guard():
                gc.collect()  # the deadline passes inside the callback
                _spin_until(start + 30)
    finally:
        gc.callbacks.remove(slow_callback)
    # Soon after the collection ended (a full collection of a test process with torch and
    # TensorFlow loaded takes seconds when other processes hold the cores).
    assert stopped and time.monotonic() - stopped[0] < 5
    assert dropped == []  # never raised inside the callback


def test_an_expiry_waits_out_a_weakref_finalizer(monkeypatch):
    """``weakref.finalize`` runs its function when the object dies, where an exception is
    dropped too (printed as "ignored")."""
    start = time.monotonic()
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)

    class Owner:
        pass

    with pytest.raises(BudgetExceeded):
        with Budget(0.1).guard():
            owner = Owner()
            weakref.finalize(owner, _spin_until, start + 0.4)
            del owner  # the finalizer runs now; the deadline passes inside it
            _spin_until(start + 30)
    assert time.monotonic() - start < 5
    assert dropped == []


def test_a_child_forked_inside_a_worker_threads_budget_is_still_limited():
    """After fork only the forking thread lives on; its deadline must still fire there."""

    def work():
        pid = -1
        code = 4
        try:
            with Budget(0.3).guard():
                pid = os.fork()
                if pid == 0:
                    _spin_until(time.monotonic() + 30)
                    code = 3
        except BudgetExceeded:
            code = 0
        finally:
            if pid == 0:
                os._exit(code)  # the child never returns into the test run
        _, status = os.waitpid(pid, 0)  # the parent's block has ended: nothing fires here
        return status

    start = time.monotonic()
    box = _in_thread(work)
    assert "value" in box, box
    assert os.WIFEXITED(box["value"]) and os.WEXITSTATUS(box["value"]) == 0, box["value"]
    assert time.monotonic() - start < 10
