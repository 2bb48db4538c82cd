from __future__ import annotations

import pytest

from oneatlas_plan.api.profiles import (
    CLOCK_DRIFT,
    PRODUCTION_LIMITS,
    Limits,
    clock_step,
    limits_from_config,
    origin_of,
    resolve_endpoint,
)
from oneatlas_plan.errors import ConfigError


def test_production_profile_has_the_five_airbus_hosts() -> None:
    profile = resolve_endpoint("production")
    assert profile.url("auth", "/x") == "https://authenticate.foundation.api.oneatlas.airbus.com/x"
    assert profile.base("search") == "https://search.foundation.api.oneatlas.airbus.com"
    assert profile.base("access") == "https://access.foundation.api.oneatlas.airbus.com"
    assert profile.base("order") == "https://order.api.oneatlas.airbus.com"
    assert profile.base("data") == "https://data.api.oneatlas.airbus.com"
    assert profile.limits == PRODUCTION_LIMITS
    assert not profile.discover_limits


def test_base_url_serves_every_service_and_discovers_limits() -> None:
    profile = resolve_endpoint("http://127.0.0.1:8080/")
    assert {profile.base(s) for s in ("auth", "search", "access", "order", "data")} == {
        "http://127.0.0.1:8080"
    }
    assert profile.discover_limits
    assert profile.config_url == "http://127.0.0.1:8080/sandbox/v1/config"
    assert profile.origins() == frozenset({"http://127.0.0.1:8080"})


@pytest.mark.parametrize("url", ["http://localhost:1", "http://[::1]:9", "http://127.1.2.3"])
def test_http_is_allowed_on_loopback(url: str) -> None:
    assert resolve_endpoint(url).name.startswith("http://")


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:80", "ftp://x", "prod"])
def test_non_loopback_http_and_garbage_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        resolve_endpoint(url)


def test_https_anywhere_is_fine() -> None:
    assert resolve_endpoint("https://sandbox.example.com").base("order") == (
        "https://sandbox.example.com"
    )


def test_limits_from_sandbox_config_and_fallback() -> None:
    limits = limits_from_config({"limits": {"ordering_rps": 20, "ordering_concurrency": 4,
                                            "search_rps": 500, "search_concurrency": 3,
                                            "ban_seconds": 6}})
    assert limits.ordering_rps == 20
    assert limits.ordering_concurrency == 1  # never more than one ordering request in flight
    assert limits.search_concurrency == 3
    assert limits_from_config(None) == PRODUCTION_LIMITS
    assert limits_from_config({"limits": {"ordering_rps": "fast"}}) == PRODUCTION_LIMITS
    assert limits_from_config({"limits": {"ordering_rps": 0}}) == PRODUCTION_LIMITS


def test_ordering_margin_covers_the_clocks_not_a_flat_five_percent() -> None:
    margin = Limits().ordering_interval - 1.0
    # 500 ppm of clock drift over the interval plus two steps of the monotonic clock
    assert margin == pytest.approx(1.0 * CLOCK_DRIFT + 2 * clock_step())
    assert CLOCK_DRIFT * 1.0 < margin < 0.001
    assert 0 < clock_step() < 0.0005
    assert Limits(ordering_rps=20).ordering_interval == pytest.approx(
        0.05 + 0.05 * CLOCK_DRIFT + 2 * clock_step())
    # searches are paced from their starts: their margin still absorbs latency jitter
    assert Limits().search_interval == pytest.approx(0.0105)


def test_origin_makes_default_ports_explicit() -> None:
    assert origin_of("https://Access.Example.com/a?b") == "https://access.example.com:443"
    assert origin_of("http://127.0.0.1:5/x") == "http://127.0.0.1:5"
