"""One cost ledger per run: every model call of every caller reserves, then settles.

Money is held as integer pico-dollars so that "never cross the cap" is exact arithmetic,
not float luck. A reservation is the call's worst case (the prompt's token bound at the
input price plus `max_tokens` at the output price); `max_tokens` is clipped to what every
applicable cap still affords, and the call is refused (`BudgetExhausted`) when not even
`min_output_tokens` fit. Settlement replaces the reservation by the server's usage.

Thread-safe (one `threading.Lock`; every critical section is a few integer operations), so
asyncio tasks and worker threads can share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.errors import BudgetExhausted, BudgetExit
from agent.llm.prices import ModelPricing, price_for
from agent.llm.types import Usage
from sandbox.errors import QuorumError

log = logging.getLogger(__name__)

PICO = 10**12  # pico-dollars per dollar


def _pico_per_token(usd_per_million: float) -> int:
    # Rounded up: charging a fraction of a pico-dollar too much is safe, too little is not.
    return math.ceil(Decimal(str(usd_per_million)) * 10**6)


def _usd(pico: int) -> float:
    return pico / PICO


class BudgetCaps(BaseModel):
    """Hard caps; None = uncapped. Tokens are prompt + completion, cached included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_usd: float | None = Field(default=None, ge=0)
    run_tokens: int | None = Field(default=None, ge=0)
    trajectory_usd: float | None = Field(default=None, ge=0)
    trajectory_tokens: int | None = Field(default=None, ge=0)
    min_output_tokens: int = Field(
        default=16, ge=1, description="refuse a call rather than clip its output below this"
    )


class Reservation(BaseModel):
    """A handle on reserved budget; give it back to `settle` or `release` exactly once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    caller: str
    model: str
    trajectory_id: str | None
    prompt_tokens: int
    max_tokens: int  # clipped: send this, not what was asked
    reserved_usd: float
    reserved_tokens: int


class Spend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LedgerReport(BaseModel):
    """Spend so far, whole and broken down; what `quorum` writes into the run report."""

    model_config = ConfigDict(extra="forbid")

    caps: BudgetCaps
    total: Spend
    by_caller: dict[str, Spend]
    by_model: dict[str, Spend]
    by_trajectory: dict[str, Spend]
    in_flight: int
    reserved_usd: float
    refusals: int
    lost_calls: int = Field(description="calls released as billed: usage unknown, worst case "
                            "charged")
    overruns: int = Field(description="settlements above their reservation (a prompt bound "
                          "that under-counted, or a server ignoring max_tokens)")
    gpu_busy_s: dict[str, float] = Field(default_factory=dict)


class LedgerError(QuorumError):
    """The ledger was misused (a reservation closed twice, a model registered twice)."""


class Charge(BaseModel):
    """One call as the ledger charged it (settled, or released as billed). A run journals
    these as they happen, so that a restarted run can `restore` what it already spent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caller: str
    model: str
    trajectory_id: str | None = None
    prompt_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    pico_usd: int = Field(default=0, ge=0, description="the cost, in pico-dollars (exact)")
    lost: bool = Field(default=False, description="usage unknown: charged at its worst case")


@dataclass
class _Scope:
    name: str
    cap_pico: int | None
    cap_tokens: int | None
    spent_pico: int = 0
    spent_tokens: int = 0
    reserved_pico: int = 0
    reserved_tokens: int = 0


@dataclass
class _Tally:
    calls: int = 0
    prompt: int = 0
    cached: int = 0
    completion: int = 0
    pico: int = 0

    def add(self, usage: Usage, pico: int) -> None:
        self.calls += 1
        self.prompt += usage.prompt_tokens
        self.cached += usage.cached_tokens
        self.completion += usage.completion_tokens
        self.pico += pico

    def spend(self) -> Spend:
        return Spend(calls=self.calls, prompt_tokens=self.prompt, cached_tokens=self.cached,
                     completion_tokens=self.completion, usd=_usd(self.pico))


