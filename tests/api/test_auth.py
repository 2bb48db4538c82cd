from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from oneatlas_plan.api.auth import ApiKey, TokenCache, load_api_key
from oneatlas_plan.api.models import Token
from oneatlas_plan.errors import ConfigError


def test_api_key_never_shows_its_secret() -> None:
    key = ApiKey("  s3cret-value \n")
    assert key.reveal() == "s3cret-value"
    assert "s3cret" not in repr(key)
    assert "s3cret" not in str(key)
    assert "s3cret" not in f"{key!r} {key}"
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_load_from_environment() -> None:
    assert load_api_key({"ONEATLAS_API_KEY": "abc"}, None).reveal() == "abc"


def test_key_file_wins_over_environment(tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text("from-file\n", encoding="utf-8")
    assert load_api_key({"ONEATLAS_API_KEY": "env"}, path).reveal() == "from-file"


def test_missing_key_names_both_sources() -> None:
    with pytest.raises(ConfigError) as caught:
        load_api_key({}, None)
    assert "ONEATLAS_API_KEY" in str(caught.value)
    assert "--api-key-file" in str(caught.value)


def test_unreadable_or_empty_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_api_key({}, tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.write_text(" \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_api_key({}, empty)


def test_token_cache_renews_at_90_percent_and_after_invalidate() -> None:
    now = [0.0]
    issued: list[str] = []

    def fetch() -> Token:
        issued.append(f"t{len(issued)}")
        return Token.model_validate({"access_token": issued[-1], "expires_in": 100,
                                     "token_type": "Bearer"})

    cache = TokenCache(fetch, lambda: now[0])
    assert cache.get() == "t0"
    now[0] = 89.0
    assert cache.get() == "t0"
    now[0] = 90.0
    assert cache.get() == "t1"
    cache.invalidate("t0")  # stale: another thread already renewed
    assert cache.get() == "t1"
    cache.invalidate("t1")
    assert cache.get() == "t2"
    assert cache.fetch_count == 3
