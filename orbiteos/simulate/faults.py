"""`orbiteos simulate --fault SPEC`: failures injected into a simulated run, to see what the fail-safe
and the devices' own fallbacks do (docs/simulate.md, "Faults").

SPEC is `TARGET:KIND@START+DURATION`: TARGET an entity of the simulated site or `engine`; KIND
`unavailable` (the entity reads `unavailable`), `stale` (its value freezes: no updates at all),
`no_answer` (a device ignores its setpoints) or, for `engine`, `down` (the controller stops:
nothing reaches the devices and nothing is renewed, so only their own fallbacks act). START is a
local time of the site (`14:00`, the first such moment at or after the run's start) or an offset
from the start (`+2h`); DURATION like `10m`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from orbiteos.core import Hub
from orbiteos.natures import nature_layer

ENTITY_KINDS = ("unavailable", "stale", "no_answer")
ENGINE_KINDS = ("down",)
_SPEC = re.compile(r"^(?P<target>[^:@]+):(?P<kind>[a-z_]+)@(?P<start>\+?[^+]+)\+(?P<duration>[^+]+)$")


class FaultSpecError(ValueError):
    """A --fault argument that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class Fault:
    target: str  # an entity id, or "engine"
    kind: str
    start: time | timedelta  # a local time of day, or an offset from the run's start
    duration: timedelta
    spec: str

    def window(self, run_start: datetime) -> tuple[datetime, datetime]:
        """When the fault begins and ends, for a run starting at `run_start` (site-local aware)."""
        if isinstance(self.start, timedelta):
            begins = run_start + self.start
        else:
            begins = run_start.replace(hour=self.start.hour, minute=self.start.minute, second=self.start.second,
                                       microsecond=0)
            if begins < run_start:
                begins += timedelta(days=1)
        return begins, begins + self.duration


def parse_fault(text: str) -> Fault:
    from orbiteos.cli.simulate import parse_duration  # the CLI's duration words, in one place

    match = _SPEC.match(text.strip())
    if match is None:
        raise FaultSpecError(
            f"expected TARGET:KIND@START+DURATION (e.g. meter.grid:unavailable@13:00+10m or engine:down@+2h+5m), "
            f"found {text!r}"
        )
    target, kind = match["target"].strip().lower(), match["kind"]
    if target == "engine":
        if kind not in ENGINE_KINDS:
            raise FaultSpecError(f"{text!r}: expected engine:down, found engine:{kind}")
    elif "." not in target:
        raise FaultSpecError(f"{text!r}: expected an entity id or 'engine' before ':', found {target!r}")
    elif kind not in ENTITY_KINDS:
        raise FaultSpecError(f"{text!r}: expected a kind among {', '.join(ENTITY_KINDS)}, found {kind!r}")
    try:
        duration = parse_duration(match["duration"])
        start_text = match["start"].strip()
        start: time | timedelta = (
            parse_duration(start_text[1:]) if start_text.startswith("+") else time.fromisoformat(start_text)
        )
    except Exception as err:
        raise FaultSpecError(f"{text!r}: {err}") from None
    return Fault(target, kind, start, duration, text)


class FaultInjector:
    """Starts and ends the faults on the simulated site's hub, and measures what happened meanwhile."""

    def __init__(self, hub: Hub, faults: list[Fault], run_start: datetime) -> None:
        self.hub = hub
        self.faults = faults
        self.run_start = run_start
        self.active = 0
        self.max_import_kw: float | None = None
        self.windows = [fault.window(run_start) for fault in faults]

    def check_targets(self) -> None:
        site: Any = self.hub.data.get("sim")
        declared = set(getattr(site, "entity_ids", []))
        for fault in self.faults:
            if fault.target == "engine":
                continue
            if fault.target not in declared:
                raise FaultSpecError(
                    f"{fault.spec!r}: {fault.target} is not an entity of the simulated site "
                    f"(expected one of {', '.join(sorted(declared)) or 'none: no sim block'})"
                )
            if fault.kind == "no_answer" and (site is None or site.device(fault.target) is None):
                raise FaultSpecError(f"{fault.spec!r}: no_answer is for a pv, battery or ev_charger device")

    def schedule(self) -> None:
        self.check_targets()
        clock = self.hub.clock
        now = clock.now()
        for fault, (begins, ends) in zip(self.faults, self.windows, strict=True):
            clock.call_later(max(0.0, (begins - now).total_seconds()), self._begin, fault)
            clock.call_later(max(0.0, (ends - now).total_seconds()), self._end, fault)
        self._sample()

    def _begin(self, fault: Fault) -> None:
        self.active += 1
        self._switch(fault, True)

    def _end(self, fault: Fault) -> None:
        self.active -= 1
        self._switch(fault, False)

    def _switch(self, fault: Fault, on: bool) -> None:
        site: Any = self.hub.data.get("sim")
        if fault.target == "engine":
            nature_layer(self.hub).engine_down = on
        elif fault.kind == "no_answer":
            (site.not_answering.add if on else site.not_answering.discard)(fault.target)
        else:
            site.set_fault(fault.target, fault.kind if on else None)

    def _sample(self) -> None:
        """The site's real grid power (the physics, not the meter entity) while any fault lasts."""
        site: Any = self.hub.data.get("sim")
        if site is None:
            return
        if self.active:
            power = float(site.meter.power_kw)
            if self.max_import_kw is None or power > self.max_import_kw:
                self.max_import_kw = power
        self.hub.clock.call_later(site.step_s, self._sample)
