"""The central system's side of one charge point connection: OCPP 1.6 handlers and outgoing calls.

Differences from the bare `ocpp` library, on purpose:
- a frame that cannot be parsed gets a CALLERROR (the library only logs it), with the frame's
  unique id when one can be read and "-1" otherwise; the connection stays up;
- error codes are the OCPP 1.6 names (`FormationViolation`, not 2.0's `FormatViolation`);
- results nobody is waiting for are dropped instead of queued for the next call;
- `request()` bounds every call with `asyncio.timeout` and turns failures into engine errors.
Follow-up calls after a handler run as hub tasks from `@after` hooks: an `@on` handler that
awaited `self.call` would deadlock, since the library awaits handlers one at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    InternalError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    UnknownCallErrorCodeError,
)
from ocpp.messages import Call, CallError, MessageType, unpack
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations.ocpp.device import UNIT_AMPS, UNIT_AUTO, UNIT_WATTS, ChargePointDevice
from orbiteos.integrations.ocpp.meter_values import parse_meter_values
from orbiteos.integrations.ocpp.sessions import EVENT_OCPP_SESSION, SessionBook
from orbiteos.integrations.ocpp.transport import ConnectionClosed

if TYPE_CHECKING:
    from orbiteos.core import Hub

_LOGGER = logging.getLogger(__name__)
# The library logs every frame at INFO; ours go to this logger, quiet unless asked for (see docs).
FRAMES_LOGGER = logging.getLogger("orbiteos.integrations.ocpp.frames")
UNKNOWN_UNIQUE_ID = "-1"
EVENT_OCPP_DATA_TRANSFER = "ocpp_data_transfer"


class ChargerCallError(ServiceValidationError):
    """The charge point refused a call, answered it with a CALLERROR, or answered nonsense.

    A ServiceValidationError: the service call reached the charger and the charger said no, so the
    caller gets a 400 / `service_validation_error` whose message names the status or error code.
    """


class _RefusedFrameFilter(logging.Filter):
    """The library logs a handler's OCPP error (a charger's bad value) with a traceback; one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], OCPPError):
            record.msg = f"{record.msg}: %s"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()), record.exc_info[1])
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_REFUSED_FRAME_FILTER = _RefusedFrameFilter()


def quiet_frames_logger() -> None:
    """Frames at WARNING unless the user configured the logger themselves; refused frames in one line."""
    if FRAMES_LOGGER.level == logging.NOTSET:
        FRAMES_LOGGER.setLevel(logging.WARNING)
    if _REFUSED_FRAME_FILTER not in FRAMES_LOGGER.filters:
        FRAMES_LOGGER.addFilter(_REFUSED_FRAME_FILTER)


@dataclass(frozen=True)
class SystemSettings:
    """What every connection of the central system shares."""

    heartbeat_interval: int = 300
    call_timeout: float = 30.0
    id_tags: frozenset[str] = frozenset()
    accept_all: bool = False
    remote_id_tag: str = "orbiteos"

    def authorize(self, id_tag: str) -> str:
        if self.accept_all or id_tag in self.id_tags or id_tag == self.remote_id_tag:
            return AuthorizationStatus.accepted
        return AuthorizationStatus.invalid


def ocpp16_error(err: OCPPError) -> OCPPError:
    """The library raises some errors under their OCPP 2.0 names; 1.6 spells them differently."""
    if isinstance(err, FormatViolationError):
        return FormationViolationError(description=err.description, details=err.details)
    if isinstance(err, OccurrenceConstraintViolationError):
        return OccurenceConstraintViolationError(description=err.description, details=err.details)
    return err


def unique_id_of(raw: str) -> str:
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        found = _LEADING_ID.match(raw)  # a frame too deep to parse still says whom to answer
        return found.group(1) if found else UNKNOWN_UNIQUE_ID
    if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str):
        return frame[1]
    return UNKNOWN_UNIQUE_ID


