"""Time budgets that stop runaway symbolic or numeric work, in any thread.

Note [Budgets never change output]
    What ``generate`` writes depends only on the definition and the symact version, so no
    wall-clock limit may decide *what* is computed: work that is skipped for being too big
    is skipped by a count (the operation count of a formula, the number of points), which
    gives the same answer on a busy machine. A wall-clock budget only decides *whether*
    the work finishes: past it, :class:`BudgetExceeded` names the phase and the quantity,
    and the command fails with exit code 2 and writes nothing.

    The one exception is :class:`QuestionLimit`, for the audit, whose report is not a
    generated file: a question (a limit, a solve) that runs past its limit is reported as
    undecided.

How a limit interrupts: in the main thread a ``SIGALRM`` timer raises the expiry where the
work is. In any other thread, where no signal can be delivered, one watchdog thread per
process waits for the earliest deadline and raises the expiry in the late thread with
``PyThreadState_SetAsyncExc``, the way an interrupt would; the worker pays nothing while
it runs (a trace function, the other way to do it, slows every Python call). Limits nest
(a question inside an activation's budget); the earliest deadline fires first. The expiry
derives from ``BaseException``, so the ``except Exception`` clauses inside SymPy and mpmath
cannot swallow it. Each deadline raises its own subclass, so a block recognises its own
expiry even when it arrives as a bare class from another thread.

Note [An expiry fires until the block ends]
    An exception raised where a finalizer (``__del__``), a weakref or a garbage-collector
    callback happens to run is printed as "ignored" and dropped: Python cannot propagate
    it. The clock lands there by chance, more often in a process full of objects with
    finalizers (a test run that imported TensorFlow and PyTorch). A one-shot alarm would
    then leave the work running with no limit at all, so a passed deadline fires again
    every ``_REPEAT`` seconds until its block ends. The same re-firing lets an expiry wait
    out the few places where raising would leave shared state broken: the import
    machinery's module locks, ``threading``'s locks and conditions, ``contextlib``'s
    enter/exit (a skipped exit would leave a deadline behind), this module's own
    bookkeeping, and anything a ``__del__``, a ``weakref.finalize``, a ``gc.callbacks``
    function or a garbage collection runs (where it would be dropped with a message). There the raise is
    deferred, never dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import SymactError

__all__ = ["BudgetExceeded", "Budget", "QuestionLimit", "phase", "DEFAULT_SECONDS"]

T = TypeVar("T")

#: Default wall-clock budget of one activation in ``generate`` and ``audit``, in seconds.
DEFAULT_SECONDS = 60.0

#: Seconds between two firings of a deadline that has passed (Note [An expiry fires until
#: the block ends]).
_REPEAT = 0.05

#: Code where an expiry is deferred rather than raised (Note [An expiry fires until the
#: block ends]): frozen import machinery, ``threading``, ``contextlib`` and this module.
_DEFER_IN = frozenset(
    {
        "<frozen importlib._bootstrap>",
        "<frozen importlib._bootstrap_external>",
        threading.__file__,
        contextlib.__file__,
        __file__,
    }
)


def _must_wait(frame: Any, thread: int) -> bool:
    """Whether an expiry must not be raised in ``thread``, running ``frame``, now (it fires
    again shortly): the code running is in ``_DEFER_IN``, the thread is collecting garbage
    (finalizers and weakref callbacks run then), or a finalizer or a garbage-collector
    callback is on the stack."""
    if frame is None:
        return False
    if frame.f_code.co_filename in _DEFER_IN:
        return True
    if thread in _collecting:
        return True
    callbacks = {_code_of(cb) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_code in callbacks or frame.f_code is _FINALIZE:
            return True
        frame = frame.f_back
    return False


#: What a ``weakref.finalize`` runs its function in, outside a garbage collection too.
_FINALIZE = weakref.finalize.__call__.__code__

#: The threads collecting garbage now (between a collection's "start" and "stop").
_collecting: set[int] = set()


def _track_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting.add(threading.get_ident())
    else:
        _collecting.discard(threading.get_ident())


gc.callbacks.append(_track_collection)


def _code_of(function: Any) -> Any:
    """The code object a callable runs (a function's or a bound method's), or None."""
    function = getattr(function, "__func__", function)
    return getattr(function, "__code__", None)


class BudgetExceeded(SymactError):
    """An activation's work ran past its budget."""


class _Expired(BaseException):
    """Raised inside a guarded block when its deadline passes; never escapes the block.
    Each deadline raises its own subclass (:attr:`_Deadline.expired`)."""

    deadline: _Deadline


class _Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds  # past this, the block is interrupted
        self.phase: tuple[str, str] | None = None  # what was running when it expired
        self.thread = threading.get_ident()
        self._expired: type[_Expired] | None = None

    @property
    def expired(self) -> type[_Expired]:
        """The exception class this deadline raises (made on first use)."""
        if self._expired is None:
            self._expired = type("_Expired", (_Expired,), {"deadline": self})
        return self._expired


class _Stack(threading.local):
    def __init__(self) -> None:
        self.deadlines: list[_Deadline] = []


_local = _Stack()


@contextmanager
def phase(name: str, quantity: str = "") -> Iterator[None]:
    """Label the work in this block, so that an expired budget says where it was spent."""
    try:
        yield
    except _Expired as e:
        if e.deadline.phase is None:  # the innermost phase names it
            e.deadline.phase = (name, quantity)
        raise


