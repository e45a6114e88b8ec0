"""Register images of the simulated devices that `orbiteos sim-devices` serves over Modbus TCP:
a SunSpec inverter (models 1, 103, 120, 123), the OrbitEOS battery map, and a SunSpec meter
(models 1, 203). Points a device does not measure carry SunSpec's "not implemented" value for their
type, as a conforming device's do, so that a SunSpec client never reads a made-up zero.
"""

from __future__ import annotations

from typing import Any

from orbiteos.core import Hub, State
from orbiteos.integrations.modbus.profiles import orbiteos_battery as bat
from orbiteos.integrations.modbus.profiles import sunspec as ss
from orbiteos.integrations.modbus.profiles import sunspec_meter as sm
from orbiteos.integrations.modbus.registers import pack

Image = dict[int, int]

# SunSpec's "not implemented" value of each point type, per register.
NOT_IMPLEMENTED = {"uint16": [0xFFFF], "enum16": [0xFFFF], "int16": [0x8000], "sunssf": [0x8000],
                   "pad": [0x8000], "acc32": [0, 0], "bitfield32": [0xFFFF, 0xFFFF]}
# The data points of each model, in order (from the SunSpec model definitions).
_SF = "sunssf"
MODEL_103 = ["uint16"] * 4 + [_SF] + ["uint16"] * 6 + [_SF] + [
    "int16", _SF, "uint16", _SF, "int16", _SF, "int16", _SF, "int16", _SF, "acc32", _SF, "uint16", _SF, "uint16",
    _SF, "int16", _SF, "int16", "int16", "int16", "int16", _SF, "enum16", "enum16"] + ["bitfield32"] * 6
MODEL_120 = ["enum16", "uint16", _SF, "uint16", _SF, "int16", "int16", "int16", "int16", _SF, "uint16", _SF,
             "int16", "int16", "int16", "int16", _SF, "uint16", _SF, "uint16", _SF, "uint16", _SF, "uint16", _SF,
             "pad"]
MODEL_123 = ["uint16", "uint16", "enum16", "uint16", "uint16", "uint16", "uint16", "enum16", "int16", "uint16",
             "uint16", "uint16", "enum16", "int16", "int16", "int16", "uint16", "uint16", "uint16", "enum16",
             "enum16", _SF, _SF, _SF]
MODEL_203 = ["int16"] * 4 + [_SF] + ["int16"] * 8 + [_SF, "int16", _SF] + (["int16"] * 4 + [_SF]) * 4 + (
    ["acc32"] * 8 + [_SF]) * 2 + ["acc32"] * 16 + [_SF, "bitfield32"]
# Model 123 points this inverter implements (writable); the others are not implemented.
IMMEDIATE_IMPLEMENTED = {ss.WMAXLIMPCT, ss.WMAXLIMPCT + 1, ss.WMAXLIMPCT_RVRTTMS, ss.WMAXLIMPCT_RVRTTMS + 1,
                         ss.WMAXLIM_ENA, ss.WMAXLIMPCT_SF}
NOMINAL_VOLTS = 230.0


def number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def put(image: Image, address: int, registers: list[int]) -> None:
    for offset, register in enumerate(registers):
        image[address + offset] = register


def with_sf(value: float, data_type: str, min_sf: int) -> tuple[list[int], int]:
    """Registers and SunSpec scale factor for `value` (as fine as `min_sf` allows, coarser if it must)."""
    limit = {"int16": 32767, "uint16": 65535, "uint32": 4294967295}[data_type]
    sf = min_sf
    while abs(round(value / 10.0**sf)) > limit and sf < 10:
        sf += 1
    raw = round(value / 10.0**sf)
    if data_type != "int16":
        raw = max(0, raw)
    return pack(raw, data_type), sf


def put_scaled(image: Image, points: list[tuple[int, float]], sf_address: int, data_type: str, min_sf: int) -> None:
    """Several points sharing one scale factor: the coarsest any of them needs."""
    sf = max(with_sf(value, data_type, min_sf)[1] for _, value in points)
    for address, value in points:
        raw = round(value / 10.0**sf)
        put(image, address, pack(raw if data_type == "int16" else max(0, raw), data_type))
    put(image, sf_address, pack(sf, "int16"))