_LEADING_ID = re.compile(r'\s*\[\s*[234]\s*,\s*"((?:[^"\\]|\\.){1,36})"')
# Nesting a frame may have: the deepest OCPP 1.6 payload (a charging profile) has 6 levels.
MAX_FRAME_DEPTH = 32


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} does not fit a number (it overflows to infinity)")
    return number


def check_frame(raw: str) -> None:
    """FormationViolation for a frame that is not strict JSON (NaN, Infinity, numbers that overflow)
    or is nested deeper than MAX_FRAME_DEPTH; the `ocpp` library's own parser accepts the first and
    raises RecursionError on the second."""
    depth, level = 0, []
    try:
        level = [json.loads(raw, parse_constant=_not_json, parse_float=_finite)]
    except RecursionError:
        depth = MAX_FRAME_DEPTH + 1
    except ValueError as err:
        raise FormationViolationError(description=f"not valid JSON: {err}", details={"cause": str(err)}) from None
    while level and depth <= MAX_FRAME_DEPTH:
        depth += 1
        level = [child for node in level if isinstance(node, list | dict)
                 for child in (node.values() if isinstance(node, dict) else node)]
    if depth > MAX_FRAME_DEPTH:
        raise FormationViolationError(
            description=f"frame nested deeper than {MAX_FRAME_DEPTH} levels", details={"cause": "too deep"}
        )


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime:
    """A frame's date-time, in UTC (as the sessions are documented); a bad one is the frame's error.

    Raises PropertyConstraintViolationError, which the library answers as a CALLERROR naming the field.
    """
    text = str(value)
    try:
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise PropertyConstraintViolationError(
            description=f"{field}: expected an ISO 8601 date-time such as 2024-06-01T12:00:00Z, got {text[:64]!r}"
        ) from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


