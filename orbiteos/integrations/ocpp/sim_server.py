"""`orbiteos sim-devices`: each simulated EV charger as a real OCPP 1.6J charge point client.

The client connects to a central system (`--ocpp-url`), boots, reports status changes and
periodic MeterValues taken from the simulator's `ev_charger.*` entity, starts a transaction when
a vehicle arrives and stops it when the vehicle leaves, and obeys the central system: charging
profiles, remote start/stop, availability, reset and trigger requests act on the simulator
through its `ev_charger.set_limit` / `start` / `stop` services. It reconnects with capped
backoff and keeps its transaction across a dropped connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import aiohttp
from ocpp.exceptions import OCPPError, PropertyConstraintViolationError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from orbiteos.core import Event, Hub, State, raise_if_cancel_lost
from orbiteos.integrations.ocpp.charge_point import FRAMES_LOGGER, ocpp_time, parse_timestamp, quiet_frames_logger
from orbiteos.integrations.ocpp.transport import SUBPROTOCOL, ConnectionClosed, WebSocketConnection, basic_auth_header

_LOGGER = logging.getLogger(__name__)

VEHICLE_PRESENT = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"})
BACKOFF_MAX_S = 30.0
CALL_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("OCPP charge point client")
    group.add_argument("--no-ocpp", action="store_true", help="do not run the simulated OCPP charge points")
    group.add_argument("--ocpp-url", default="ws://127.0.0.1:9000/ocpp",
                       help="central system URL; the charge point id is appended (default %(default)s)")
    group.add_argument("--ocpp-charge-point-id", action="append", metavar="ID",
                       help="charge point id, once per simulated charger in entity order "
                            "(default: the charger's object id, e.g. 'depot' for ev_charger.depot)")
    group.add_argument("--ocpp-password", help="HTTP Basic password (OCPP security profile 1)")
    group.add_argument("--ocpp-id-tag", default="SIMTAG01", help="id tag the vehicles present (default %(default)s)")
    group.add_argument("--ocpp-meter-interval", type=float, default=10.0,
                       help="seconds between MeterValues (default %(default)s)")


async def serve(hub: Hub, args: argparse.Namespace) -> None:
    """Run one OCPP client per simulated `ev_charger.*` entity until cancelled."""
    if getattr(args, "no_ocpp", False):
        return
    quiet_frames_logger()
    entity_ids = simulated_chargers(hub)
    ids = list(getattr(args, "ocpp_charge_point_id", None) or [])
    if not entity_ids:
        _LOGGER.warning("no simulated ev_charger entities: no OCPP charge point to run")
    async with asyncio.TaskGroup() as tasks:
        for index, entity_id in enumerate(entity_ids):
            charge_point_id = ids[index] if index < len(ids) else entity_id.partition(".")[2]
            client = SimulatedChargerClient(
                hub, entity_id, args.ocpp_url, charge_point_id, password=args.ocpp_password,
                id_tag=args.ocpp_id_tag, meter_interval=args.ocpp_meter_interval,
            )
            tasks.create_task(client.run(), name=f"ocpp-sim:{charge_point_id}")
        await asyncio.Event().wait()  # runs until cancelled, as the sim-devices contract says


def simulated_chargers(hub: Hub) -> list[str]:
    """The simulator's chargers: those in the state machine, and those its site lists (not yet written)."""
    found = set(hub.states.entity_ids("ev_charger"))
    site = hub.data.get("sim")
    found.update(e for e in getattr(site, "entity_ids", ()) if e.startswith("ev_charger."))
    return sorted(found)