def _model(image: Image, header: tuple[int, int], start: int, types: list[str]) -> None:
    put(image, start - 2, list(header))
    address = start
    for data_type in types:
        put(image, address, NOT_IMPLEMENTED[data_type])
        address += len(NOT_IMPLEMENTED[data_type])


def _common(image: Image, device_id: int, model: str, serial: str) -> None:
    _model(image, ss.MODEL_COMMON, ss.COMMON, ["uint16"] * 66)
    for name, text in (("Mn", "OrbitEOS"), ("Md", model), ("Opt", ""), ("Vr", "1.0"), ("SN", serial)):
        address, count = ss.COMMON_POINTS[name]
        put(image, address, pack(text, "string", count=count))
    put(image, ss.COMMON_POINTS["DA"][0], [device_id])
    put(image, ss.COMMON_POINTS["DA"][0] + 1, [0x8000])  # Pad


def _grid(hub: Hub | None) -> tuple[float, list[float]]:
    """Frequency and phase voltages at the site's meter (nominal without one)."""
    meters = hub.states.all("meter") if hub is not None else []
    attrs = meters[0].attributes if meters else {}
    hz = number(attrs.get("frequency_hz"), 50.0)
    return hz, [number(attrs.get(f"voltage_l{phase}"), NOMINAL_VOLTS) for phase in (1, 2, 3)]


def pv_image(state: State, device_id: int, hub: Hub | None = None) -> Image:
    """The SunSpec registers of a `pv.*` state (kW and kWh in the state, W and Wh on the wire)."""
    image: Image = {}
    put(image, ss.BASE, list(ss.SUNS))
    _common(image, device_id, "Simulated PV inverter", "SIM-PV")
    _model(image, ss.MODEL_INVERTER, ss.INVERTER, MODEL_103)
    _model(image, ss.MODEL_NAMEPLATE, ss.NAMEPLATE, MODEL_120)
    _model(image, ss.MODEL_CONTROLS, ss.IMMEDIATE, MODEL_123)
    put(image, ss.END, [0xFFFF, 0])
    attrs = state.attributes
    power_w = number(state.state) * 1000.0
    rating_w = number(attrs.get("inverter_kw", attrs.get("peak_power_kw"))) * 1000.0
    limit_w = number(attrs.get("limit_kw"), rating_w / 1000.0) * 1000.0
    hz, volts = _grid(hub)
    # Three phases in balance at unity power factor: the currents follow from the power.
    amps = [power_w / 3.0 / v if v > 0 else 0.0 for v in volts]
    line = [volts[0] * 3**0.5, volts[1] * 3**0.5, volts[2] * 3**0.5]
    put_scaled(image, [(ss.A, sum(amps)), *((ss.APH_A + i, a) for i, a in enumerate(amps))], ss.A_SF, "uint16", -2)
    put_scaled(image, [*((ss.PPV_AB + i, v) for i, v in enumerate(line)),
                       *((ss.PHV_A + i, v) for i, v in enumerate(volts))], ss.V_SF, "uint16", -1)
    dc_v, dc_a = number(attrs.get("dc_voltage")), number(attrs.get("dc_current"))
    # A fresh inverter's counter reads 1 Wh: an acc32 of 0 means "not implemented" in SunSpec.
    energy_wh = max(1.0, number(attrs.get("energy_kwh")) * 1000.0)
    for value, address, sf_address, data_type, min_sf in (
        (power_w, ss.W, ss.W_SF, "int16", 0),
        (hz, ss.HZ, ss.HZ_SF, "uint16", -2),
        (power_w, ss.VA, ss.VA_SF, "int16", 0),
        (0.0, ss.VAR, ss.VAR_SF, "int16", 0),
        (100.0, ss.PF, ss.PF_SF, "int16", 0),
        (energy_wh, ss.WH, ss.WH_SF, "uint32", 0),
        (dc_a, ss.DCA, ss.DCA_SF, "uint16", -2),
        (dc_v, ss.DCV, ss.DCV_SF, "uint16", -1),
        (dc_v * dc_a, ss.DCW, ss.DCW_SF, "int16", 0),
        (number(attrs.get("temperature_c")), ss.TMP_CAB, ss.TMP_SF, "int16", -1),
        (rating_w, ss.WRTG, ss.WRTG_SF, "uint16", 0),
    ):
        put_scaled(image, [(address, value)], sf_address, data_type, min_sf)
    put(image, ss.NAMEPLATE, [4])  # DERTyp: PV
    put(image, ss.EVT1, [0, 0, 0, 0])  # Evt1, Evt2: no events
    limited = rating_w > 0 and limit_w < rating_w - 0.5
    percent = 100.0 * limit_w / rating_w if limited else 100.0
    put(image, ss.WMAXLIMPCT, pack(round(percent * 10), "uint16"))  # WMaxLimPct_SF is -1
    put(image, ss.WMAXLIMPCT + 1, [0, 0])  # WinTms, RvrtTms: at once, no revert until written
    put(image, ss.WMAXLIMPCT_RVRTTMS + 1, [0])  # RmpTms
    put(image, ss.WMAXLIM_ENA, [1 if limited else 0])
    put(image, ss.WMAXLIMPCT_SF, pack(-1, "int16"))
    throttled = limited and power_w >= limit_w - 1.0
    put(image, ss.ST, [5 if throttled else 4 if power_w > 0 else 2])
    return image


