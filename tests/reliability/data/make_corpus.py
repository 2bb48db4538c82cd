"""Regenerate the committed hostile-input corpus: ``python tests/reliability/data/make_corpus.py``.

specs/*.yaml: spec kinds missing from tests/spec/data/broken; plans/*.json and states/*.json:
broken plan and state files. Large and environment-dependent cases (50 MB files, 10,000
vertices, symlinks, FIFOs, truncations and re-checksummed edits of real files) are made at
test time by test_hostile_input.py instead.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

SPEC = """version: 1
name: hostile
orders:
  - name: o
    aois:
      - name: a
        {aoi}
    search:
      constellation: [PHR]
      acquired: {{from: 2022-01-01, to: 2022-12-31}}
      cloud_cover: {{max: {cloud}}}
    product:
      type: PleiadesArchiveMono
      options:
        radiometric_processing: basic
        pixel_coding: 12bits
        processing_level: primary
    order:
      contract: Test_E2E_BR_1392-1375
      primary_market: NQUAL
      notification_emails: [john.doe@company.com]
"""


def reference(template: str) -> str:
    return spec().replace(
        "      primary_market: NQUAL\n",
        f'      primary_market: NQUAL\n      customer_reference: "{template}"\n',
    )


def poly(ring: str) -> str:
    return "geometry: {type: Polygon, coordinates: [" + ring + "]}"


def spec(aoi: str = "bbox: [1.40, 43.55, 1.50, 43.65]", cloud: str = "20") -> str:
    return SPEC.format(aoi=aoi, cloud=cloud)


SPECS: dict[str, str | bytes] = {
    # geometry: invalid, degenerate, extreme
    "lat-out-of-range": spec("bbox: [1.40, 89.5, 1.50, 91.0]"),
    "lon-out-of-range": spec("bbox: [179.5, 43.55, 181.5, 43.65]"),
    "bbox-zero-width": spec("bbox: [1.40, 43.55, 1.40, 43.65]"),
    "bbox-point": spec("bbox: [1.40, 43.55, 1.40, 43.55]"),
    "bbox-inf": spec("bbox: [1.40, 43.55, .inf, 43.65]"),
    "bbox-nan": spec("bbox: [.nan, 43.55, 1.50, 43.65]"),
    "bbox-strings": spec('bbox: ["1.40", "43.55", "1.50", "43.65"]'),
    "bbox-bools": spec("bbox: [true, false, true, false]"),
    "bbox-huge-int": spec("bbox: [1" + "0" * 400 + ", 43.55, 1.50, 43.65]"),
    "collinear-ring": spec(poly("[[1.4, 43.5], [1.5, 43.6], [1.6, 43.7], [1.4, 43.5]]")),
    "repeated-points": spec(poly("[[1.4, 43.5], [1.4, 43.5], [1.4, 43.5], [1.4, 43.5]]")),
    "empty-coordinates": spec("geometry: {type: Polygon, coordinates: []}"),
    "empty-ring": spec("geometry: {type: Polygon, coordinates: [[]]}"),
    "three-d-coordinates": spec(
        poly("[[1.4, 43.5, 1, 2], [1.5, 43.5], [1.5, 43.6], [1.4, 43.6], [1.4, 43.5]]")
    ),
    "coordinates-strings": spec(poly('[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]')),
    "coordinates-one-number": spec(poly("[[1.4], [1.5], [1.6], [1.4]]")),
    "geometry-collection": spec("geometry: {type: GeometryCollection, geometries: []}"),
    "geometry-string": spec("geometry: POLYGON"),
    "geometry-type-missing": spec("geometry: {coordinates: [[[1, 2], [2, 3], [3, 1], [1, 2]]]}"),
    "polar-north": spec(poly("[[-180, 85], [-60, 85], [60, 85], [180, 85], [-180, 85]]")),
    "polar-cap-bbox": spec("bbox: [-180, 80, 180, 90]"),
    "polar-south": spec("bbox: [10, -90, 20, -85]"),
    "antimeridian-wide": spec("bbox: [-179.9, 10.0, 179.9, 10.1]"),
    "whole-world": spec("bbox: [-180, -90, 180, 90]"),
    "wkt-garbage": spec("wkt: 'POLYGON ((1 2, 3'"),
    "wkt-empty": spec("wkt: 'POLYGON EMPTY'"),
    "wkt-huge-number": spec("wkt: 'POLYGON ((1e308 1e308, 2 2, 3 1, 1e308 1e308))'"),
    "wkt-nan": spec("wkt: 'POLYGON ((nan 1, 2 2, 3 1, nan 1))'"),
    "aoi-is-string": spec()
    .replace("      - name: a\n", "      - a\n")
    .replace("        bbox: [1.40, 43.55, 1.50, 43.65]\n", ""),
    "aois-is-mapping": spec().replace("    aois:\n      - name: a\n", "    aois:\n      a:\n"),
    # wrong types and values
    "cloud-cover-nan": spec(cloud=".nan"),
    "cloud-cover-inf": spec(cloud=".inf"),
    "cloud-cover-huge": spec(cloud="1" + "0" * 5000),
    "cloud-cover-list": spec(cloud="[1, 2]"),
    "cloud-cover-null": spec(cloud="null"),
    "orders-mapping": "version: 1\nname: hostile\norders: {o: {name: o}}\n",
    "orders-string": "version: 1\nname: hostile\norders: everything\n",
    "version-float": spec().replace("version: 1", "version: 1.0"),
    "version-huge": spec().replace("version: 1", "version: 99999999999999999999999"),
    "name-control-chars": spec().replace("name: hostile", 'name: "hos\\x07tile\\u202e"'),
    "name-very-long": spec().replace("name: hostile", "name: " + "h" * 20_000),
    "name-int": spec().replace("name: hostile", "name: 12"),
    "unknown-order-key": spec().replace("    search:\n", "    serach: {}\n    search:\n"),
    "unknown-product-key": spec().replace(
        "      options:\n", "      optoins: {}\n      options:\n"
    ),
    "budget-huge": spec() + "    budget: 1e99999999 EUR\n",
    "budget-negative": spec() + "    budget: -5 EUR\n",
    "budget-object-huge": spec() + '    budget: {amount: "1e999999999", currency: EUR}\n',
    # YAML-level
    "yaml-tabs": spec().replace("  - name: o", "\t- name: o"),
    "yaml-unclosed-quote": spec().replace("name: hostile", 'name: "hostile'),
    "yaml-unclosed-flow": spec().replace("[PHR]", "[PHR"),
    "yaml-binary-tag": spec().replace("name: hostile", "name: !!binary aGVsbG8="),
    "yaml-set-tag": spec().replace("name: hostile", "name: !!set {a, b}"),
    "yaml-custom-tag": spec().replace("name: hostile", "name: !secret hostile"),
    "yaml-merge-scalar": "version: 1\nname: hostile\norders:\n  - <<: 5\n    name: o\n",
    "yaml-merge-list-of-scalars": "version: 1\nname: hostile\norders:\n  - <<: [1, 2]\n",
    "yaml-anchor-undefined": "version: 1\nname: *nothing\norders: []\n",
    "yaml-key-is-list": "version: 1\n[a, b]: 1\nname: hostile\norders: []\n",
    "yaml-key-is-null": "version: 1\n~: 1\nname: hostile\norders: []\n",
    "yaml-directive-only": "%YAML 1.1\n---\n",
    "yaml-document-end-only": "...\n",
    "yaml-timestamp-name": spec().replace("name: hostile", "name: 2001-12-14t21:59:43.10-05:00"),
    "yaml-bad-date": spec().replace("from: 2022-01-01", "from: 2022-02-30"),
    "yaml-cr-only": spec().replace("\n", "\r"),
    "utf16": spec().encode("utf-16"),
    "binary-png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "binary-nul-in-comment": spec().encode() + b"# \x00\n",
    "invalid-utf8": spec().encode().replace(b"hostile", b"host\xffile"),
    "bom-then-garbage": b"\xef\xbb\xbf\xef\xbb\xbf: :\n",
    # customer_reference templates that crashed `plan` or wrote a 200 MB plan
    "reference-format-d": reference("{spec:d}"),
    "reference-huge-width": reference("{spec:>99999999999999999999}"),
    "reference-nul-format": reference('{aoi:\\x00}'),
    "reference-100m-fill": reference("{spec:x>100000000}"),
    "reference-conversion": reference("{spec!r}"),
    "reference-nested-field": reference("{spec:{order}}"),
    "reference-too-long": reference("r" * 300),
    # planned for over 10 minutes
    "scenes-per-aoi-million": spec().replace(
        "    product:\n", "    selection: {scenes_per_aoi: 1000000}\n    product:\n"
    ),
    "merge-alias-fanout": (
        "a: &a [" + ", ".join(["x"] * 500) + "]\n"
        "b: &b [" + ", ".join(["*a"] * 500) + "]\n"
        "version: 1\nname: hostile\norders: *b\n"
    ),
}

VALID_LINEAGE = "0f6f5d4e-3c2b-4a19-8877-665544332211"


def state(resources: object = None, **top: object) -> str:
    data = {"version": 2, "lineage": VALID_LINEAGE, "serial": 3, "resources": resources or {}}
    data.update(top)
    return json.dumps(data, indent=2)


def record(**order: object) -> dict[str, object]:
    base: dict[str, object] = {
        "order_key": "oap-0123456789ab",
        "customer_reference": "s/o/a~oap-0123456789ab",
        "body_digest": "0" * 64,
        "status": "ordered",
    }
    base.update(order)
    return {"s.o.a": {"address": "s.o.a", "config_digest": "d" * 64, "orders": [base]}}


STATES: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": "   \n\t\n",
    "null": "null",
    "list": "[]",
    "number": "42",
    "string": '"state"',
    "truncated-object": state()[:40],
    "trailing-garbage": state() + "}}",
    "binary": bytes(range(256)),
    "latin1": state().replace("resources", "ressources\u00e9").encode("latin-1"),
    "nul-bytes": state().encode() + b"\x00\x00",
    "deep-nesting": "[" * 5_000,
    "deep-nesting-inside": '{"version": 2, "resources": ' + "[" * 5_000,
    "version-missing": json.dumps({"lineage": VALID_LINEAGE, "serial": 1, "resources": {}}),
    "version-future": state(version=99),
    "version-string": state(version="2"),
    "version-negative": state(version=-1),
    "version-zero": state(version=0),
    "lineage-missing": json.dumps({"version": 2, "serial": 1, "resources": {}}),
    "lineage-int": state(lineage=7),
    "serial-negative": state(serial=-1),
    "serial-float": state(serial=1.5),
    "serial-huge": state().replace('"serial": 3', '"serial": 1' + "0" * 5000),
    "resources-list": state(resources=[1, 2]),
    "resources-string": state(resources="all"),
    "unknown-top-key": state(extra=True),
    "record-wrong-address": state(
        {"x.y.z": {"address": "s.o.a", "config_digest": "d", "orders": []}}
    ),
    "record-not-object": state({"s.o.a": 5}),
    "order-status-unknown": state(record(status="MAYBE")),
    "order-amount-nan": state(record(amount="NaN", currency="EUR")),
    "order-amount-infinity": '{"version": 2, "lineage": "x", "serial": 0, "resources": '
    + json.dumps(record(currency="EUR"))[:-3]
    + ', "amount": Infinity}]}}}',
    "order-amount-huge": state(record(amount="1e999999999", currency="EUR")),
    "order-amount-object": state(record(amount={"value": 1})),
    "order-time-invalid": state(record(submitted_at="yesterday")),
    "order-unknown-key": state(record(api_key="x")),
    "orders-not-list": state({"s.o.a": {"address": "s.o.a", "config_digest": "d", "orders": {}}}),
    "v1-missing-keys": json.dumps(
        {"version": 1, "lineage": VALID_LINEAGE, "serial": 1, "orders": [{"address": "a"}]}
    ),
    "v1-orders-not-objects": json.dumps(
        {"version": 1, "lineage": VALID_LINEAGE, "serial": 1, "orders": [1, "x", None]}
    ),
    "v1-bad-state": json.dumps(
        {
            "version": 1,
            "lineage": VALID_LINEAGE,
            "serial": 1,
            "orders": [{"address": "a", "state": "DONE"}],
        }
    ),
    "v1-price-list": json.dumps(
        {
            "version": 1,
            "lineage": VALID_LINEAGE,
            "serial": 1,
            "orders": [
                {
                    "address": "a",
                    "config_digest": "d",
                    "order_key": "k",
                    "customer_reference": "c",
                    "body_digest": "b",
                    "state": "CONFIRMED",
                    "price": [1, 2],
                }
            ],
        }
    ),
    "duplicate-keys": '{"version": 2, "version": 2, "lineage": "'
    + VALID_LINEAGE
    + '", "serial": 0, "resources": {}, "resources": 5}',
    "utf16": state().encode("utf-16"),
}

PLAN_BASE = {
    "format_version": 2,
    "endpoint": "sandbox",
    "spec_files": {},
    "state": {"lineage": None, "serial": 0},
    "resources": [],
    "orders": [],
    "totals": {},
    "budgets": [],
    "checksum": "0" * 64,
    "meta": {},
}


def plan(**changes: object) -> str:
    return json.dumps({**PLAN_BASE, **changes}, indent=2)


PLANS: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": " \n",
    "null": "null",
    "list": "[]",
    "number": "1",
    "truncated": plan()[:50],
    "binary": bytes(range(256)) * 8,
    "nul-bytes": b"{\x00}",
    "latin1": plan(endpoint="sandb\u00f6x").encode("latin-1"),
    "utf16": plan().encode("utf-16"),
    "bom": b"\xef\xbb\xbf" + plan().encode(),
    "yaml-not-json": "format_version: 1\nendpoint: sandbox\n",
    "deep-nesting": "[" * 5_000,
    "deep-nesting-inside": '{"format_version": 2, "orders": ' + "[" * 5_000,
    "format-version-missing": json.dumps(
        {k: v for k, v in PLAN_BASE.items() if k != "format_version"}
    ),
    "format-version-future": plan(format_version=3),
    "format-version-string": plan(format_version="2"),
    "format-version-nan": plan().replace('"format_version": 2', '"format_version": NaN'),
    "format-version-huge": plan().replace(
        '"format_version": 2', '"format_version": 2' + "0" * 5000
    ),
    "checksum-wrong": plan(),
    "checksum-missing": json.dumps({k: v for k, v in PLAN_BASE.items() if k != "checksum"}),
    "resources-not-list": plan(resources={"a": 1}),
    "orders-not-list": plan(orders="all"),
    "order-not-object": plan(orders=[1]),
    "resource-missing-fields": plan(resources=[{"address": "a"}]),
    "resource-bad-action": plan(resources=[{"address": "a", "action": "destroy"}]),
    "totals-not-decimal": plan(totals={"EUR": "lots"}),
    "totals-huge": plan(totals={"EUR": "1e999999999"}),
    "unknown-top-key": plan(extra=1),
    "state-serial-string": plan(state={"lineage": None, "serial": "zero"}),
    "endpoint-null": plan(endpoint=None),
    "duplicate-keys": '{"format_version": 2, "format_version": 3}',
}


def write(directory: str, suffix: str, cases: dict[str, str | bytes]) -> None:
    target = HERE / directory
    target.mkdir(exist_ok=True)
    for old in target.glob(f"*{suffix}"):
        old.unlink()
    for name, content in cases.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (target / f"{name}{suffix}").write_bytes(data)


if __name__ == "__main__":
    write("specs", ".yaml", SPECS)
    write("states", ".json", STATES)
    write("plans", ".json", PLANS)
    print(f"{len(SPECS)} specs, {len(STATES)} states, {len(PLANS)} plans")