class SimulatedChargePoint(ChargePoint):
    """The OCPP side of the simulated charger: answers the central system's calls."""

    def __init__(self, client: SimulatedChargerClient, connection: WebSocketConnection) -> None:
        super().__init__(client.charge_point_id, connection, response_timeout=CALL_TIMEOUT_S, logger=FRAMES_LOGGER)
        self.client = client

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **kwargs: Any) -> Any:
        known = self.client.configuration()
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": k not in WRITABLE, "value": known[k]} for k in wanted
                               if k in known],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **kwargs: Any) -> Any:
        return call_result.ChangeConfiguration(status=self.client.change_configuration(key, value))

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **kw: Any) -> Any:
        return call_result.SetChargingProfile(status=await self.client.set_profile(cs_charging_profiles))

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        return call_result.ClearChargingProfile(status=await self.client.clear_profiles(**kwargs))

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> Any:
        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> None:
        self.client.spawn(self.client.remote_start(id_tag))

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **kwargs: Any) -> Any:
        known = transaction_id == self.client.transaction_id
        return call_result.RemoteStopTransaction(status="Accepted" if known else "Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **kwargs: Any) -> None:
        if transaction_id == self.client.transaction_id:
            self.client.spawn(self.client.remote_stop())

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **kwargs: Any) -> Any:
        if connector_id not in (0, self.client.connector_id):
            return call_result.ChangeAvailability(status="Rejected")
        # Going out of service waits for the running transaction (OCPP: Scheduled).
        busy = type == "Inoperative" and self.client.transaction_id is not None
        return call_result.ChangeAvailability(status="Scheduled" if busy else "Accepted")

    @after(Action.change_availability)
    def after_change_availability(self, connector_id: int, type: str, **kwargs: Any) -> None:
        if connector_id in (0, self.client.connector_id):
            self.client.spawn(self.client.set_operative(type == "Operative"))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **kwargs: Any) -> Any:
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.reset)
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **kwargs: Any) -> None:
        self.client.spawn(self.client.reboot(f"{type}Reset"))

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **kwargs: Any) -> Any:
        supported = requested_message in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")
        return call_result.TriggerMessage(status="Accepted" if supported else "NotImplemented")

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, **kwargs: Any) -> None:
        self.client.spawn(self.client.send_triggered(requested_message))


WRITABLE = frozenset({"HeartbeatInterval", "MeterValueSampleInterval"})