@dataclass(frozen=True)
class _Rates:
    input: int
    cached: int
    output: int
    gpu_pico_per_s: int | None  # None: priced per token

    @classmethod
    def of(cls, pricing: ModelPricing) -> _Rates:
        p = pricing.price
        gpu = None
        if pricing.gpu_hour_usd is not None:
            gpu = math.ceil(Decimal(str(pricing.gpu_hour_usd)) * PICO / 3600)
        return cls(_pico_per_token(p.input), _pico_per_token(p.cached),
                   _pico_per_token(p.output), gpu)


class _BusyMeter:
    """GPU busy time of one local model, shared equally among the requests in flight: the
    shares add up to the time the GPU had any work, which is what a GPU-hour pays for."""

    def __init__(self) -> None:
        self.last = 0.0
        self.busy = 0.0
        self.inflight: dict[int, float] = {}

    def _advance(self, now: float) -> None:
        if self.inflight:
            dt = max(0.0, now - self.last)
            self.busy += dt
            share = dt / len(self.inflight)
            for k in self.inflight:
                self.inflight[k] += share
        self.last = now

    def start(self, rid: int, now: float) -> None:
        self._advance(now)
        self.inflight[rid] = 0.0

    def stop(self, rid: int, now: float) -> float:
        self._advance(now)
        return self.inflight.pop(rid)


