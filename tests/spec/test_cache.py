from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from oneatlas_plan.errors import SpecError
from oneatlas_plan.planning.from_spec import desired_set
from oneatlas_plan.spec import aois as aoi_resolver
from oneatlas_plan.spec.cache import Entry, SpecCache, decode, encode
from oneatlas_plan.spec.loader import load, load_specs

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 23)
SPEC = """version: 1
name: cached
defaults:
  product: {type: PleiadesArchiveMono, options: {processing_level: ortho, dem: SRTMV4}}
  order: {contract: C, primary_market: NQUAL}
orders:
  - name: o
    search:
      acquired: {from: 2024-01-01, to: 2024-06-30}
    aois:
      - name: a
        bbox: [1.40, 43.55, 1.50, 43.65]
      - name: b
        bbox: [1.60, 43.55, 1.70, 43.65]
      - name: small
        bbox: [1.80, 43.55, 1.83, 43.58]
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "cached.yaml").write_text(SPEC)
    return tmp_path


@pytest.fixture
def resolutions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The AOI entries the loader actually checks (not answered by the cache)."""
    checked: list[str] = []
    real = aoi_resolver.resolve

    def counting(raw: Any, *args: Any) -> aoi_resolver.Outcome:
        # every AOI of these specs is named
        checked.append(cast(str, raw.get("name")) if isinstance(raw, dict) else repr(raw))
        return real(raw, *args)

    monkeypatch.setattr(aoi_resolver, "resolve", counting)
    return checked


