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
work is; in any other thread (where no signal can be delivered) a trace function checks the
clock every few hundred Python calls and raises it there. Both raise synchronously in the
guarded block and are disarmed when it ends, so an expiry never escapes it. Limits nest
(a question inside an activation's budget); the earliest deadline fires first. The expiry
derives from ``BaseException``, so the ``except Exception`` clauses inside SymPy and mpmath
cannot swallow it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import SymactError

__all__ = ["BudgetExceeded", "Budget", "QuestionLimit", "phase", "DEFAULT_SECONDS"]

T = TypeVar("T")

#: Default wall-clock budget of one activation in ``generate`` and ``audit``, in seconds.
DEFAULT_SECONDS = 60.0

#: Python calls between two looks at the clock, off the main thread.
_CALLS_PER_CHECK = 256


class BudgetExceeded(SymactError):
    """An activation's work ran past its budget."""


class _Expired(BaseException):
    """Raised inside a guarded block when its deadline passes; never escapes the block."""

    def __init__(self, deadline: _Deadline | None = None):
        super().__init__()
        self.deadline = deadline


@dataclass
class _Deadline:
    at: float  # time.monotonic() past which the block is interrupted
    phase: tuple[str, str] = ("work", "")  # what the thread was doing when it expired


class _Stack(threading.local):
    def __init__(self) -> None:
        self.deadlines: list[_Deadline] = []
        self.phase: tuple[str, str] = ("work", "")
        self.calls = 0


_local = _Stack()


@contextmanager
def phase(name: str, quantity: str = "") -> Iterator[None]:
    """Label the work in this block, so that an expired budget says where it was spent."""
    previous = _local.phase
    _local.phase = (name, quantity)
    try:
        yield
    finally:
        _local.phase = previous


def _expire(now: float) -> None:
    """Raise the expiry of the earliest deadline that has passed, if any."""
    due = [d for d in _local.deadlines if d.at <= now]
    if due:
        first = min(due, key=lambda d: d.at)
        first.phase = _local.phase
        raise _Expired(first)


def _on_alarm(signum: int, frame: Any) -> None:
    _expire(time.monotonic())
    _arm()  # a later deadline still pending


def _arm() -> None:
    """Set the process timer to the earliest pending deadline of the main thread."""
    if not _local.deadlines:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    wait = min(d.at for d in _local.deadlines) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(wait, 1e-3))


def _tracer(frame: Any, event: str, arg: Any) -> None:
    _local.calls += 1
    if _local.calls % _CALLS_PER_CHECK == 0:
        _expire(time.monotonic())
    return None


def _use_signal() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextmanager
def _limit(seconds: float) -> Iterator[_Deadline]:
    """Interrupt the block with :class:`_Expired` (carrying this deadline) after ``seconds``."""
    deadline = _Deadline(time.monotonic() + seconds)
    signals = _use_signal()
    outermost = not _local.deadlines
    previous_handler: Any = None
    previous_trace: Any = None
    if outermost:
        if signals:
            previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
        else:
            previous_trace = sys.gettrace()
            sys.settrace(_tracer)
    _local.deadlines.append(deadline)
    try:
        if signals:
            _arm()
        yield deadline
    finally:
        _local.deadlines.remove(deadline)
        if signals:
            _arm()
            if outermost:
                signal.signal(signal.SIGALRM, previous_handler)
        elif outermost:
            sys.settrace(previous_trace)


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
            if e.deadline is not mine:
                raise
            name, quantity = mine.phase
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
            if e.deadline is not mine:
                raise
            self.gave_up.append(what or f"a SymPy step gave up after {self.seconds:g} s")
            return None
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError):
            return None  # SymPy cannot answer this one; the caller falls back
