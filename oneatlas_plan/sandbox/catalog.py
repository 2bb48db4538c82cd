"""A deterministic, procedural global archive of SPOT 6/7, Pléiades 1A/1B and Pléiades Neo 3/4.

The world is split into 1°×1° cells. For every (platform, cell, day) a 64-bit hash of the seed
decides how many scenes the platform acquired whose centre lies in that cell (0–3), and each
scene's attributes (centre, footprint length and heading, time of day, cloud, incidence, …) come
from further hashes of the scene key. Nothing is stored: a query only generates the cells that
may intersect its area and the days of its date window, vectorised with numpy.

A scene key packs ``(platform, cell x, cell y, day, index)`` into 36 bits; the key is embedded
(masked) in the scene's uuid and in Pléiades Neo acquisition identifiers, so ids can be resolved
back to scenes without any index. Legacy datastrip ids (``DS_…``) carry the platform, the date
and the 1° tile, which is the scene's cell.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

import numpy as np

EPOCH = dt.date(2010, 1, 1)
EPOCH_TS = dt.datetime(2010, 1, 1, tzinfo=dt.UTC).timestamp()
DAY_S = 86400.0
LAT_MIN, LAT_MAX = -70, 80  # cells generated (no polar acquisitions)
MAX_DAYS = 16384
PUBLISH_DELAY_MIN_S = 3600.0  # a scene is published 1 to 11 hours after its acquisition
PUBLISH_SPREAD_S = 36000
_U64 = np.uint64
_M32 = float(2**32)


@dataclass(frozen=True)
class Platform:
    index: int
    name: str
    constellation: str
    launch: dt.date
    end: dt.date | None
    swath_km: float
    length_km: tuple[float, float]
    count_cdf: tuple[float, ...]
    max_incidence: float
    workspace: str


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        0,
        "SPOT6",
        "SPOT",
        dt.date(2012, 9, 12),
        None,
        60.0,
        (60.0, 120.0),
        (0.6, 0.9, 1.0),
        30.0,
        "public",
    ),
    Platform(
        1,
        "SPOT7",
        "SPOT",
        dt.date(2014, 7, 3),
        dt.date(2023, 3, 17),
        60.0,
        (60.0, 120.0),
        (0.6, 0.9, 1.0),
        30.0,
        "public",
    ),
    Platform(
        2,
        "PHR1A",
        "PHR",
        dt.date(2011, 12, 20),
        None,
        20.0,
        (20.0, 60.0),
        (0.25, 0.55, 0.8, 1.0),
        30.0,
        "public",
    ),
    Platform(
        3,
        "PHR1B",
        "PHR",
        dt.date(2012, 12, 5),
        None,
        20.0,
        (20.0, 60.0),
        (0.25, 0.55, 0.8, 1.0),
        30.0,
        "public",
    ),
    Platform(
        4,
        "PNEO3",
        "PNEO",
        dt.date(2021, 5, 3),
        None,
        14.0,
        (14.0, 40.0),
        (0.3, 0.65, 0.9, 1.0),
        30.0,
        "public-pneo",
    ),
    Platform(
        5,
        "PNEO4",
        "PNEO",
        dt.date(2021, 8, 20),
        None,
        14.0,
        (14.0, 40.0),
        (0.3, 0.65, 0.9, 1.0),
        30.0,
        "public-pneo",
    ),
)
PLATFORM_BY_NAME = {p.name: p for p in PLATFORMS}
MAX_HALF_EXTENT_KM = 70.0  # half diagonal of the largest footprint (SPOT 60 × 120 km)

_SWATH = np.array([p.swath_km for p in PLATFORMS])
_LEN_LO = np.array([p.length_km[0] for p in PLATFORMS])
_LEN_HI = np.array([p.length_km[1] for p in PLATFORMS])
_MAX_INC = np.array([p.max_incidence for p in PLATFORMS])


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_date(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=number)


def active_days(platform: Platform, today: dt.date) -> tuple[int, int]:
    """First and last day numbers (inclusive) with acquisitions for a platform."""
    last = today - dt.timedelta(days=1)
    if platform.end is not None:
        last = min(last, platform.end)
    return day_number(platform.launch), day_number(last)


def splitmix64(x: np.ndarray) -> np.ndarray:
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _seed_mask(seed: int, salt: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}:{salt}".encode(), digest_size=8).digest()
    return _U64(int.from_bytes(digest, "big"))


def _unit(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hi = (h >> _U64(32)).astype(np.float64) / _M32
    lo = (h & _U64(0xFFFFFFFF)).astype(np.float64) / _M32
    return hi, lo


def combo_keys(p: np.ndarray, cx: np.ndarray, cy: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (
        (p.astype(np.uint64) * _U64(360) + cx.astype(np.uint64)) * _U64(180) + cy.astype(np.uint64)
    ) * _U64(MAX_DAYS) + day.astype(np.uint64)


@dataclass
class Scenes:
    """Columns of generated scenes (numpy arrays of equal length)."""

    key: np.ndarray  # uint64 scene key (combo * 4 + index)
    p: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    half_lon: np.ndarray
    half_lat: np.ndarray
    length: np.ndarray
    tilt: np.ndarray
    acq: np.ndarray  # epoch seconds, ms precision
    cloud: np.ndarray
    incidence: np.ndarray
    snow: np.ndarray
    resolution: np.ndarray
    hash2: np.ndarray

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def take(self, idx: np.ndarray) -> Scenes:
        return Scenes(**{name: getattr(self, name)[idx] for name in self.__dataclass_fields__})

    @property
    def published(self) -> np.ndarray:
        """Every scene's publication time; :func:`published_at` is one scene's."""
        return self.acq + PUBLISH_DELAY_MIN_S + (self.hash2 % _U64(PUBLISH_SPREAD_S)).astype(
            np.float64
        )


def published_at(acq: float, hash2: int) -> float:
    """One scene's publication time, equal to its ``Scenes.published`` entry (a feature needs
    one; the column is computed over every scene)."""
    return acq + PUBLISH_DELAY_MIN_S + float(hash2 % PUBLISH_SPREAD_S)


def _counts(p: np.ndarray, h: np.ndarray) -> np.ndarray:
    u, _ = _unit(h)
    counts = np.zeros(p.shape[0], dtype=np.int64)
    for plat in PLATFORMS:
        mask = p == plat.index
        if mask.any():
            counts[mask] = np.searchsorted(np.array(plat.count_cdf), u[mask], side="right")
    return counts


def generate(p: np.ndarray, cx: np.ndarray, cy: np.ndarray, day: np.ndarray, seed: int) -> Scenes:
    """Generate every scene of the given (platform, cell, day) combos."""
    combos = combo_keys(p, cx, cy, day)
    counts = _counts(p, splitmix64(combos ^ _seed_mask(seed, "count")))
    total = int(counts.sum())
    rep = np.repeat(np.arange(combos.shape[0]), counts)
    first = np.cumsum(counts) - counts
    index = np.arange(total) - np.repeat(first, counts)
    keys = combos[rep] * _U64(4) + index.astype(np.uint64)
    return scenes_from_keys(keys, seed)


def unpack_key(key: np.ndarray) -> tuple[np.ndarray, ...]:
    combo = key >> _U64(2)
    day = (combo % _U64(MAX_DAYS)).astype(np.int64)
    rest = combo // _U64(MAX_DAYS)
    cy = (rest % _U64(180)).astype(np.int64)
    rest = rest // _U64(180)
    cx = (rest % _U64(360)).astype(np.int64)
    p = (rest // _U64(360)).astype(np.int64)
    return p, cx, cy, day


def scenes_from_keys(keys: np.ndarray, seed: int) -> Scenes:
    """Derive every attribute of the scenes with these keys (pure function of key and seed)."""
    p, cx, cy, day = unpack_key(keys)
    h1 = splitmix64(keys ^ _seed_mask(seed, "scene"))
    h2 = splitmix64(h1)
    h3 = splitmix64(h2)
    h4 = splitmix64(h3)
    u0, u1 = _unit(h1)
    u2, u3 = _unit(h2)
    u4, u5 = _unit(h3)
    u6, u7 = _unit(h4)
    lon = cx - 180 + u0
    lat = cy - 90 + u1
    length = _LEN_LO[p] + (_LEN_HI[p] - _LEN_LO[p]) * u2
    tilt = np.radians(-13.0 + 8.0 * u3)
    half_w, half_l = _SWATH[p] / 2.0, length / 2.0
    dx = half_w * np.abs(np.cos(tilt)) + half_l * np.abs(np.sin(tilt))
    dy = half_w * np.abs(np.sin(tilt)) + half_l * np.abs(np.cos(tilt))
    coslat = np.maximum(np.cos(np.radians(lat)), 0.05)
    utc_hours = 10.5 + (u4 - 0.5) * 0.6 - lon / 15.0
    acq = np.round((EPOCH_TS + day * DAY_S + utc_hours * 3600.0) * 1000.0) / 1000.0
    doy = np.mod(day, 365.25)
    summer = np.cos((doy - 196) * 2 * np.pi / 365.0) * np.sign(lat + 1e-9)
    p_clear = 0.32 + 0.22 * summer
    cloud = np.where(u5 < p_clear, u6 * 10.0, 10.0 + 90.0 * u6**1.4)
    cloud = np.round(cloud, 2)
    incidence = np.round(_MAX_INC[p] * u7**1.3, 4)
    winter = np.clip(-summer, 0, 1) * np.clip((np.abs(lat) - 40.0) / 30.0, 0, 1)
    snow = np.round(np.where(u5 * 7 % 1 < winter * 0.6, (u6 * 13 % 1) * 60.0, 0.0), 2)
    res_default = np.select([p <= 1, p <= 3], [1.5, 0.7], 0.3)
    resolution = np.where((p >= 2) & (p <= 3) & (incidence < 8.0), 0.5, res_default)
    return Scenes(
        key=keys,
        p=p,
        lon=lon,
        lat=lat,
        half_lon=dx / (111.32 * coslat),
        half_lat=dy / 110.574,
        length=length,
        tilt=tilt,
        acq=acq,
        cloud=cloud,
        incidence=incidence,
        snow=snow,
        resolution=resolution,
        hash2=h2,
    )


def footprint(
    lon: float, lat: float, swath: float, length: float, tilt: float
) -> list[list[float]]:
    """Closed ring (lon, lat) of a rotated swath × length rectangle centred on (lon, lat)."""
    import math

    coslat = max(math.cos(math.radians(lat)), 0.05)
    ring = []
    for sx, sy in ((-1, 1), (-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * swath / 2.0, sy * length / 2.0
        rx = x * math.cos(tilt) - y * math.sin(tilt)
        ry = x * math.sin(tilt) + y * math.cos(tilt)
        ring.append([round(lon + rx / (111.32 * coslat), 9), round(lat + ry / 110.574, 9)])
    return ring


# --- identifiers ------------------------------------------------------------------------------

_KEY_BITS = 36
_KEY_MASK = (1 << _KEY_BITS) - 1


def _key_mask(seed: int) -> int:
    return int(_seed_mask(seed, "uuid")) & _KEY_MASK


def scene_uuid(key: int, seed: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=16).digest()
    value = int.from_bytes(digest, "big")
    value = (value & ~_KEY_MASK) | ((key ^ _key_mask(seed)) & _KEY_MASK)
    value = (value & ~(0xF << 76)) | (0x4 << 76)  # version 4
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def key_from_uuid(text: str, seed: int) -> int | None:
    try:
        value = uuid.UUID(text).int
    except ValueError:
        return None
    key = (value & _KEY_MASK) ^ _key_mask(seed)
    return key if scene_uuid(key, seed) == str(uuid.UUID(text)) else None


def tile_name(lon: float, lat: float) -> str:
    import math

    x, y = math.floor(lon), math.floor(lat)
    return f"{'E' if x >= 0 else 'W'}{abs(x):03d}{'N' if y >= 0 else 'S'}{abs(y):02d}"


def parse_tile(tile: str) -> tuple[int, int] | None:
    try:
        x = int(tile[1:4]) * (1 if tile[0] == "E" else -1)
        y = int(tile[5:7]) * (1 if tile[4] == "N" else -1)
    except (ValueError, IndexError):
        return None
    if tile[0] not in "EW" or tile[4] not in "NS":
        return None
    return x, y


def acq_stamp(acq: float) -> str:
    """``YYYYmmddHHMMSS`` plus tenths of second, as in datastrip ids."""
    moment = dt.datetime.fromtimestamp(acq, tz=dt.UTC)
    return moment.strftime("%Y%m%d%H%M%S") + str(moment.microsecond // 100000)


def datastrip_id(platform: Platform, acq: float, lon: float, lat: float, h: int) -> str:
    stamp, tile = acq_stamp(acq), tile_name(lon, lat)
    if platform.constellation == "SPOT":
        return f"DS_{platform.name}_{stamp}_FR1_FR1_FR1_FR1_{tile}_{h % 100000:05d}"
    if platform.constellation == "PNEO":
        return f"DS_{platform.name}_{stamp}_FR1_FR1_FR1_{tile}_{h % 1000000:06d}"
    return f"DS_{platform.name}_{stamp}_FR1_PX_{tile}_{600 + h % 400:04d}_{h % 100000:05d}"


def pneo_acquisition_id(platform: Platform, key: int, seed: int) -> str:
    return f"ACQ_{platform.name}_{(key ^ _key_mask(seed)) % 10**14:014d}"


def key_from_pneo_acquisition_id(text: str, seed: int) -> int | None:
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != "ACQ" or not parts[2].isdigit():
        return None
    return int(parts[2]) ^ _key_mask(seed)


def parse_datastrip(text: str) -> tuple[Platform, int, int, int] | None:
    """(platform, cell x, cell y, day number) encoded in a ``DS_…`` id, or None."""
    parts = text.split("_")
    if len(parts) < 5 or parts[0] != "DS" or parts[1] not in PLATFORM_BY_NAME:
        return None
    tiles = [t for t in parts[3:] if len(t) == 7 and parse_tile(t) is not None]
    if not tiles or len(parts[2]) < 8:
        return None
    try:
        day = dt.datetime.strptime(parts[2][:8], "%Y%m%d").date()
    except ValueError:
        return None
    x, y = parse_tile(tiles[0])  # type: ignore[misc]
    return PLATFORM_BY_NAME[parts[1]], x, y, day_number(day)
