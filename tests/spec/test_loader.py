from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneatlas_plan.errors import SpecError
from oneatlas_plan.spec.loader import MAX_FILE_BYTES, SpecSet, load_specs
from oneatlas_plan.spec.validate import validate_paths

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 23)
SEED_RING = [
    [1.4125259575195295, 43.586101687094356],
    [1.464024370605467, 43.586101687094356],
    [1.464024370605467, 43.623143915843656],
    [1.4125259575195295, 43.623143915843656],
    [1.4125259575195295, 43.586101687094356],
]
GOOD = """version: 1
name: {name}
orders:
  - name: o
    aois:
      - name: a
        bbox: [1.40, 43.55, 1.50, 43.65]
    product: {{type: PleiadesArchiveMono}}
    order: {{contract: C, primary_market: NQUAL}}
"""


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def test_shipped_specs_load(in_repo: Path) -> None:
    specs = load_specs([Path("specs")], today=TODAY)
    assert isinstance(specs, SpecSet)
    names = sorted(spec.model.name for spec in specs.files)
    assert names == ["tanzania-spot", "toulouse", "xinjiang-pneo"]
    addresses = sorted(order.address for order in specs.orders())
    assert addresses == [
        "tanzania-spot/malagarasi",
        "toulouse/city-centre",
        "xinjiang-pneo/hejing-west",
    ]


def test_toulouse_mirrors_the_seed_order(in_repo: Path) -> None:
    specs = load_specs([Path("specs/toulouse-pleiades.yaml")], today=TODAY)
    (spec,) = specs.files
    assert spec.root == Path("specs")
    assert spec.digest == hashlib.sha256(spec.path.read_bytes()).hexdigest()
    (loaded,) = specs.orders()
    order = loaded.order
    assert order.product.type == "PleiadesArchiveMono"
    assert order.product.options.as_strings() == {
        "spectral_processing": "pansharpened_natural_color",
        "radiometric_processing": "basic",
        "image_format": "dimap_jpeg2000_regular",
        "pixel_coding": "12bits",
        "processing_level": "primary",
        "priority": "standard",
        "licence": "standard",
    }
    assert order.order.contract == "Test_E2E_BR_1392-1375"
    assert order.order.primary_market == "NQUAL"
    assert order.order.secondary_market == ""
    assert order.order.notification_emails == ["john.doe@company.com"]
    assert order.order.delivery.workspace == "1a7aaef1-839e-4eaa-826c-aabee39eac85"
    assert order.order.delivery.platform_id == "PublicMOC"
    assert order.search.constellation == ["PHR"]
    assert order.workspace == "public"
    (aoi,) = loaded.aois
    assert aoi.name == "polygon-1"
    assert aoi.geometry == {"type": "Polygon", "coordinates": [SEED_RING]}
    assert aoi.area_km2 == pytest.approx(17.1, abs=0.1)
    assert aoi.source == "specs/toulouse-pleiades.yaml:10"
    assert spec.notes == [
        "specs/toulouse-pleiades.yaml:10:9: note: orders[0].aois[0]: area 17.1 km² is under the "
        "25 km² archive billing minimum: Airbus bills 25 km²"
    ]


def test_examples_merge_defaults_and_expand_files(in_repo: Path) -> None:
    specs = load_specs([Path("examples")], today=TODAY)
    orders = {o.address: o for o in specs.orders()}
    medoc = orders["garonne-vineyards/medoc"].order
    assert medoc.search.cloud_cover is not None and medoc.search.cloud_cover.max == 10
    assert medoc.order.pairs_per_order == 3
    assert medoc.budget is not None and medoc.budget.amount == Decimal(2500)
    emilion = orders["garonne-vineyards/saint-emilion"].order
    assert emilion.search.cloud_cover is not None and emilion.search.cloud_cover.max == 5
    assert emilion.search.incidence_angle is not None  # the rest of defaults.search stays
    assert emilion.order.notification_emails == ["john.doe@company.com"]  # lists replace
    overview = orders["garonne-vineyards/gironde-overview"].order
    assert overview.product.type == "SPOTArchive1.5Mono"
    assert overview.product.options.spectral_processing == "pansharpened"
    assert overview.product.options.pixel_coding == "8bits"  # through the YAML anchor
    saint_julien = orders["garonne-vineyards/medoc"].aois[2]
    assert saint_julien.projection == "32630"
    ports = orders["marseille-ports/all-sites"]
    assert [aoi.name for aoi in ports.aois] == ["pn-01", "fd-02"]  # Berre: the rush order
    assert [aoi.name for aoi in orders["marseille-ports/berre-refinery-rush"].aois] == ["berre"]
    total = specs.total_budget()
    assert total is not None and total.amount == Decimal(10000)


