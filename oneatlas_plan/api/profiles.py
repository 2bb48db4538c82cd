"""Endpoint profiles: where each OneAtlas service lives and how fast we may call it."""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from oneatlas_plan.errors import ConfigError

Service = Literal["auth", "search", "access", "order", "data"]
SERVICES: tuple[Service, ...] = ("auth", "search", "access", "order", "data")

PRODUCTION_HOSTS: dict[Service, str] = {
    "auth": "https://authenticate.foundation.api.oneatlas.airbus.com",
    "search": "https://search.foundation.api.oneatlas.airbus.com",
    "access": "https://access.foundation.api.oneatlas.airbus.com",
    "order": "https://order.api.oneatlas.airbus.com",
    "data": "https://data.api.oneatlas.airbus.com",
}

SANDBOX_CONFIG_PATH = "/sandbox/v1/config"


@dataclass(frozen=True)
class Limits:
    """Client-side rate limits.

    Ordering (the Pay-Per-Order host): one request in flight and ``ordering_rps`` requests per
    second, beyond which Airbus bans the key for ``ban_seconds``. Search: ``search_rps`` per
    second with at most ``search_concurrency`` in flight.

    The ordering gate counts each interval from the *end* of the previous request, so network
    latency and its jitter can only lengthen the gap Airbus sees; the only margin the ordering
    interval needs covers the clocks (:func:`pacing_margin`). Searches are paced from their
    starts, so ``safety_margin`` (5 %) stretches the search interval to absorb jitter there.
    """

    ordering_rps: float = 1.0
    ordering_concurrency: int = 1
    search_rps: float = 100.0
    search_concurrency: int = 8
    ban_seconds: float = 600.0
    safety_margin: float = 0.05

    def __post_init__(self) -> None:
        if self.ordering_rps <= 0 or self.search_rps <= 0:
            raise ConfigError("rate limits must be positive")
        if self.ordering_concurrency < 1 or self.search_concurrency < 1:
            raise ConfigError("concurrency limits must be at least 1")

    @property
    def ordering_interval(self) -> float:
        """Minimum seconds from the end of one ordering request to the start of the next."""
        interval = 1.0 / self.ordering_rps
        return interval + pacing_margin(interval)

    @property
    def search_interval(self) -> float:
        """Minimum seconds between the starts of two search requests."""
        return (1.0 / self.search_rps) * (1.0 + self.safety_margin)


PRODUCTION_LIMITS = Limits()

# The fastest rate at which NTP slews a clock (the kernel's adjtimex limit, 500 ppm): Airbus's
# clock may measure a gap that much shorter than ours.
CLOCK_DRIFT = 500e-6


def pacing_margin(interval: float) -> float:
    """What the ordering interval adds to the published one: the clock drift over the interval
    plus two steps of the pacing clock (the previous end and the next start are each read to
    within one step). Microseconds on Linux, instead of a flat 5 %."""
    return interval * CLOCK_DRIFT + 2.0 * clock_step()


_clock_step: float | None = None


def clock_step() -> float:
    """The monotonic clock's step: the larger of its declared resolution and the smallest
    non-zero difference between consecutive readings, measured once per process."""
    global _clock_step
    if _clock_step is None:
        smallest = math.inf
        for _ in range(200):
            first = time.monotonic()
            while (second := time.monotonic()) == first:
                pass
            smallest = min(smallest, second - first)
        _clock_step = max(time.get_clock_info("monotonic").resolution, smallest)
    return _clock_step


def limits_from_config(config: Any) -> Limits:
    """Build :class:`Limits` from a sandbox ``/sandbox/v1/config`` document (bad → production)."""
    raw = config.get("limits") if isinstance(config, dict) else None
    if not isinstance(raw, dict):
        return PRODUCTION_LIMITS
    try:
        return Limits(
            ordering_rps=float(raw.get("ordering_rps", PRODUCTION_LIMITS.ordering_rps)),
            ordering_concurrency=1,  # never more than one ordering request in flight
            search_rps=float(raw.get("search_rps", PRODUCTION_LIMITS.search_rps)),
            search_concurrency=int(
                raw.get("search_concurrency", PRODUCTION_LIMITS.search_concurrency)
            ),
            ban_seconds=float(raw.get("ban_seconds", PRODUCTION_LIMITS.ban_seconds)),
        )
    except (TypeError, ValueError, ConfigError):
        return PRODUCTION_LIMITS


@dataclass(frozen=True)
class EndpointProfile:
    """Base URL of each service plus the limits that apply to them.

    ``discover_limits`` is true for a non-production base URL: the client then reads
    ``{base}/sandbox/v1/config`` once and replaces ``limits`` with what it says.
    """

    name: str
    auth: str
    search: str
    access: str
    order: str
    data: str
    limits: Limits = PRODUCTION_LIMITS
    discover_limits: bool = False

    def base(self, service: Service) -> str:
        """Base URL (scheme://host[:port]) of ``service``."""
        return str(getattr(self, service))

    def url(self, service: Service, path: str) -> str:
        """Absolute URL of ``path`` (starting with ``/``) on ``service``."""
        return self.base(service) + path

    def origins(self) -> frozenset[str]:
        """The ``scheme://host:port`` origins this profile may send credentials to."""
        return frozenset(origin_of(self.base(service)) for service in SERVICES)

    @property
    def config_url(self) -> str:
        """Where a sandbox publishes its limits."""
        return self.url("order", SANDBOX_CONFIG_PATH)

    def with_limits(self, limits: Limits) -> EndpointProfile:
        """A copy with other limits (limits already discovered)."""
        return replace(self, limits=limits, discover_limits=False)


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` with the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    default = 443 if scheme == "https" else 80
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{parts.port or default}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def production_profile() -> EndpointProfile:
    """Airbus's five production hosts with the published limits."""
    hosts = PRODUCTION_HOSTS
    return EndpointProfile(
        name="production", auth=hosts["auth"], search=hosts["search"], access=hosts["access"],
        order=hosts["order"], data=hosts["data"],
    )


def resolve_endpoint(value: str) -> EndpointProfile:
    """``"production"`` or a base URL serving every service on one origin (the sandbox).

    ``http://`` is refused unless the host is loopback.
    """
    text = value.strip()
    if text.lower() == "production":
        return production_profile()
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"endpoint {value!r} is neither 'production' nor an http(s) base URL"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"endpoint {value!r} must be a plain base URL (no query or user info)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"endpoint {value!r} uses http:// on a non-loopback host; use https:// "
            "(plain http is only allowed for 127.0.0.1, ::1 or localhost)"
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return EndpointProfile(
        name=base, auth=base, search=base, access=base, order=base, data=base,
        discover_limits=True,
    )
