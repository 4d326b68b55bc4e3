"""What every worker of one eval shares: the budget ledger, the requests-per-minute cap, run checkpoints.

On Ray this object lives in one named actor (:mod:`softco.eval.ray_backend`); it is plain Python here so its
rules are tested without a cluster. All its methods run on the actor's one thread, so a check and the
reservation it allows happen with nothing in between.

- **Budget**: the same rule as :class:`softco.llm.budget.SharedLedger` (reserve a call's worst case before it
  starts, settle its real usage after; a call that does not fit waits while calls elsewhere are in flight,
  and stops every run once nothing in flight could give room back), counted per run as well, so that the
  reservations of a worker that died (killed, its node lost) can be written off: they count as *spent* at
  their worst case, since the provider may have billed the calls they stood for.
- **Rate**: with ``rpm``, at most that many calls start in any 60 seconds, across every worker. A call
  over the cap is told to wait (like one that does not fit the budget yet); each model call counts once
  (the ``openai`` client's own retries of a 429 do not).
- **Checkpoints**: before each model call a worker leaves the latest state of its project here (a
  :class:`~softco.eval.shipping.ProjectPack`, only when it changed); when a worker dies the driver takes the
  last one and writes it to the eval's output as a partial run, which the next invocation resumes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from softco.eval.shipping import ProjectPack
from softco.llm.budget import Budget, Grant, SharedLedger

#: The window of the requests-per-minute cap, in seconds.
RATE_WINDOW_S = 60.0
#: How long a worker waits before asking again when its call waits for budget room (see :meth:`ask`).
BUDGET_RETRY_S = 0.2


class EvalCoordinator:
    """The shared state of one eval (see the module). ``clock`` is for tests (monotonic seconds)."""

    def __init__(
        self,
        budget: Budget,
        rpm: int | None = None,
        resume_hint: str = "run the same command again with a higher --budget",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rpm is not None and rpm < 1:
            raise ValueError(f"rpm must be 1 or more, got {rpm}")
        self.ledger = SharedLedger(budget, resume_hint)
        self.rpm = rpm
        self.clock = clock
        self.started: deque[float] = deque()
        #: run key -> the (tokens, usd) worst cases of its calls in flight
        self.outstanding: dict[str, list[tuple[int, float]]] = {}
        self.checkpoints: dict[str, ProjectPack] = {}
        self.calls = 0

    def _rate_room(self) -> bool:
        if self.rpm is None:
            return True
        now = self.clock()
        while self.started and self.started[0] <= now - RATE_WINDOW_S:
            self.started.popleft()
        return len(self.started) < self.rpm

    def reserve(self, run: str, tokens: int, usd: float | None) -> Grant:
        """Reserve a call's worst case for ``run``: granted, or wait (``stop`` None), or stop (a reason)."""
        if self.ledger.stopped is not None:
            return Grant(False, self.ledger.stopped)
        if not self._rate_room():
            return Grant(False)
        grant = self.ledger.reserve(tokens, usd)
        if grant.ok:
            self.outstanding.setdefault(run, []).append((tokens, usd or 0.0))
            if self.rpm is not None:
                self.started.append(self.clock())
            self.calls += 1
        return grant

    def ask(self, run: str, tokens: int, usd: float | None) -> tuple[Grant, float]:
        """:meth:`reserve`, and when the call is to wait, how long before asking again is worth it: until the
        rate window has room, or :data:`BUDGET_RETRY_S` for budget room. A worker waits that long without
        asking, so many waiting calls do not flood the actor."""
        grant = self.reserve(run, tokens, usd)
        if grant.ok or grant.stop is not None:
            return grant, 0.0
        if not self._rate_room():
            return grant, max(0.0, self.started[0] + RATE_WINDOW_S - self.clock())
        return grant, BUDGET_RETRY_S

    def settle(self, run: str, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None:
        """A call of ``run`` ended: give back its reservation, add what it used."""
        mine = self.outstanding.get(run, [])
        if (tokens, usd) in mine:
            mine.remove((tokens, usd))
            self.ledger.settle(tokens, usd, used_tokens, used_usd)

    def write_off(self, run: str) -> int:
        """``run``'s worker is gone: its calls in flight count as spent at their worst case. Returns how many."""
        mine = self.outstanding.pop(run, [])
        for tokens, usd in mine:
            self.ledger.settle(tokens, usd, tokens, usd)
        return len(mine)

    def checkpoint(self, run: str, pack: ProjectPack) -> None:
        self.checkpoints[run] = pack

    def take_checkpoint(self, run: str) -> ProjectPack | None:
        """The last state ``run``'s worker left (and forget it)."""
        return self.checkpoints.pop(run, None)

    def totals(self) -> dict[str, float | int | str | None]:
        b = self.ledger.budget
        return {
            "spent_usd": b.spent_usd,
            "spent_tokens": b.spent_tokens,
            "reserved_usd": b.reserved_usd,
            "reserved_tokens": b.reserved_tokens,
            "in_flight": self.ledger.in_flight,
            "calls": self.calls,
            "stopped": self.ledger.stopped,
        }