def test_spec_error_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 2\nname: A\norders: []\n")
    (tmp_path / "b.yaml").write_text("{")
    with pytest.raises(SpecError) as caught:
        load_specs([tmp_path], today=TODAY)
    problems = [line.replace(str(tmp_path), "T") for line in caught.value.problems]
    assert problems == [
        "T/a.yaml:1:1: version: must be 1 (got 2)",
        "T/a.yaml:2:1: name: must be a slug: 1-63 lowercase letters, digits, '-' or '_', "
        "starting with a letter or digit (got 'A')",
        "T/a.yaml:3:1: orders: must have at least 1 item",
        "T/b.yaml:2:1: invalid YAML: while parsing a flow node: did not find expected node content",
    ]
    assert str(caught.value).endswith("4 problems found")


def test_spec_names_are_unique_across_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("one.yaml").write_text(GOOD.format(name="same"))
    Path("two.yaml").write_text(GOOD.format(name="same"))
    report = validate_paths([Path(".")], today=TODAY)
    assert report.problems == ["two.yaml:2:1: name: spec name 'same' is also used by one.yaml"]


def test_binary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("image.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    report = validate_paths([Path("image.yaml")], today=TODAY)
    assert report.problems == ["image.yaml:1:1: not a text file (binary content)"]


def test_huge_file_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open("huge.yaml", "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: refused on its size alone
    report = validate_paths([Path("huge.yaml")], today=TODAY)
    assert report.problems == [
        f"huge.yaml:1:1: file is too large ({MAX_FILE_BYTES + 1} bytes; "
        f"the limit is {MAX_FILE_BYTES})"
    ]


def test_symlinked_aoi_file_escaping_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("secret.geojson").write_text('{"type": "Polygon", "coordinates": []}')
    Path("specs").mkdir()
    os.symlink(tmp_path / "secret.geojson", "specs/inside.geojson")
    Path("specs/s.yaml").write_text(
        GOOD.format(name="s").replace("bbox: [1.40, 43.55, 1.50, 43.65]", "file: inside.geojson")
    )
    report = validate_paths([Path("specs")], today=TODAY)
    assert report.problems == [
        "specs/s.yaml:7:9: orders[0].aois[0].file: 'inside.geojson' is outside the spec root "
        "'specs': AOI files must stay under it"
    ]


def test_file_root_is_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("specs/sub").mkdir(parents=True)
    Path("specs/area.geojson").write_text(
        '{"type": "Polygon", "coordinates": '
        "[[[1.4, 43.55], [1.5, 43.55], [1.5, 43.65], [1.4, 43.55]]]}"
    )
    text = GOOD.format(name="s").replace(
        "bbox: [1.40, 43.55, 1.50, 43.65]", "file: ../area.geojson"
    )
    Path("specs/sub/s.yaml").write_text(text)
    assert validate_paths([Path("specs")], today=TODAY).ok  # root: specs/
    report = validate_paths([Path("specs/sub/s.yaml")], today=TODAY)  # root: specs/sub/
    assert report.problems == [
        "specs/sub/s.yaml:7:9: orders[0].aois[0].file: '../area.geojson' is outside the spec root "
        "'specs/sub': AOI files must stay under it"
    ]


def test_missing_path_and_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("empty").mkdir()
    report = validate_paths([Path("nope"), Path("empty")], today=TODAY)
    assert report.problems == [
        "empty:1:1: no spec files (*.yaml, *.yml) found",
        "nope:1:1: no such file or directory",
    ]


def test_hidden_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yml").write_text("on: push\n")
    (tmp_path / "s.yml").write_text(GOOD.format(name="s"))
    assert [spec.path.name for spec in load_specs([tmp_path], today=TODAY).files] == ["s.yml"]


def test_unknown_option_is_a_warning(tmp_path: Path) -> None:
    text = GOOD.format(name="s").replace(
        "{type: PleiadesArchiveMono}", "{type: PleiadesArchiveMono, options: {pixel_codng: 12bits}}"
    )
    (tmp_path / "s.yaml").write_text(text)
    specs = load_specs([tmp_path], today=TODAY)
    assert [w.split(": ", 1)[1] for w in specs.warnings] == [
        "warning: orders[0].product.options.pixel_codng: unknown option 'pixel_codng' is sent to "
        "Airbus as is; did you mean 'pixel_coding'?"
    ]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_arbitrary_input_never_escapes_as_another_exception(
    tmp_path: Path, content: bytes | str
) -> None:
    path = tmp_path / "fuzz.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with contextlib.suppress(SpecError):
        load_specs([path], today=TODAY)


YAMLISH = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["PHR", "2022-01-01", "2000 EUR", "NQUAL", "Polygon", "8bits"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "name",
                    "orders",
                    "aois",
                    "bbox",
                    "geometry",
                    "type",
                    "coordinates",
                    "search",
                    "product",
                    "order",
                    "options",
                    "defaults",
                    "budget",
                    "file",
                    "wkt",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=30,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=YAMLISH)
def test_arbitrary_structures_never_escape(tmp_path: Path, document: object) -> None:
    from oneatlas_plan._yaml import dump

    path = tmp_path / "fuzz.yaml"
    path.write_text(dump(document), encoding="utf-8")
    with contextlib.suppress(SpecError):
        load_specs([path], today=TODAY)