# -- the main thread: a process timer -----------------------------------------------


def _on_alarm(signum: int, frame: Any) -> None:
    now = time.monotonic()
    due = [d for d in _local.deadlines if d.at <= now]
    if due and not _must_wait(frame, threading.get_ident()):
        raise min(due, key=lambda d: d.at).expired
    _arm()  # a later deadline still pending, or this one deferred


def _arm() -> None:
    """Set the process timer to the earliest pending deadline of the main thread, firing
    again every ``_REPEAT`` seconds once it has passed."""
    if not _local.deadlines:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    wait = min(d.at for d in _local.deadlines) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(wait, 1e-3), _REPEAT)


# -- other threads: a watchdog ------------------------------------------------------


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Have ``thread`` raise ``exc`` at its next Python instruction (None: cancel)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


class _Watchdog:
    """One daemon thread that fires the passed deadlines of every thread but the main one."""

    def __init__(self) -> None:
        self.wake = threading.Condition(threading.Lock())
        self.pending: dict[_Deadline, None] = {}  # insertion-ordered set
        self.thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self.wake:
            self.pending[deadline] = None
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="symact-budget", daemon=True)
                self.thread.start()
            self.wake.notify()

    def discard(self, deadline: _Deadline) -> None:
        self.pending.pop(deadline, None)  # one C call: no expiry can land half-way

    def _run(self) -> None:
        with self.wake:
            while True:
                now = time.monotonic()
                frames: dict[int, Any] | None = None
                earliest: dict[int, _Deadline] = {}
                for d in list(self.pending):
                    if d.thread not in earliest or d.at < earliest[d.thread].at:
                        earliest[d.thread] = d
                for thread, d in earliest.items():
                    if d.at > now:
                        continue
                    if frames is None:
                        frames = sys._current_frames()
                    if thread not in frames:  # the thread has ended
                        self.discard(d)
                    elif not _must_wait(frames[thread], thread):
                        _raise_in(thread, d.expired)
                due = [d.at for d in earliest.values()]
                if not due:
                    self.wake.wait()
                else:
                    self.wake.wait(max(min(due) - time.monotonic(), _REPEAT if min(due) <= now else 0.0))

    def after_fork(self) -> None:
        """In a forked child only the forking thread lives on; keep its deadlines."""
        me = threading.get_ident()
        self.wake = threading.Condition(threading.Lock())
        self.pending = {d: None for d in self.pending if d.thread == me}
        self.thread = None
        if self.pending:
            self.add(next(iter(self.pending)))


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.after_fork)


class _limit:
    """Interrupt the block with its deadline's expiry after ``seconds``.

    A class rather than a generator-based context manager: its exit is this module's code,
    where no expiry is raised, so the deadline is always removed (Note [An expiry fires
    until the block ends])."""

    def __init__(self, seconds: float):
        self.deadline = _Deadline(seconds)
        self.signals = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self.outermost = False
        self.previous: Any = None

    def __enter__(self) -> _Deadline:
        if self.signals:
            self.outermost = not _local.deadlines
            if self.outermost:
                self.previous = signal.signal(signal.SIGALRM, _on_alarm)
            _local.deadlines.append(self.deadline)
            _arm()
        else:
            _watchdog.add(self.deadline)
        return self.deadline

    def __exit__(self, *exc: object) -> None:
        if self.signals:
            _local.deadlines.remove(self.deadline)
            _arm()
            if self.outermost:
                signal.signal(signal.SIGALRM, self.previous)
        else:
            _watchdog.discard(self.deadline)
            _raise_in(self.deadline.thread, None)  # one fired just as the block ended


def _expired_here(e: _Expired, mine: _Deadline) -> bool:
    """Whether ``e`` is ``mine``'s expiry (else an outer block's, to pass on)."""
    _watchdog.discard(mine)  # an expiry that beat the exit to it must not fire again
    return e.deadline is mine


class Budget:
    """A wall-clock budget for one activation's work (Note [Budgets never change output]).

    ``seconds=None`` means no limit. Use :meth:`guard` around the work and
    :func:`phase` inside it to label what is running.
    """

    def __init__(self, seconds: float | None = DEFAULT_SECONDS, what: str = ""):
        self.seconds = seconds
        self.what = what

    @contextmanager
    def guard(self) -> Iterator[None]:
        if self.seconds is None:
            yield
            return
        try:
            with _limit(self.seconds) as mine:
                yield
        except _Expired as e:
            if not _expired_here(e, mine):
                raise
            name, quantity = mine.phase or ("work", "")
            where = f" for {quantity}" if quantity else ""
            raise BudgetExceeded(
                f"{self.what}{': ' if self.what else ''}{name}{where} ran past the budget of "
                f"{self.seconds:g} s; simplify the definition, or raise the limit with --budget"
            ) from None


class QuestionLimit:
    """Runs audit questions under a per-question limit; remembers which gave up."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.gave_up: list[str] = []

    def run(self, question: Callable[[], T], what: str = "") -> T | None:
        """``question()``, or None when it runs past the limit or SymPy cannot answer."""
        try:
            with _limit(self.seconds) as mine:
                return question()
        except _Expired as e:
            if not _expired_here(e, mine):
                raise
            self.gave_up.append(what or f"a SymPy step gave up after {self.seconds:g} s")
            return None
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError):
            return None  # SymPy cannot answer this one; the caller falls back