def ocpp_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class CentralSystemChargePoint(ChargePoint):
    """One websocket connection of one charge point, as the central system sees it."""

    def __init__(
        self,
        hub: Hub,
        device: ChargePointDevice,
        connection: Any,
        sessions: SessionBook,
        settings: SystemSettings,
    ) -> None:
        super().__init__(device.charge_point_id, connection, response_timeout=settings.call_timeout,
                         logger=FRAMES_LOGGER)
        self.hub = hub
        self.device = device
        self.sessions = sessions
        self.settings = settings

    async def close(self, reason: str) -> None:
        await self._connection.close(reason)

    # --- framing -----------------------------------------------------------
    async def route_message(self, raw_msg: str) -> None:
        try:
            check_frame(raw_msg)
            msg = unpack(raw_msg)
            if isinstance(msg, Call) and not (
                isinstance(msg.unique_id, str) and isinstance(msg.action, str) and isinstance(msg.payload, dict)
            ):
                raise FormationViolationError(
                    description="a CALL is [2, \"<unique id>\", \"<action>\", {<payload>}]",
                    details={"cause": f"found {raw_msg[:200]}"},
                )
        except OCPPError as err:
            err = ocpp16_error(err)
            _LOGGER.warning("%s: malformed frame %.200s: %s %s", self.id, raw_msg, err.code, err.details)
            await self._send(CallError(unique_id_of(raw_msg), err.code, err.description, err.details).to_json())
            return

        if msg.message_type_id == MessageType.Call:
            try:
                await self._handle_call(msg)
            except OCPPError as err:
                err = ocpp16_error(err)
                _LOGGER.warning("%s: %s refused: %s %s", self.id, msg.action, err.code, err.details)
                await self._send(msg.create_call_error(err).to_json())
            except ConnectionClosed:
                raise
            except Exception:
                _LOGGER.exception("%s: handling %s failed", self.id, msg.action)
                await self._send(msg.create_call_error(InternalError()).to_json())
        elif self._call_lock.locked():
            self._response_queue.put_nowait(msg)
        else:
            _LOGGER.warning("%s: dropped an answer nobody waits for: %.200s", self.id, raw_msg)

    async def request(self, payload: Any) -> Any:
        """Send a call and return the charger's answer; raise DeviceUnavailable or ChargerCallError."""
        action = type(payload).__name__
        if self.device.connection is not self:
            raise DeviceUnavailable(f"charge point {self.id} is not connected")
        try:
            async with asyncio.timeout(self._response_timeout):
                return await self.call(payload, suppress=False)
        except TimeoutError:
            raise DeviceUnavailable(
                f"charge point {self.id}: no answer to {action} within {self._response_timeout:g} s"
            ) from None
        except ConnectionClosed as err:
            raise DeviceUnavailable(f"charge point {self.id}: connection lost during {action}: {err}") from None
        except OCPPError as err:
            raise ChargerCallError(f"charge point {self.id} answered {action} with {err.code}: {err.description}") \
                from None
        except (UnknownCallErrorCodeError, TypeError) as err:
            raise ChargerCallError(f"charge point {self.id}: unreadable answer to {action}: {err}") from None

    # --- handlers ----------------------------------------------------------
    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any) -> Any:
        self.device.info = {"vendor": charge_point_vendor, "model": charge_point_model, **kwargs}
        _LOGGER.info("%s: booted (%s %s)", self.id, charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=ocpp_time(self.hub.clock.now()),
            interval=self.settings.heartbeat_interval,
            status=RegistrationStatus.accepted,
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **kwargs: Any) -> None:
        if self.device.settings.charging_rate_unit == UNIT_AUTO:
            self.hub.create_task(self._learn_charging_rate_unit(), name=f"ocpp:{self.id}:rate-unit")

    async def _learn_charging_rate_unit(self) -> None:
        key = "ChargingScheduleAllowedChargingRateUnit"
        try:
            answer = await self.request(call.GetConfiguration(key=[key]))
        except (DeviceUnavailable, ChargerCallError) as err:
            _LOGGER.warning("%s: could not read %s (%s); limits go out in A", self.id, key, err)
            return
        for item in answer.configuration_key or []:
            if item.get("key") == key:
                allowed = {part.strip().lower() for part in str(item.get("value", "")).split(",")}
                self.device.advertised_unit = UNIT_WATTS if "power" in allowed else UNIT_AMPS
                _LOGGER.info("%s: charging profiles in %s", self.id, self.device.advertised_unit)

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time=ocpp_time(self.hub.clock.now()))

    def check_connector(self, connector_id: int, allow_zero: bool) -> None:
        """A connector id the charge point has (0, the charge point itself, where the action allows it)."""
        count = self.device.settings.connectors
        lowest = 0 if allow_zero else 1
        if not lowest <= connector_id <= count:
            raise PropertyConstraintViolationError(
                description=f"connectorId {connector_id}: expected {lowest} to {count} "
                            f"(charge point {self.id} has {count} connector{'s' if count != 1 else ''})"
            )

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs: Any) -> Any:
        self.check_connector(connector_id, allow_zero=True)
        if connector_id == 0:
            self.device.status = status
        else:
            entity = self.device.connector(connector_id)
            entity.status = status
            entity.error_code = error_code
            if status != "Charging":
                entity.power_kw = 0.0
            entity.write_state()
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **kwargs: Any) -> Any:
        return call_result.Authorize(id_tag_info={"status": self.settings.authorize(id_tag)})

    @on(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> Any:
        self.check_connector(connector_id, allow_zero=False)
        start = parse_timestamp(timestamp)
        entity = self.device.connector(connector_id)
        tx = self.sessions.start(self.id, connector_id, entity.entity_id, id_tag, start, float(meter_start))
        entity.begin_transaction(tx.transaction_id, id_tag)
        entity.energy_kwh = meter_start / 1000.0
        entity.write_state()
        status = self.settings.authorize(id_tag)
        _LOGGER.info("%s: transaction %s started on connector %s (%s)", self.id, tx.transaction_id, connector_id,
                     status)
        return call_result.StartTransaction(transaction_id=tx.transaction_id, id_tag_info={"status": status})

    @on(Action.stop_transaction)
    def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, reason: str | None = None,
        id_tag: str | None = None, transaction_data: list[dict[str, Any]] | None = None, **kwargs: Any,
    ) -> Any:
        stop = parse_timestamp(timestamp)
        tx = self.sessions.stop(transaction_id, float(meter_stop), stop, reason)
        if tx is None:
            # Not ours (e.g. started before an engine restart): still worth a record.
            _LOGGER.warning("%s: stop of unknown transaction %s", self.id, transaction_id)
            self.hub.bus.fire(EVENT_OCPP_SESSION, {
                "charge_point_id": self.id, "connector_id": None, "entity_id": None,
                "transaction_id": transaction_id, "id_tag": id_tag, "start": None, "stop": stop.isoformat(),
                "meter_start_wh": None, "meter_stop_wh": float(meter_stop), "energy_kwh": None, "reason": reason,
            })
        else:
            entity = self.device.connector(tx.connector_id)
            if entity.transaction_id == transaction_id:
                entity.end_transaction(tx.energy_kwh)
                entity.energy_kwh = meter_stop / 1000.0
                entity.limit_kw = self.device.default_limit_kw.get(tx.connector_id)
                entity.write_state()
            _LOGGER.info("%s: transaction %s stopped, %.3f kWh", self.id, transaction_id, tx.energy_kwh)
        if id_tag is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info={"status": self.settings.authorize(id_tag)})

    @on(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], transaction_id: int | None = None,
        **kwargs: Any,
    ) -> Any:
        self.check_connector(connector_id, allow_zero=True)
        for index, sample in enumerate(meter_value):  # unused, but a bad one is a bad frame
            parse_timestamp(sample.get("timestamp"), f"meterValue[{index}].timestamp")
        reading = parse_meter_values(meter_value)
        if connector_id == 0:
            return call_result.MeterValues()
        entity = self.device.connector(connector_id)
        tx = self.sessions.get(transaction_id) or self.sessions.on_connector(self.id, connector_id)
        if reading.energy_wh is not None:
            entity.energy_kwh = reading.energy_wh / 1000.0
            if tx is not None:
                tx.meter_last_wh = reading.energy_wh
                entity.session_kwh = tx.energy_kwh
        if tx is not None and entity.transaction_id != tx.transaction_id:
            entity.begin_transaction(tx.transaction_id, tx.id_tag)  # e.g. after an engine restart
            entity.session_kwh = tx.energy_kwh
        power_w = reading.total_power_w
        if power_w is None and reading.currents_a:
            volts = reading.voltage_v or self.device.settings.voltage
            power_w = sum(reading.currents_a.values()) * volts
        if power_w is not None:
            entity.power_kw = max(0.0, power_w / 1000.0)
        if reading.currents_a:
            entity.currents_a = dict(reading.currents_a)
        if reading.voltage_v is not None:
            entity.voltage_v = reading.voltage_v
        if reading.soc is not None:
            entity.vehicle_soc = reading.soc
        entity.write_state()
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None,
                         **kwargs: Any) -> Any:
        self.hub.bus.fire(EVENT_OCPP_DATA_TRANSFER, {
            "charge_point_id": self.id, "vendor_id": vendor_id, "message_id": message_id, "data": data,
        })
        return call_result.DataTransfer(status="Accepted")

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, status: str, **kwargs: Any) -> Any:
        self.device.firmware_status = status
        _LOGGER.info("%s: firmware %s", self.id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, status: str, **kwargs: Any) -> Any:
        self.device.diagnostics_status = status
        _LOGGER.info("%s: diagnostics %s", self.id, status)
        return call_result.DiagnosticsStatusNotification()
