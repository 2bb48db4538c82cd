"""Sandbox settings: limits (Airbus's published figures, time-scalable) and fault knobs."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

AIRBUS_ORDERING_RPS = 1.0
AIRBUS_SEARCH_RPS = 100.0
AIRBUS_BAN_SECONDS = 600.0


_INT_KNOBS = frozenset(
    {"drop_next_orders", "corrupt_downloads", "truncate_downloads_at", "truncate_references_at"}
)
_BOOL_KNOBS = frozenset({"ignore_ranges"})
_CHOICE_KNOBS = {
    "checksum_method": None,  # any method name: tests a client's handling of unknown ones
    "download_links": frozenset({"object", "array", "parts", "none"}),
}


@dataclass
class Faults:
    """Fault knobs, changeable at run time through ``POST /sandbox/v1/faults``."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    token_ttl: float = 3600.0
    drop_next_orders: int = 0
    drop_probability: float = 0.0
    order_delay_ms: float = 0.0
    delivery_delay_s: float = 0.0
    corrupt_downloads: int = 0  # the next N download responses carry one flipped byte
    truncate_downloads_at: int = 0  # a download from byte 0 is cut at this byte (0: off)
    ignore_ranges: bool = False  # downloads answer 200 with the whole file despite Range
    frozen_time: float = 0.0  # the sandbox's wall clock (epoch seconds) for tests; 0: real time
    clock_offset_s: float = 0.0  # added to the real time (tests: "an hour later" without waiting)
    checksum_method: str = "md5"  # the X-Ads-Checksum-Method announced (the value stays MD5)
    # delivered items' _links.download: one object, a one-element array, an array of several
    # files ("parts": a product in parts or tiles), or none at all (as the archive guide's
    # step 6 item shows: only dataAccess and the access links remain)
    download_links: str = "object"
    truncate_references_at: int = 0  # orders keep this many customerReference chars (0: all)
    # every price and order amount is multiplied by this (a price list change between a plan
    # and its apply); 1: the documented price list
    price_factor: float = 1.0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise KeyError(key)
            if key in _INT_KNOBS:
                setattr(self, key, int(value))
            elif key in _CHOICE_KNOBS:
                choices = _CHOICE_KNOBS[key]
                if not isinstance(value, str) or (choices is not None and value not in choices):
                    shown = ", ".join(sorted(choices)) if choices else "a string"
                    raise ValueError(f"{key} must be {shown}")
                setattr(self, key, value)
            elif key in _BOOL_KNOBS:
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
                setattr(self, key, value)
            else:
                setattr(self, key, float(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SandboxConfig:
    """Everything that shapes one sandbox run."""

    api_key: str = "sandbox-key"
    seed: int = 0
    time_scale: float = 1.0
    ordering_rps: float = AIRBUS_ORDERING_RPS
    ordering_concurrency: int = 1
    search_rps: float = AIRBUS_SEARCH_RPS
    search_concurrency: int = 16
    ban_seconds: float = AIRBUS_BAN_SECONDS
    limits_enabled: bool = True
    catalog_files: tuple[str, ...] = ()
    faults: Faults = field(default_factory=Faults)
    fault_seed: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def effective_ordering_rps(self) -> float:
        return self.ordering_rps * self.time_scale

    @property
    def effective_search_rps(self) -> float:
        return self.search_rps * self.time_scale

    @property
    def effective_ban_seconds(self) -> float:
        return self.ban_seconds / self.time_scale

    def public(self) -> dict[str, Any]:
        """The ``GET /sandbox/v1/config`` document."""
        return {
            "limits": {
                "ordering_rps": self.effective_ordering_rps,
                "ordering_concurrency": self.ordering_concurrency,
                "search_rps": self.effective_search_rps,
                "search_concurrency": self.search_concurrency,
                "ban_seconds": self.effective_ban_seconds,
                "enabled": self.limits_enabled,
            },
            "time_scale": self.time_scale,
            "api_key_hint": self.api_key[:8] + "…",
            "seed": self.seed,
            "faults": self.faults.as_dict(),
        }