def battery_image(state: State, device_id: int, hub: Hub | None = None) -> Image:
    """The OrbitEOS battery registers of a `battery.*` state."""
    image: Image = dict.fromkeys(range(bat.SIZE), 0)
    attrs = state.attributes
    setpoint = attrs.get("setpoint_kw")
    for attribute, value in (
        ("power", number(state.state)),
        ("soc", number(attrs.get("soc"))),
        ("soh", number(attrs.get("soh"), 100.0)),
        ("capacity_kwh", number(attrs.get("capacity_kwh"))),
        ("max_charge_kw", number(attrs.get("max_charge_kw"))),
        ("max_discharge_kw", number(attrs.get("max_discharge_kw"))),
        ("cycles", number(attrs.get("cycles"))),
        ("temperature_c", number(attrs.get("temperature_c"))),
        ("setpoint_kw", number(setpoint)),
    ):
        spec = bat.REGISTERS[attribute]
        raw = round(value / spec["scale"])
        if spec["data_type"].startswith("u"):
            raw = max(0, raw)
        put(image, spec["address"], pack(raw, spec["data_type"]))
    put(image, bat.MODE, [0 if setpoint is None else 1])
    return image


def meter_image(state: State, device_id: int, hub: Hub | None = None) -> Image:
    """A SunSpec wye meter (model 203) of a `meter.*` state; W is + import, as the meter nature's."""
    image: Image = {}
    put(image, ss.BASE, list(ss.SUNS))
    _common(image, device_id, "Simulated grid meter", "SIM-METER")
    _model(image, sm.MODEL_METER, sm.METER, MODEL_203)
    put(image, sm.END, [0xFFFF, 0])
    attrs = state.attributes
    phases = (1, 2, 3)
    volts = [number(attrs.get(f"voltage_l{p}"), NOMINAL_VOLTS) for p in phases]
    amps = [number(attrs.get(f"current_l{p}")) for p in phases]
    watts = [number(attrs.get(f"power_l{p}")) * 1000.0 for p in phases]
    total_w = number(state.state) * 1000.0
    put_scaled(image, [(sm.A, sum(amps)), *((sm.A + 1 + i, a) for i, a in enumerate(amps))], sm.A_SF, "int16", -2)
    put_scaled(image, [(sm.PHV, sum(volts) / 3), *((sm.PHV + 1 + i, v) for i, v in enumerate(volts)),
                       (sm.PPV, sum(volts) / 3 * 3**0.5),
                       *((sm.PPV + 1 + i, v * 3**0.5) for i, v in enumerate(volts))], sm.V_SF, "int16", -1)
    put_scaled(image, [(sm.HZ, number(attrs.get("frequency_hz"), 50.0))], sm.HZ_SF, "int16", -2)
    put_scaled(image, [(sm.W, total_w), *((sm.W + 1 + i, w) for i, w in enumerate(watts))], sm.W_SF, "int16", 0)
    for address, kwh in ((sm.TOT_WH_EXP, attrs.get("export_kwh")), (sm.TOT_WH_IMP, attrs.get("import_kwh"))):
        put(image, address, pack(max(1, round(number(kwh) * 1000.0)), "uint32"))
    put(image, sm.TOT_WH_SF, pack(0, "int16"))
    put(image, sm.EVT, [0, 0])
    return image