def outcome(paths: list[Path], cache: Path | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Everything a load yields that matters: rendered problems and the desired resources."""
    result = load(paths, today=TODAY, cache_dir=cache)
    problems = [problem.render() for problem in result.problems]
    resources = [
        (
            r.address,
            r.config_digest,
            r.digests,
            r.aoi_geometry,
            r.aoi_area_km2,
            r.projection,
            r.dem,
            r.template,
            r.query,
            json.dumps(r.aoi_geometry),
        )
        for r in desired_set(result.specs).resources
    ]
    return problems, resources


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json")) if cache.exists() else []


def test_a_cached_load_equals_a_fresh_one_and_checks_no_aoi(
    workdir: Path, resolutions: list[str]
) -> None:
    cache = workdir / "cache"
    fresh = outcome([Path("specs")], None)
    assert outcome([Path("specs")], cache) == fresh
    assert len(entries(cache)) == 1
    resolutions.clear()
    assert outcome([Path("specs")], cache) == fresh
    assert resolutions == []
    assert any("note:" in problem for problem in fresh[0])  # findings are replayed too


@pytest.mark.parametrize(
    ("acquired", "plain"),
    [
        ("{from: 2024-01-01, to: 2024-06-30}", False),  # YAML dates: tagged in the entry
        ("{from: '2024-01-01', to: '2024-06-30'}", True),  # strings: nothing to decode
    ],
    ids=["dates", "strings"],
)
def test_an_entry_is_decoded_only_when_it_holds_a_tag(
    workdir: Path, resolutions: list[str], acquired: str, plain: bool
) -> None:
    spec = workdir / "specs" / "cached.yaml"
    spec.write_text(SPEC.replace("{from: 2024-01-01, to: 2024-06-30}", acquired))
    cache = workdir / "cache"
    fresh = outcome([Path("specs")], None)
    assert outcome([Path("specs")], cache) == fresh
    entry = SpecCache(cache).entry(spec.resolve())
    assert entry.parse is not None and entry.plain is plain
    resolutions.clear()
    assert outcome([Path("specs")], cache) == fresh  # from the entry, the same as a fresh load
    assert resolutions == []


@pytest.mark.parametrize(
    "data",
    [
        {"plain": ["text", 1, 1.5, None, True]},
        {"when": date(2024, 1, 2), "list": [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]},
        {"looks like a tag": "a\\u0000b", "nul": "a\x00b"},  # the escape's text, a NUL value
    ],
    ids=["plain", "tagged", "tag-like-text"],
)
def test_a_stored_parse_reads_back_exactly(tmp_path: Path, data: dict[str, Any]) -> None:
    cache, spec = SpecCache(tmp_path / "cache"), tmp_path / "spec.yaml"
    entry = Entry()
    entry.remember_parse("d" * 64, data, {("plain",): (1, 1)})
    cache.save(spec, entry)
    back = cache.entry(spec)
    assert back.parsed("d" * 64) == (data, {("plain",): (1, 1)})
    assert back.plain is (data == {"plain": ["text", 1, 1.5, None, True]})


def test_an_edit_is_seen_even_with_the_same_size_and_mtime(
    workdir: Path, resolutions: list[str]
) -> None:
    cache = workdir / "cache"
    spec = workdir / "specs" / "cached.yaml"
    outcome([Path("specs")], cache)
    before = spec.stat()
    edited = SPEC.replace("1.60, 43.55, 1.70", "1.61, 43.55, 1.71")
    assert len(edited) == len(SPEC)
    spec.write_text(edited)
    os.utime(spec, ns=(before.st_atime_ns, before.st_mtime_ns))
    resolutions.clear()
    problems, resources = outcome([Path("specs")], cache)
    assert resolutions == ["b"]  # only the edited AOI is checked again
    assert (problems, resources) == outcome([Path("specs")], None)
    geometry = {r[0]: r[3] for r in resources}["cached.o.b"]
    assert geometry["coordinates"][0][0] == [1.61, 43.55]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"",
        lambda data: b"\x00\xff not json",
        lambda data: data.replace(b"1.4", b"1.3", 1),  # a flipped value: the checksum differs
        lambda data: data.replace(b'"format":1', b'"format":99', 1),
        lambda data: b'{"sha256": null}\n{}',
    ],
    ids=["truncated", "empty", "garbage", "altered", "other-format", "foreign"],
)
def test_a_damaged_entry_is_ignored_and_replaced(
    workdir: Path, damage: Callable[[bytes], bytes], resolutions: list[str]
) -> None:
    cache = workdir / "cache"
    fresh = outcome([Path("specs")], None)
    outcome([Path("specs")], cache)
    (entry,) = entries(cache)
    entry.write_bytes(damage(entry.read_bytes()))
    resolutions.clear()
    assert outcome([Path("specs")], cache) == fresh
    assert sorted(resolutions) == ["a", "b", "small"]  # parsed and checked again
    resolutions.clear()
    assert outcome([Path("specs")], cache) == fresh  # ... and the entry was rewritten
    assert resolutions == []


def test_an_unreadable_or_unwritable_cache_is_only_skipped(workdir: Path) -> None:
    blocker = workdir / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    fresh = outcome([Path("specs")], None)
    assert outcome([Path("specs")], blocker / "specs") == fresh


def test_a_bad_spec_gets_the_same_located_error_and_is_never_stored(workdir: Path) -> None:
    cache = workdir / "cache"
    spec = workdir / "specs" / "cached.yaml"
    outcome([Path("specs")], cache)
    (entry,) = entries(cache)
    stored = entry.read_bytes()
    spec.write_text(SPEC.replace("1.60, 43.55, 1.70", "1.70, 43.55, 1.60"))
    with pytest.raises(SpecError) as fresh:
        load_specs([Path("specs")], today=TODAY)
    for _ in range(2):
        with pytest.raises(SpecError) as cached:
            load_specs([Path("specs")], today=TODAY, cache_dir=cache)
        assert cached.value.problems == fresh.value.problems
    assert "specs/cached.yaml:14:" in str(fresh.value)
    assert entry.read_bytes() == stored  # the bad version was not stored

    other = workdir / "other"
    other.mkdir()
    (other / "bad.yaml").write_text(SPEC.replace("bbox: [1.40", "bbox: [1.40, 9"))
    with pytest.raises(SpecError):
        load_specs([other], today=TODAY, cache_dir=workdir / "cache2")
    assert entries(workdir / "cache2") == []


def test_date_dependent_checks_run_on_every_load(workdir: Path) -> None:
    cache = workdir / "cache"
    early = load([Path("specs")], today=date(2024, 1, 2), cache_dir=cache)
    late = load([Path("specs")], today=TODAY, cache_dir=cache)
    assert [p.render() for p in late.problems] == [
        p.render() for p in load([Path("specs")], today=TODAY).problems
    ]
    assert [p.render() for p in early.problems] == [
        p.render() for p in load([Path("specs")], today=date(2024, 1, 2)).problems
    ]
    assert any("in the future" in p.message for p in early.problems)
    assert not any("in the future" in p.message for p in late.problems)


def test_an_aoi_from_a_geojson_file_is_checked_again_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resolutions: list[str]
) -> None:
    shutil.copytree(REPO / "examples" / "geojson-aois", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    fresh = outcome([Path("specs")], None)
    assert fresh[1], "the example should load"
    assert outcome([Path("specs")], cache) == fresh
    resolutions.clear()
    assert outcome([Path("specs")], cache) == fresh
    assert resolutions == []

    sites = tmp_path / "specs" / "sites.geojson"
    document = json.loads(sites.read_text())
    ring = document["features"][0]["geometry"]["coordinates"][0]
    for position in ring:
        position[0] += 0.001
    sites.write_text(json.dumps(document))
    changed = outcome([Path("specs")], cache)
    assert resolutions  # the file's AOIs were checked again
    assert changed == outcome([Path("specs")], None)
    assert changed != fresh


def test_another_spec_path_does_not_share_an_entry(workdir: Path) -> None:
    cache = workdir / "cache"
    outcome([Path("specs")], cache)
    (workdir / "copy").mkdir()
    shutil.copy(workdir / "specs" / "cached.yaml", workdir / "copy" / "cached.yaml")
    problems, _ = outcome([Path("copy")], cache)
    assert all(problem.startswith("copy/cached.yaml:") for problem in problems)
    assert len(entries(cache)) == 2


def test_yaml_values_survive_the_cache_exactly() -> None:
    value: dict[str, Any] = {
        "b": [1, 1.0, -0.0, 1e300, True, None, "x\x01"],
        "a": date(2024, 1, 2),
        "t": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "n": datetime(2024, 1, 2, 3, 4, 5),
        "raw": b"\x00\xff",
        "nested": {"z": {}, "y": []},
    }
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert list(back) == list(value)
    assert [type(item) for item in back["b"]] == [type(item) for item in value["b"]]