@dataclass
class _Open:
    res: Reservation
    rates: _Rates
    scopes: list[_Scope]
    pico: int
    tokens: int
    gpu: bool = False
    closed: bool = field(default=False)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Ledger:
    """The run's one ledger. Construct once, share with every client of the run."""

    def __init__(self, caps: BudgetCaps | None = None, *,
                 prices: Mapping[str, ModelPricing] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 journal: Callable[[Charge], None] | None = None) -> None:
        """`journal`, when given, is called with every charge once it is made (outside the
        ledger's lock): a run appends them to a file and `restore`s them after a crash."""
        self.caps = caps or BudgetCaps()
        self._clock = clock
        self._journal = journal
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._ids = itertools.count(1)
        self._rates: dict[str, _Rates] = {}
        for name, pricing in (prices or {}).items():
            self._rates[name] = _Rates.of(pricing)
        self._run = _Scope("run", self._cap_pico(self.caps.run_usd), self.caps.run_tokens)
        self._trajectories: dict[str, _Scope] = {}
        self._open: dict[int, _Open] = {}
        self._meters: dict[str, _BusyMeter] = {}
        self._by_caller: dict[str, _Tally] = {}
        self._by_model: dict[str, _Tally] = {}
        self._by_trajectory: dict[str, _Tally] = {}
        self._refusals = self._lost = self._overruns = 0

    @staticmethod
    def _cap_pico(usd: float | None) -> int | None:
        # Rounded down: a cap is never loosened by conversion.
        return None if usd is None else math.floor(Decimal(str(usd)) * PICO)

    # -- pricing -----------------------------------------------------------------------------
    def register(self, model: str, pricing: ModelPricing) -> None:
        """Tell the ledger what a model costs (the client does this for its endpoint)."""
        rates = _Rates.of(pricing)
        with self._lock:
            if self._rates.get(model, rates) != rates:
                raise LedgerError(f"model {model!r} is already registered with another price")
            self._rates[model] = rates

    def _rates_for(self, model: str) -> _Rates:
        rates = self._rates.get(model)
        if rates is None:  # unregistered: the built-in table, else UnknownPrice
            rates = self._rates[model] = _Rates.of(ModelPricing(price=price_for(model)))
        return rates

    # -- the call cycle ------------------------------------------------------------------------
    def _scopes(self, trajectory_id: str | None) -> list[_Scope]:
        scopes = [self._run]
        c = self.caps
        if trajectory_id is not None and (c.trajectory_usd is not None
                                          or c.trajectory_tokens is not None):
            scope = self._trajectories.get(trajectory_id)
            if scope is None:
                scope = _Scope(f"trajectory:{trajectory_id}", self._cap_pico(c.trajectory_usd),
                               c.trajectory_tokens)
                self._trajectories[trajectory_id] = scope
            scopes.append(scope)
        return scopes

    def _fit(self, scopes: list[_Scope], rates: _Rates, prompt: int, max_tokens: int,
             max_seconds: float | None, *, count_reserved: bool = True,
             ) -> tuple[int, int, BudgetExit | None]:
        """(allowed output tokens, worst-case pico, refusal or None). With
        `count_reserved=False` it asks whether the call would fit once every call in flight
        has closed (settlement never exceeds a reservation, so that is the best case)."""
        need_out = min(max_tokens, self.caps.min_output_tokens)
        gpu_pico = 0
        if rates.gpu_pico_per_s is not None:
            gpu_pico = math.ceil(rates.gpu_pico_per_s * (max_seconds or 3600.0))
        allowed = max_tokens
        for s in scopes:
            held_tokens = s.reserved_tokens if count_reserved else 0
            held_pico = s.reserved_pico if count_reserved else 0
            if s.cap_tokens is not None:
                room = s.cap_tokens - s.spent_tokens - held_tokens - prompt
                if room < need_out:
                    return 0, 0, self._exit(s, "tokens", prompt + need_out)
                allowed = min(allowed, room)
            if s.cap_pico is not None:
                room = s.cap_pico - s.spent_pico - held_pico - prompt * rates.input - gpu_pico
                if room < need_out * rates.output:
                    need = prompt * rates.input + gpu_pico + need_out * rates.output
                    return 0, 0, self._exit(s, "usd", need)
                if rates.output:
                    allowed = min(allowed, room // rates.output)
        return allowed, prompt * rates.input + allowed * rates.output + gpu_pico, None

    @staticmethod
    def _exit(s: _Scope, kind: str, needed: int) -> BudgetExit:
        if kind == "tokens":
            return BudgetExit(scope=s.name, kind=kind, cap=s.cap_tokens or 0,
                              spent=s.spent_tokens, reserved=s.reserved_tokens, needed=needed,
                              caller="", model="")
        return BudgetExit(scope=s.name, kind=kind, cap=_usd(s.cap_pico or 0),
                          spent=_usd(s.spent_pico), reserved=_usd(s.reserved_pico),
                          needed=_usd(needed), caller="", model="")

    def _try_reserve(self, caller: str, model: str, trajectory_id: str | None, prompt: int,
                     max_tokens: int, max_seconds: float | None,
                     ) -> tuple[Reservation | None, BudgetExhausted | None]:
        """Under the lock: a reservation; or (None, None) when the call only has to wait for
        calls in flight to close; or (None, refusal) when it can never fit."""
        if prompt < 0 or max_tokens < 1:
            raise LedgerError(f"bad reservation: prompt={prompt} max_tokens={max_tokens}")
        rates = self._rates_for(model)
        scopes = self._scopes(trajectory_id)
        allowed, pico, refusal = self._fit(scopes, rates, prompt, max_tokens, max_seconds)
        if refusal is not None:
            in_flight = any(s.reserved_pico or s.reserved_tokens for s in scopes)
            if in_flight and self._fit(scopes, rates, prompt, max_tokens, max_seconds,
                                       count_reserved=False)[2] is None:
                return None, None
            self._refusals += 1
            return None, BudgetExhausted(refusal.model_copy(update={
                "caller": caller, "model": model, "trajectory_id": trajectory_id}))
        tokens = prompt + allowed
        for s in scopes:
            s.reserved_pico += pico
            s.reserved_tokens += tokens
        rid = next(self._ids)
        res = Reservation(id=rid, caller=caller, model=model, trajectory_id=trajectory_id,
                          prompt_tokens=prompt, max_tokens=allowed,
                          reserved_usd=_usd(pico), reserved_tokens=tokens)
        gpu = rates.gpu_pico_per_s is not None
        if gpu:
            self._meters.setdefault(model, _BusyMeter()).start(rid, self._clock())
        self._open[rid] = _Open(res, rates, scopes, pico, tokens, gpu)
        return res, None

    def reserve(self, caller: str, model: str, trajectory_id: str | None, prompt_tokens: int,
                max_tokens: int, *, max_seconds: float | None = None, wait: bool = False,
                timeout_s: float | None = None) -> Reservation:
        """Reserve a call's worst case with `max_tokens` clipped to what the caps afford, or
        raise BudgetExhausted. With `wait=True`, a call that does not fit only because of
        calls in flight waits for them to settle (they usually settle below their worst
        case), so spending stops only when the call can no longer fit at all; never wait
        while holding another reservation yourself. `max_seconds` bounds the call's duration
        (the client's hard timeout) for GPU-hour priced models. From asyncio use
        `areserve`, which does not block the loop."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                res, refusal = self._try_reserve(caller, model, trajectory_id, prompt_tokens,
                                                 max_tokens, max_seconds)
                if res is not None:
                    return res
                if refusal is None and wait:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is None or left > 0:
                        self._cond.wait(left)
                        continue
                    wait = False  # timed out: refuse for what is in flight now
                if refusal is None:
                    refusal = self._refuse_now(caller, model, trajectory_id, prompt_tokens,
                                               max_tokens, max_seconds)
                raise refusal

    async def areserve(self, caller: str, model: str, trajectory_id: str | None,
                       prompt_tokens: int, max_tokens: int, *,
                       max_seconds: float | None = None, wait: bool = True) -> Reservation:
        """`reserve` for asyncio; by default it waits (without blocking the loop) when
        only calls in flight stand in the way."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                res, refusal = self._try_reserve(caller, model, trajectory_id, prompt_tokens,
                                                 max_tokens, max_seconds)
                if res is not None:
                    return res
                if refusal is not None:
                    raise refusal
                if not wait:
                    raise self._refuse_now(caller, model, trajectory_id, prompt_tokens,
                                           max_tokens, max_seconds)
                closed: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, closed))
            await closed

    def _refuse_now(self, caller: str, model: str, trajectory_id: str | None, prompt: int,
                    max_tokens: int, max_seconds: float | None) -> BudgetExhausted:
        rates = self._rates_for(model)
        refusal = self._fit(self._scopes(trajectory_id), rates, prompt, max_tokens,
                            max_seconds)[2]
        assert refusal is not None
        self._refusals += 1
        return BudgetExhausted(refusal.model_copy(update={
            "caller": caller, "model": model, "trajectory_id": trajectory_id}))

    def would_fit(self, caller: str, model: str, trajectory_id: str | None,
                  prompt_tokens: int, max_tokens: int, *,
                  max_seconds: float | None = None) -> bool:
        """Whether `reserve` would accept this call now, without waiting (nothing is
        reserved)."""
        with self._lock:
            rates = self._rates_for(model)
            scopes = self._scopes(trajectory_id)
            return self._fit(scopes, rates, prompt_tokens, max_tokens, max_seconds)[2] is None

    def _close(self, reservation: Reservation) -> _Open:
        entry = self._open.pop(reservation.id, None)
        if entry is None:
            raise LedgerError(f"reservation {reservation.id} is unknown or already closed")
        for s in entry.scopes:
            s.reserved_pico -= entry.pico
            s.reserved_tokens -= entry.tokens
        # Budget may have come free: wake waiting threads and asyncio tasks.
        self._cond.notify_all()
        for loop, fut in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(_wake, fut)
        self._waiters.clear()
        return entry

    def _charge(self, entry: _Open, usage: Usage, pico: int, *, lost: bool = False) -> Charge:
        res = entry.res
        charge = Charge(caller=res.caller, model=res.model, trajectory_id=res.trajectory_id,
                        prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                        completion_tokens=usage.completion_tokens, pico_usd=pico, lost=lost)
        self._book(entry.scopes, charge, usage)
        return charge

    def _book(self, scopes: list[_Scope], charge: Charge, usage: Usage) -> None:
        tokens = usage.total_tokens
        for s in scopes:
            s.spent_pico += charge.pico_usd
            s.spent_tokens += tokens
        pico = charge.pico_usd
        self._by_caller.setdefault(charge.caller, _Tally()).add(usage, pico)
        self._by_model.setdefault(charge.model, _Tally()).add(usage, pico)
        if charge.trajectory_id is not None:
            self._by_trajectory.setdefault(charge.trajectory_id, _Tally()).add(usage, pico)

    def _journaled(self, charge: Charge | None) -> None:
        if charge is None or self._journal is None:
            return
        try:
            self._journal(charge)
        except Exception as exc:  # charged already: the call must still return its result
            log.warning("cannot journal a charge of %s: %s", charge.model, exc)

    def restore(self, charges: Iterable[Charge]) -> None:
        """Charge what earlier processes of this run spent (from its journal), to every
        scope it was charged to then: the caps hold across a kill and a restart, and the
        report counts every call the run paid for. Restored charges are not journaled
        again. A call in flight when the process died is not known, so not restored."""
        with self._lock:
            for charge in charges:
                usage = Usage(prompt_tokens=charge.prompt_tokens,
                              completion_tokens=charge.completion_tokens,
                              cached_tokens=min(charge.cached_tokens, charge.prompt_tokens))
                self._book(self._scopes(charge.trajectory_id), charge, usage)
                self._lost += charge.lost

    def _gpu_pico(self, entry: _Open) -> int:
        if not entry.gpu:
            return 0
        seconds = self._meters[entry.res.model].stop(entry.res.id, self._clock())
        return math.ceil(seconds * (entry.rates.gpu_pico_per_s or 0))

    def settle(self, reservation: Reservation, usage: Usage) -> float:
        """Replace the reservation by the actual usage; returns the call's cost in USD."""
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        with self._lock:
            entry = self._close(reservation)
            r = entry.rates
            pico = ((usage.prompt_tokens - cached) * r.input + cached * r.cached
                    + usage.completion_tokens * r.output + self._gpu_pico(entry))
            if pico > entry.pico or usage.total_tokens > entry.tokens:
                self._overruns += 1
            charge = self._charge(entry, usage, pico)
        self._journaled(charge)
        return _usd(pico)

    def release(self, reservation: Reservation, *, billed: bool = False) -> float:
        """Give a failed call's reservation back. `billed=True` is for calls the server may
        have run although we got no usage (a timeout, a dropped connection): the worst case
        is charged, since the bill is unknown and the cap must hold. GPU time is always
        charged. Returns the USD charged."""
        with self._lock:
            entry = self._close(reservation)
            gpu = self._gpu_pico(entry)
            if billed:
                self._lost += 1
                usage = Usage(prompt_tokens=reservation.prompt_tokens,
                              completion_tokens=reservation.max_tokens)
                pico = max(entry.pico, gpu)
            else:
                usage, pico = Usage(), gpu
            charge = self._charge(entry, usage, pico, lost=billed) if billed or pico else None
        self._journaled(charge)
        return _usd(pico)

    # -- reading -----------------------------------------------------------------------------
    def spent_usd(self) -> float:
        with self._lock:
            return _usd(self._run.spent_pico)

    def spent_tokens(self) -> int:
        with self._lock:
            return self._run.spent_tokens

    def in_flight(self) -> int:
        with self._lock:
            return len(self._open)

    def report(self) -> LedgerReport:
        with self._lock:
            total = _Tally()
            for t in self._by_model.values():
                total.calls += t.calls
                total.prompt += t.prompt
                total.cached += t.cached
                total.completion += t.completion
                total.pico += t.pico
            return LedgerReport(
                caps=self.caps,
                total=total.spend(),
                by_caller={k: v.spend() for k, v in sorted(self._by_caller.items())},
                by_model={k: v.spend() for k, v in sorted(self._by_model.items())},
                by_trajectory={k: v.spend() for k, v in sorted(self._by_trajectory.items())},
                in_flight=len(self._open),
                reserved_usd=_usd(self._run.reserved_pico),
                refusals=self._refusals,
                lost_calls=self._lost,
                overruns=self._overruns,
                gpu_busy_s={k: m.busy for k, m in sorted(self._meters.items())},
            )
