"""SunSpec PV inverter (holding registers from 40000): common model 1, inverter model 103,
nameplate model 120 and immediate controls model 123 for the active power limit.

Values use SunSpec scale factors (`sf_address`): value = register * 10**sf.
"""

from __future__ import annotations

from typing import Any

BASE = 40000  # "SunS" marker (0x5375 0x6e53), then the models
SUNS = (0x5375, 0x6E53)

# Model id, length and the address of its first data register (after id and length).
MODEL_COMMON = (1, 66)
MODEL_INVERTER = (103, 50)
MODEL_NAMEPLATE = (120, 26)
MODEL_CONTROLS = (123, 24)
COMMON = BASE + 4
INVERTER = COMMON + 66 + 2
NAMEPLATE = INVERTER + 50 + 2
IMMEDIATE = NAMEPLATE + 26 + 2
END = IMMEDIATE + 24  # end marker 0xFFFF, length 0

# Points used by the profile and the simulator (absolute addresses).
COMMON_POINTS = {"Mn": (COMMON + 0, 16), "Md": (COMMON + 16, 16), "Opt": (COMMON + 32, 8), "Vr": (COMMON + 40, 8),
                 "SN": (COMMON + 48, 16), "DA": (COMMON + 64, 1)}
# Model 103 points (offset from the first data register), per the SunSpec model definition.
A, APH_A, A_SF = INVERTER + 0, INVERTER + 1, INVERTER + 4
PPV_AB, PHV_A, V_SF = INVERTER + 5, INVERTER + 8, INVERTER + 11
VA, VA_SF, VAR, VAR_SF, PF, PF_SF = (INVERTER + i for i in (16, 17, 18, 19, 20, 21))
DCA, DCA_SF, DCW, DCW_SF = (INVERTER + i for i in (25, 26, 29, 30))
TMP_OTHERS = (INVERTER + 32, INVERTER + 33, INVERTER + 34)  # TmpSnk, TmpTrns, TmpOt: not measured
ST_VND = INVERTER + 37
EVT1, EVT_VND = INVERTER + 38, INVERTER + 42  # bitfield32: Evt1, Evt2, then EvtVnd1..4
W = INVERTER + 12
W_SF = INVERTER + 13
HZ = INVERTER + 14
HZ_SF = INVERTER + 15
WH = INVERTER + 22  # acc32, two registers
WH_SF = INVERTER + 24
DCV = INVERTER + 27
DCV_SF = INVERTER + 28
TMP_CAB = INVERTER + 31
TMP_SF = INVERTER + 35
ST = INVERTER + 36  # operating state: 2 sleeping, 4 MPPT, 5 throttled
WRTG = NAMEPLATE + 1
WRTG_SF = NAMEPLATE + 2
WMAXLIMPCT = IMMEDIATE + 3
WMAXLIMPCT_RVRTTMS = IMMEDIATE + 5
WMAXLIM_ENA = IMMEDIATE + 7
WMAXLIMPCT_SF = IMMEDIATE + 21

REGISTERS: dict[str, dict[str, Any]] = {
    "power": {"address": W, "data_type": "int16", "sf_address": W_SF, "scale": 0.001},
    "energy_kwh": {"address": WH, "data_type": "uint32", "sf_address": WH_SF, "scale": 0.001},
    "dc_voltage": {"address": DCV, "data_type": "uint16", "sf_address": DCV_SF},
    "temperature_c": {"address": TMP_CAB, "data_type": "int16", "sf_address": TMP_SF},
    "inverter_kw": {"address": WRTG, "data_type": "uint16", "sf_address": WRTG_SF, "scale": 0.001},
    "limit_percent": {"address": WMAXLIMPCT, "data_type": "uint16", "sf_address": WMAXLIMPCT_SF},
    "limit_enable": {"address": WMAXLIM_ENA, "data_type": "uint16"},
}
CONTROLS: dict[str, dict[str, Any]] = {
    "limit_percent": REGISTERS["limit_percent"],
    "limit_enable": REGISTERS["limit_enable"],
    # Seconds the inverter keeps the limit without a new write, then lifts it by itself.
    "limit_revert_s": {"address": WMAXLIMPCT_RVRTTMS, "data_type": "uint16"},
}
