"""Where the sun is and how much light reaches a tilted panel on a clear day.

Sun position from the NOAA Spencer series (declination, equation of time), clear-sky beam
from Meinel's attenuation with Kasten-Young air mass, isotropic sky diffuse and ground albedo.
Good to about a degree and a few percent, which is what a site simulation needs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

DAY_S = 86_400
SOLAR_CONSTANT_W_M2 = 1361.0
_RAD = math.pi / 180.0


@dataclass(frozen=True, slots=True)
class SunPosition:
    elevation_deg: float
    azimuth_deg: float  # from north, clockwise (90 = east, 180 = south)
    extraterrestrial_w_m2: float


def sun_position(ts: float, latitude: float, longitude: float) -> SunPosition:
    """The sun seen from (latitude, longitude) at UTC timestamp `ts`."""
    tm = time.gmtime(ts)
    hours = (ts % DAY_S) / 3600.0
    gamma = 2.0 * math.pi / 365.0 * (tm.tm_yday - 1 + (hours - 12.0) / 24.0)
    eqtime = 229.18 * (
        0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma)
    )
    e0 = (
        1.000110 + 0.034221 * math.cos(gamma) + 0.001280 * math.sin(gamma)
        + 0.000719 * math.cos(2 * gamma) + 0.000077 * math.sin(2 * gamma)
    )
    true_solar_min = hours * 60.0 + eqtime + 4.0 * longitude
    hour_angle = (true_solar_min / 4.0 - 180.0) * _RAD
    lat = latitude * _RAD
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    cos_zenith = max(-1.0, min(1.0, cos_zenith))
    elevation = 90.0 - math.acos(cos_zenith) / _RAD
    azimuth_from_south = math.atan2(
        math.sin(hour_angle), math.cos(hour_angle) * math.sin(lat) - math.tan(decl) * math.cos(lat)
    )
    azimuth = (azimuth_from_south / _RAD + 180.0) % 360.0
    return SunPosition(elevation, azimuth, SOLAR_CONSTANT_W_M2 * e0)


def clear_sky_plane_irradiance(
    sun: SunPosition, tilt_deg: float, azimuth_deg: float, albedo: float = 0.2
) -> tuple[float, float]:
    """(plane-of-array W/m², of which diffuse W/m²) on a clear day; (0, 0) with the sun down."""
    if sun.elevation_deg <= 0.0:
        return 0.0, 0.0
    zenith = 90.0 - sun.elevation_deg
    cos_z = math.cos(zenith * _RAD)
    air_mass = 1.0 / (cos_z + 0.50572 * (96.07995 - zenith) ** -1.6364)
    beam_normal = sun.extraterrestrial_w_m2 * 0.7 ** (air_mass**0.678)
    diffuse_horizontal = 0.1 * beam_normal
    global_horizontal = beam_normal * cos_z + diffuse_horizontal
    tilt = tilt_deg * _RAD
    cos_incidence = cos_z * math.cos(tilt) + math.sin(zenith * _RAD) * math.sin(tilt) * math.cos(
        (sun.azimuth_deg - azimuth_deg) * _RAD
    )
    beam = beam_normal * max(0.0, cos_incidence)
    sky = diffuse_horizontal * (1.0 + math.cos(tilt)) / 2.0
    ground = global_horizontal * albedo * (1.0 - math.cos(tilt)) / 2.0
    return beam + sky + ground, sky + ground


class ClearSkyTable:
    """Clear-sky plane-of-array irradiance for one panel orientation, tabulated per UTC day.

    One table of `resolution_s` samples is computed when a new day starts, so a step costs a
    linear interpolation instead of a dozen trigonometric calls.
    """

    __slots__ = ("latitude", "longitude", "tilt", "azimuth", "resolution_s", "_day", "_total", "_diffuse")

    def __init__(self, latitude: float, longitude: float, tilt: float, azimuth: float, resolution_s: int = 60):
        self.latitude = latitude
        self.longitude = longitude
        self.tilt = tilt
        self.azimuth = azimuth
        self.resolution_s = resolution_s
        self._day = -1
        self._total: list[float] = []
        self._diffuse: list[float] = []

    def _build(self, day: int) -> None:
        self._day = day
        base = day * DAY_S
        total, diffuse = [], []
        for i in range(DAY_S // self.resolution_s + 1):
            sun = sun_position(base + i * self.resolution_s, self.latitude, self.longitude)
            poa, dif = clear_sky_plane_irradiance(sun, self.tilt, self.azimuth)
            total.append(poa)
            diffuse.append(dif)
        self._total, self._diffuse = total, diffuse

    def at(self, ts: float) -> tuple[float, float]:
        """(plane-of-array W/m², diffuse part W/m²) at UTC timestamp `ts`."""
        day = int(ts // DAY_S)
        if day != self._day:
            self._build(day)
        pos = (ts - day * DAY_S) / self.resolution_s
        i = int(pos)
        frac = pos - i
        total, diffuse = self._total, self._diffuse
        return (
            total[i] + (total[i + 1] - total[i]) * frac,
            diffuse[i] + (diffuse[i + 1] - diffuse[i]) * frac,
        )