class SimulatedChargerClient:
    """One simulated charger's life as an OCPP charge point: connect, boot, report, obey, reconnect."""

    def __init__(
        self,
        hub: Hub,
        entity_id: str,
        url: str,
        charge_point_id: str,
        password: str | None = None,
        id_tag: str = "SIMTAG01",
        meter_interval: float = 10.0,
    ) -> None:
        self.hub = hub
        self.entity_id = entity_id
        self.url = url.rstrip("/")
        self.charge_point_id = charge_point_id
        self.password = password
        self.id_tag = id_tag
        self.meter_interval = meter_interval
        self.heartbeat_interval = 300.0
        self.connector_id = 1
        self.transaction_id: int | None = None
        self.operative = True
        self.connected = asyncio.Event()
        self._remote_id_tag: str | None = None
        # Charging profiles by purpose: (limit_kw or None for "no limit", time received).
        self._profiles: dict[tuple[str, int], dict[str, Any]] = {}
        self._cp: SimulatedChargePoint | None = None
        self._connection: WebSocketConnection | None = None
        # Transaction messages that could not be sent; OCPP wants them delivered after reconnecting.
        self._unsent: list[Any] = []
        self._tasks: asyncio.TaskGroup | None = None
        self._changes: asyncio.Queue[State] = asyncio.Queue()
        self._last_status: str | None = None
        self._applied_limit_kw: float | None = None
        self._run_task: asyncio.Task[Any] | None = None

    # --- the simulator side ----------------------------------------------------
    def _state(self) -> State | None:
        return self.hub.states.get(self.entity_id)

    def _attr(self, name: str, default: Any = None) -> Any:
        state = self._state()
        return default if state is None else state.attributes.get(name, default)

    def _on_state_changed(self, event: Event) -> None:
        new_state = event.data.get("new_state")
        if new_state is not None and new_state.attributes.get("status") != self._last_status:
            self._changes.put_nowait(new_state)

    async def _sim_service(self, service: str, **data: Any) -> None:
        await self.hub.services.call("ev_charger", service, {"entity_id": self.entity_id, **data})

    # --- connection life cycle -------------------------------------------------
    async def run(self) -> None:
        """Connect, serve, and reconnect with capped backoff and jitter, until cancelled."""
        self._run_task = asyncio.current_task()
        unsubscribe = self.hub.states.listen(self.entity_id, self._on_state_changed)
        delay = 1.0
        try:
            while True:
                try:
                    await self._connect_and_serve()
                    delay = 1.0
                except aiohttp.WSServerHandshakeError as err:
                    _LOGGER.error("%s: central system refused the connection: HTTP %s", self.charge_point_id,
                                  err.status)
                except (aiohttp.ClientError, OSError, ConnectionClosed, TimeoutError) as err:
                    _LOGGER.warning("%s: connection to %s lost or failed: %r", self.charge_point_id, self.url, err)
                except Exception:  # whatever went wrong, a real charger reconnects rather than dies
                    _LOGGER.exception("%s: connection to %s failed", self.charge_point_id, self.url)
                self.connected.clear()
                await self.hub.clock.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(BACKOFF_MAX_S, delay * 2)
        finally:
            unsubscribe()

    async def _connect_and_serve(self) -> None:
        headers = {"Authorization": basic_auth_header(self.charge_point_id, self.password)} if self.password else {}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{self.url}/{self.charge_point_id}", protocols=(SUBPROTOCOL,), headers=headers,
                               heartbeat=60.0) as ws,
        ):
            self._connection = WebSocketConnection(ws)
            cp = SimulatedChargePoint(self, self._connection)
            self._cp = cp
            try:
                async with asyncio.TaskGroup() as tasks:
                    self._tasks = tasks
                    tasks.create_task(cp.start(), name=f"ocpp-sim:{self.charge_point_id}:reader")
                    await self._boot()
                    self.connected.set()
                    tasks.create_task(self._heartbeats())
                    tasks.create_task(self._meter_values())
                    tasks.create_task(self._follow_status())
            except* ConnectionClosed as group:
                raise group.exceptions[0] from None
            finally:
                self._tasks = None
                self._cp = None
                self._connection = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a follow-up of a handled call in this connection's task group."""
        if self._tasks is None:
            coro.close()
            return
        self._tasks.create_task(coro)

    async def _call(self, payload: Any) -> Any:
        """The central system's answer; None (logged) when it answered with a CALLERROR."""
        if self._cp is None:
            raise ConnectionClosed("not connected")
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                answer = await self._cp.call(payload, suppress=False)
        except OCPPError as err:
            self._raise_if_cancel_lost()
            _LOGGER.warning("%s: %s refused: %s", self.charge_point_id, type(payload).__name__, err)
            return None
        self._raise_if_cancel_lost()
        return answer

    def _raise_if_cancel_lost(self) -> None:
        """In the connection's worker tasks, re-raise a cancellation the library's wait_for ate.

        Not in the task that runs the connection: Python 3.11's TaskGroup can leave its parent
        counting a cancel request it made itself, which would look like a lost cancellation here.
        """
        if asyncio.current_task() is not self._run_task:
            raise_if_cancel_lost()

    async def _boot(self) -> None:
        answer = await self._call(call.BootNotification(
            charge_point_vendor="OrbitEOS", charge_point_model="Simulated AC charger",
            charge_point_serial_number=self.charge_point_id, firmware_version="sim-1",
        ))
        if answer is None:
            raise ConnectionClosed("BootNotification refused")
        if answer.interval:
            self.heartbeat_interval = float(answer.interval)
        _LOGGER.info("%s: booted at %s (%s)", self.charge_point_id, self.url, answer.status)
        while self._unsent:
            await self._call(self._unsent[0])
            self._unsent.pop(0)
        self._last_status = None
        await self._report_status(0, "Available")
        state = self._state()
        if state is not None:
            await self._on_status(state)
        else:  # nothing simulated yet: an idle connector
            self._last_status = "Available"
            await self._report_status(self.connector_id, "Available")

    async def reboot(self, reason: str) -> None:
        """Reset: end the transaction as a real charger would, then drop the connection and boot again."""
        await self._stop_transaction(reason)
        if self._connection is not None:
            await self._connection.close("reset")

    # --- what the charger reports -----------------------------------------------
    async def _report_status(self, connector_id: int, status: str) -> None:
        await self._call(call.StatusNotification(
            connector_id=connector_id, error_code="NoError", status=status, timestamp=ocpp_time(self.hub.clock.now())
        ))

    async def _heartbeats(self) -> None:
        while True:
            await self.hub.clock.sleep(self.heartbeat_interval)
            await self._call(call.Heartbeat())

    async def _meter_values(self) -> None:
        while True:
            await self.hub.clock.sleep(self.meter_interval)
            await self._apply_limit()
            await self._send_meter_values("Sample.Periodic")

    async def _send_meter_values(self, context: str) -> None:
        state = self._state()
        if state is None or state.state in ("unavailable", "unknown"):
            return
        await self._call(call.MeterValues(
            connector_id=self.connector_id, transaction_id=self.transaction_id,
            meter_value=[{"timestamp": ocpp_time(self.hub.clock.now()), "sampledValue": self._samples(state, context)}],
        ))

    def _samples(self, state: State, context: str) -> list[dict[str, Any]]:
        attrs = state.attributes
        power_w = max(0.0, float(state.state)) * 1000.0
        samples: list[dict[str, Any]] = [
            {"value": f"{float(attrs.get('energy_kwh', 0.0)) * 1000.0:.0f}", "context": context,
             "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
            {"value": f"{power_w:.0f}", "context": context, "measurand": "Power.Active.Import",
             "location": "Outlet", "unit": "W"},
        ]
        phases = int(attrs.get("phases", 3))
        for phase in ("L1", "L2", "L3")[:phases]:
            samples.append({"value": f"{float(attrs.get('current_a', 0.0)):.1f}", "context": context,
                            "measurand": "Current.Import", "phase": phase, "location": "Outlet", "unit": "A"})
        if attrs.get("vehicle_soc") is not None:
            samples.append({"value": f"{float(attrs['vehicle_soc']):.0f}", "context": context, "measurand": "SoC",
                            "location": "EV", "unit": "Percent"})
        return samples

    async def send_triggered(self, requested_message: str) -> None:
        if requested_message == "BootNotification":
            await self._boot()
        elif requested_message == "Heartbeat":
            await self._call(call.Heartbeat())
        elif requested_message == "MeterValues":
            await self._send_meter_values("Trigger")
        elif requested_message == "StatusNotification":
            await self._report_status(self.connector_id, self._attr("status", "Available"))

    async def _follow_status(self) -> None:
        while True:
            await self._on_status(await self._changes.get())

    async def set_operative(self, operative: bool) -> None:
        """ChangeAvailability: an inoperative connector reports Unavailable and starts no transaction."""
        self.operative = operative
        if operative:
            await self._sim_service("start")
        elif self.transaction_id is None:
            await self._sim_service("stop")
        state = self._state()
        if state is not None:
            await self._on_status(state)

    async def _on_status(self, state: State) -> None:
        """Report a status change; a vehicle arriving starts a transaction, one leaving stops it."""
        status = str(state.attributes.get("status", "Available"))
        present = status in VEHICLE_PRESENT
        if not self.operative and self.transaction_id is None:
            status = "Unavailable"
        if present and self.transaction_id is None and self.operative and state.attributes.get("enabled", True):
            await self._start_transaction(self._remote_id_tag or self.id_tag)
        if not present and self.transaction_id is not None:
            await self._stop_transaction("EVDisconnected")
        if status != self._last_status:
            self._last_status = status
            await self._report_status(self.connector_id, status)

    async def _start_transaction(self, id_tag: str) -> None:
        self._remote_id_tag = None
        answer = await self._call(call.StartTransaction(
            connector_id=self.connector_id, id_tag=id_tag, meter_start=self._meter_wh(),
            timestamp=ocpp_time(self.hub.clock.now()),
        ))
        if answer is None:
            return
        if answer.id_tag_info.get("status") != "Accepted":
            _LOGGER.warning("%s: id tag %s not accepted (%s)", self.charge_point_id, id_tag, answer.id_tag_info)
            await self._call(call.StopTransaction(
                meter_stop=self._meter_wh(), timestamp=ocpp_time(self.hub.clock.now()),
                transaction_id=answer.transaction_id, reason="DeAuthorized",
            ))
            await self._sim_service("stop")
            return
        self.transaction_id = answer.transaction_id
        _LOGGER.info("%s: transaction %s started", self.charge_point_id, self.transaction_id)
        await self._apply_limit()

    async def _stop_transaction(self, reason: str) -> None:
        if self.transaction_id is None:
            return
        transaction_id, self.transaction_id = self.transaction_id, None
        for key in [k for k in self._profiles if k[0] == "TxProfile"]:
            del self._profiles[key]
        stop = call.StopTransaction(
            meter_stop=self._meter_wh(), timestamp=ocpp_time(self.hub.clock.now()), transaction_id=transaction_id,
            reason=reason,
        )
        try:
            await self._call(stop)
        except (ConnectionClosed, TimeoutError):
            self._unsent.append(stop)
            raise
        _LOGGER.info("%s: transaction %s stopped (%s)", self.charge_point_id, transaction_id, reason)
        await self._apply_limit()
        if not self.operative:  # a scheduled ChangeAvailability(Inoperative) takes effect now
            await self.set_operative(False)

    def _meter_wh(self) -> int:
        return int(round(float(self._attr("energy_kwh", 0.0)) * 1000.0))

    # --- what the central system asks ---------------------------------------------
    async def remote_start(self, id_tag: str) -> None:
        self._remote_id_tag = id_tag
        await self._sim_service("start")
        state = self._state()
        if state is not None and state.attributes.get("status") in VEHICLE_PRESENT and self.transaction_id is None:
            await self._start_transaction(id_tag)

    async def remote_stop(self) -> None:
        await self._sim_service("stop")
        await self._stop_transaction("Remote")

    def configuration(self) -> dict[str, str]:
        return {
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "HeartbeatInterval": f"{self.heartbeat_interval:g}",
            "MeterValueSampleInterval": f"{self.meter_interval:g}",
            "NumberOfConnectors": "1",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC",
        }

    def change_configuration(self, key: str, value: str) -> str:
        if key not in WRITABLE:
            return "Rejected" if key in self.configuration() else "NotSupported"
        try:
            seconds = float(value)
        except ValueError:
            return "Rejected"
        if seconds <= 0:
            return "Rejected"
        if key == "HeartbeatInterval":
            self.heartbeat_interval = seconds
        else:
            self.meter_interval = seconds
        return "Accepted"

    async def set_profile(self, profile: dict[str, Any]) -> str:
        purpose = profile.get("charging_profile_purpose")
        if purpose == "TxProfile" and profile.get("transaction_id", self.transaction_id) != self.transaction_id:
            return "Rejected"
        if purpose == "TxProfile" and self.transaction_id is None:
            return "Rejected"
        self._profiles[(str(purpose), int(profile.get("stack_level", 0)))] = {
            **profile, "received": self.hub.clock.now()
        }
        duration = profile.get("charging_schedule", {}).get("duration")
        if duration:
            # Past its duration the profile no longer applies: the limit falls back by itself.
            # The charger's own timer: it runs whether or not the central system is still connected.
            self.hub.clock.call_later(float(duration) + 0.05, lambda: self.hub.create_task(
                self._apply_limit(), name=f"ocpp-sim:{self.charge_point_id} profile expiry"))
        await self._apply_limit()
        return "Accepted"

    def _in_force(self, purpose: str) -> dict[str, Any] | None:
        """The profile of this purpose with the highest stack level whose schedule has not run out
        (OCPP 1.6 3.13.2: `duration` seconds from its start)."""
        now = self.hub.clock.now()
        for (kind, _), profile in sorted(self._profiles.items(), key=lambda item: -item[0][1]):
            if kind != purpose:
                continue
            duration = profile.get("charging_schedule", {}).get("duration")
            if duration and (now - profile["received"]).total_seconds() >= float(duration):
                continue
            return profile
        return None

    async def clear_profiles(self, id: int | None = None, charging_profile_purpose: str | None = None,
                             **kwargs: Any) -> str:
        cleared = [
            key for key, p in self._profiles.items()
            if (id is None or p.get("charging_profile_id") == id)
            and (charging_profile_purpose is None or key[0] == charging_profile_purpose)
        ]
        for key in cleared:
            del self._profiles[key]
        await self._apply_limit()
        return "Accepted" if cleared else "Unknown"

    def _profile_limit_kw(self, profile: dict[str, Any]) -> float | None:
        schedule = profile.get("charging_schedule", {})
        periods = sorted(schedule.get("charging_schedule_period", []), key=lambda p: float(p["start_period"]))
        if not periods:
            return None
        start: datetime = profile["received"]
        if profile.get("charging_profile_kind") == "Absolute" and schedule.get("start_schedule"):
            with contextlib.suppress(PropertyConstraintViolationError):  # a bad start: from reception
                start = parse_timestamp(schedule["start_schedule"], "startSchedule")
        elapsed = (self.hub.clock.now() - start).total_seconds()
        current = periods[0]
        for period in periods:
            if float(period["start_period"]) <= elapsed:
                current = period
        limit = float(current["limit"])
        if schedule.get("charging_rate_unit") == "A":
            phases = int(current.get("number_phases") or self._attr("phases", 3))
            return limit * 230.0 * phases / 1000.0
        return limit / 1000.0

    async def _apply_limit(self) -> None:
        """The simulator's limit follows the profiles: Tx (in a transaction) over TxDefault, capped by the max."""
        chosen = self._in_force("TxProfile") if self.transaction_id is not None else None
        chosen = chosen or self._in_force("TxDefaultProfile")
        limit = self._profile_limit_kw(chosen) if chosen else None
        cap = self._in_force("ChargePointMaxProfile")
        cap_kw = self._profile_limit_kw(cap) if cap else None
        max_kw = float(self._attr("max_power_kw", 22.0))
        limit_kw = min(x for x in (limit, cap_kw, max_kw) if x is not None)
        if limit_kw != self._applied_limit_kw:
            self._applied_limit_kw = limit_kw
            try:
                await self._sim_service("set_limit", power_kw=round(limit_kw, 3))
            except Exception as err:  # the simulator refusing a limit must not drop the OCPP connection
                _LOGGER.warning("%s: simulator refused limit %.3f kW: %s", self.charge_point_id, limit_kw, err)
                return
            _LOGGER.info("%s: simulator limit %.3f kW", self.charge_point_id, limit_kw)
