"""The config and field digests are built from pre-encoded parts; they must stay the digests of
the material itself (what the state records): an accidental change would show every applied
resource as edited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan import _canonical
from oneatlas_plan.planning.from_spec import SERVICE_OPTIONS, config_digest, field_digests
from oneatlas_plan.spec.loader import LoadedOrder, load_specs

REPO = Path(__file__).resolve().parents[2]
UNICODE = """version: 1
name: unicode
orders:
  - name: o
    aois:
      - name: a
        bbox: [1.40, 43.55, 1.50, 43.65]
        projection: "2154"
    product:
      type: PleiadesArchiveMono
      options: {processing_level: ortho, dem: SRTMV4, licence: "Licence é ✓ \\"q\\""}
    order:
      contract: C
      primary_market: NQUAL
      customer_reference: "Réf. ☃ {aoi}"
    accept_quotations_up_to: 1234.50 EUR
"""


def reference_digests(order: LoadedOrder, aoi: Any, index: int) -> tuple[str, dict[str, str]]:
    """The digests as defined: sha256 of the compact canonical JSON of the material."""
    spec = order.order
    projection = aoi.projection or spec.product.options.projection
    dem = aoi.dem or spec.product.options.dem
    search = spec.search.model_dump(mode="json", by_alias=True)
    metadata = spec.order.model_dump(mode="json", exclude={"pairs_per_order"})
    config = {
        "aoi": aoi.geometry,
        "search": search,
        "workspace": spec.workspace,
        "constellations": spec.constellations,
        "selection": spec.selection.model_dump(mode="json"),
        "product": spec.product.model_dump(mode="json"),
        "projection": projection,
        "dem": dem,
        "order": metadata,
        "index": index,
    }
    classes = {
        "product": {
            "product": spec.product.model_dump(mode="json"),
            "projection": projection,
            "dem": dem,
        },
        "image": {
            "type": spec.product.type,
            "options": spec.product.options.model_dump(
                mode="json", exclude=SERVICE_OPTIONS, exclude_none=True
            ),
            "projection": projection,
            "dem": dem,
        },
        "scenes": {"scenes_per_aoi": spec.selection.scenes_per_aoi, "index": index},
        "geometry": aoi.geometry,
        "criteria": {
            "search": search,
            "workspace": spec.workspace,
            "constellations": spec.constellations,
            "selection": spec.selection.model_dump(mode="json", exclude={"scenes_per_aoi"}),
        },
        "metadata": metadata,
    }
    return "sha256:" + _canonical.digest(config), {
        name: "sha256:" + _canonical.digest(value) for name, value in classes.items()
    }


@pytest.mark.parametrize("where", ["specs", "examples", "unicode"])
def test_digests_are_those_of_the_material(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "unicode":
        (tmp_path / "unicode.yaml").write_text(UNICODE, encoding="utf-8")
        paths = [tmp_path]
    else:
        monkeypatch.chdir(REPO)
        paths = [Path(where)]
    checked = 0
    for order in load_specs(paths).orders():
        for aoi in order.aois:
            for index in (0, 3):
                projection = aoi.projection or order.order.product.options.projection
                dem = aoi.dem or order.order.product.options.dem
                expected = reference_digests(order, aoi, index)
                assert config_digest(order, aoi, index, projection, dem) == expected[0]
                assert field_digests(order, aoi, index, projection, dem) == expected[1]
                checked += 1
    assert checked >= 2
