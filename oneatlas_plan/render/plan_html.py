"""Plan -> one self-contained HTML report (pure): a map, a sortable table, totals, budgets.

Everything the page needs is inside the file: Leaflet (vendored from the npm package, with its
licence, under ``render/vendor/leaflet``) and the plan's data are inlined, and a Content
Security Policy forbids any fetch but images (quicklooks) so that opening the report sends
nothing anywhere. The map has no tile basemap for the same reason: AOIs, chosen footprints and
(toggled) alternatives are drawn on a plain background with a graticule.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources
from typing import Any

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan, SceneSummary
from oneatlas_plan.render.money import format_money
from oneatlas_plan.render.plan_geojson import ACTION_COLOURS
from oneatlas_plan.render.plan_text import (
    budget_descriptions,
    coverage_text,
    format_totals,
    is_quotation,
    per_km2_text,
    price_text,
    requested_km2,
    short_scene_id,
    summary_line,
)

_VENDOR = "render/vendor/leaflet"
CSP = (
    "default-src 'none'; img-src data: https:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'"
)


def _vendor_text(name: str) -> str:
    return (resources.files("oneatlas_plan") / _VENDOR / name).read_text(encoding="utf-8")


def _leaflet_css() -> str:
    def inline(match: re.Match[str]) -> str:
        raw = (resources.files("oneatlas_plan") / _VENDOR / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(raw).decode('ascii')})"

    css = re.sub(r"url\((images/layers(?:-2x)?\.png)\)", inline, _vendor_text("leaflet.css"))
    # Marker images are never used (no L.Marker): drop their references rather than ship them.
    return re.sub(r"url\(images/[^)]*\)", "none", css)


def _leaflet_js() -> str:
    return re.sub(r"//# sourceMappingURL=\S+\s*$", "", _vendor_text("leaflet.js"))


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _scene_data(scene: SceneSummary) -> dict[str, Any]:
    return {
        "scene": scene.archive_identifier,
        "platform": scene.platform,
        "date": scene.acquisition_date[:10],
        "cloud": scene.cloud_cover,
        "incidence": scene.incidence_angle,
        "coverage": coverage_text(scene.coverage),
        "footprint": scene.footprint,
        "quicklook": getattr(scene, "quicklook", None),
    }


def _map_data(plan: Plan) -> dict[str, Any]:
    aois, footprints, alternatives = [], [], []
    for resource in plan.resources:
        if resource.aoi_geometry is not None:
            aois.append(
                {"address": resource.address, "action": resource.action,
                 "geometry": resource.aoi_geometry}
            )  # fmt: skip
        for scene in resource.scenes:
            footprints.append(
                {"address": resource.address, "action": resource.action, **_scene_data(scene)}
            )
        for alternative in resource.alternatives:
            alternatives.append(
                {"address": resource.address, "why": alternative.why, **_scene_data(alternative)}
            )
    return {
        "aois": aois,
        "footprints": footprints,
        "alternatives": alternatives,
        "colours": ACTION_COLOURS,
    }


def _cell(
    text: str, sort: str | float | None = None, cls: str = "", group: str | None = None
) -> str:
    """``sort``: the number the column sorts by; ``group`` (a currency): sorted first, so that
    amounts in different currencies are never ranked against each other."""
    key = "" if sort is None else f' data-sort="{html.escape(str(sort))}"'
    key += "" if group is None else f' data-group="{html.escape(group)}"'
    klass = f' class="{cls}"' if cls else ""
    return f"<td{key}{klass}>{html.escape(text)}</td>"


def _scene_cell(scene: SceneSummary | None) -> str:
    if scene is None:
        return _cell("-")
    full = html.escape(scene.archive_identifier)
    return f'<td class="mono" title="{full}">{html.escape(short_scene_id(full))}</td>'


def _row(resource: ResourcePlan, order: OrderPlan | None) -> str:
    scene = resource.scenes[0] if resource.scenes else None
    requested = requested_km2(resource)
    price = order.price if order is not None else None
    first = order is None or not order.addresses or order.addresses[0] == resource.address
    shared = order is not None and len(order.addresses) > 1
    cells = [
        _cell(resource.action, cls=f"action {resource.action}"),
        _cell(resource.address),
        _cell(scene.platform if scene else "-"),
        _cell(scene.acquisition_date[:10] if scene else "-"),
        _scene_cell(scene),
        _cell("-" if scene is None or scene.cloud_cover is None else f"{scene.cloud_cover:.1f} %",
              -1 if scene is None or scene.cloud_cover is None else scene.cloud_cover, "num"),
        _cell("-" if scene is None or scene.incidence_angle is None
              else f"{scene.incidence_angle:.1f}°",
              -1 if scene is None or scene.incidence_angle is None else scene.incidence_angle,
              "num"),
        _cell(coverage_text(resource.coverage) if scene else "-", resource.coverage or 0, "num"),
        _cell("-" if requested is None or scene is None else f"{requested:,.2f}",
              requested or 0, "num"),
    ]  # fmt: skip
    if price is not None and order is not None and first:
        billable = f"{price.billable_area_km2:,.2f}" + ("*" if price.minimum_applied else "")
        label = price_text(order) + (f" (order of {len(order.addresses)})" if shared else "")
        cells += [
            _cell(billable, price.billable_area_km2, "num"),
            _cell(label, float(price.amount), "num", price.currency),
            _cell(per_km2_text(order), float(price.amount) / max(price.billable_area_km2, 1e-9),
                  "num", price.currency),
        ]  # fmt: skip
    elif price is not None and order is not None:
        cells += [_cell("(same order)", 0, "num")] * 3
    elif order is not None:  # a double purchase, or refused by Airbus: the reason says which
        cells += [_cell("-", 0, "num"), _cell("not priced", 0, "num"), _cell("-", 0, "num")]
    else:
        cells += [_cell("-", 0, "num")] * 3
    reason = html.escape(resource.reason)
    return (
        f'<tr data-address="{html.escape(resource.address)}" title="{reason}">'
        + "".join(cells)
        + "</tr>"
    )


_HEADERS = (
    "action", "address", "platform", "date", "scene", "cloud", "incidence", "cover",
    "requested km²", "billable km²", "price", "per km²",
)  # fmt: skip


def _table(plan: Plan) -> str:
    orders = {o.key: o for o in plan.orders}
    rows = [
        _row(r, orders.get(r.order_key or ""))
        for r in plan.resources
        if r.action != "no-op"
    ]
    head = "".join(f'<th data-column="{i}">{html.escape(h)}</th>' for i, h in enumerate(_HEADERS))
    if not rows:
        return "<p>No changes. Every resource matches the state.</p>"
    return (
        f'<table id="orders"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


_BUDGET_HEADERS = ("BUDGET", "LIMIT", "SPENT BEFORE", "THIS PLAN", "LEFT", "")
_SCOPES = {"total": "total", "spec": "spec {}", "order": "spec order {}"}


def _budgets(plan: Plan) -> str:
    """One row per budget (per-Airbus-order budgets are summarised in the list above)."""
    rows = []
    for check in plan.budgets:
        if check.scope == "airbus_order":
            continue
        label = _SCOPES[check.scope].format(check.name)
        if check.per:
            label += f" (per {check.per} from {check.window_start})"
        left = (
            format_money(check.left, check.currency)
            if check.left >= 0
            else f"{format_money(-check.left, check.currency)} over"
        )
        cells = [
            format_money(check.limit, check.currency),
            format_money(check.spent_before, check.currency),
            format_money(check.planned, check.currency),
            left,
        ]
        state = "ok" if check.ok else "EXCEEDED: orders blocked"
        rows.append(
            f'<tr class="{"ok" if check.ok else "over"}"><td>{html.escape(label)}</td>'
            + "".join(f'<td class="num">{html.escape(c)}</td>' for c in cells)
            + f"<td>{state}</td></tr>"
        )
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _BUDGET_HEADERS)
    return (
        f'<table id="budgets"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _summary(plan: Plan) -> str:
    items = [f"<li>Total to spend: <strong>{html.escape(format_totals(plan.totals))}</strong></li>"]
    items += [
        f"<li>Budget {html.escape(line)}</li>"
        for line in budget_descriptions(plan)
        if line.startswith(("per-Airbus-order", "order "))  # the others: the budgets table
    ]
    items.append(f"<li>Endpoint <code>{html.escape(plan.endpoint)}</code>; contracts "
                 f"{html.escape(', '.join(plan.contracts) or '-')}</li>")  # fmt: skip
    blocked = [r for r in plan.resources if r.action == "blocked"]
    if blocked:
        items.append(f"<li>Blocked ({len(blocked)}), nothing is ordered for them:<ul>"
                     + "".join(f"<li><code>{html.escape(r.address)}</code>: "
                               f"{html.escape(r.reason)}</li>" for r in blocked)
                     + "</ul></li>")  # fmt: skip
    if any(is_quotation(o) for o in plan.orders):
        items.append("<li>quote: Pléiades Neo orders are quotations; nothing is bought until "
                     "the quotation is accepted.</li>")  # fmt: skip
    return f"<ul id=\"summary\">{''.join(items)}</ul>"


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #1b1f24; }
h1 { font-size: 20px; margin: 0 0 8px; }
#map { height: 460px; border: 1px solid #ccd; background: #eef3f7; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #dde; padding: 3px 6px; text-align: left; white-space: nowrap; }
th { cursor: pointer; background: #f3f5f8; position: sticky; top: 0; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#budgets { width: auto; margin: 8px 0; }
#budgets tr.over td { color: #b42318; }
td.mono { font-family: ui-monospace, monospace; }
tr { cursor: pointer; } tr.selected { background: #fff3c4; }
.action.create { color: #1a9850; } .action.reorder { color: #e66101; }
.action.blocked { color: #d7191c; } .action.forget { color: #7b3294; }
.quicklook { max-width: 240px; display: block; margin-top: 4px; }
.grid-label { color: #667; font-size: 10px; white-space: nowrap; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("plan-data").textContent);
  var map = L.map("map", {zoomSnap: 0.25, attributionControl: false});
  L.control.scale({imperial: false}).addTo(map);
  var aois = L.featureGroup(), chosen = L.featureGroup(), alternatives = L.featureGroup();
  var report = {aoiLayers: {}, footprintLayers: {}, alternativeLayers: [], highlighted: null};
  window.oneatlasReport = report;
  function text(value) { return value === null || value === undefined ? "-" : String(value); }
  function popup(item, title) {
    var box = document.createElement("div");
    var lines = [title, item.platform + " " + item.date, item.scene,
                 "cloud " + text(item.cloud) + " %, incidence " + text(item.incidence) + "°",
                 "covers " + item.coverage + " of the AOI"];
    if (item.why) { lines.push("not chosen: " + item.why); }
    lines.forEach(function (line) {
      var row = document.createElement("div"); row.textContent = line; box.appendChild(row);
    });
    if (item.quicklook) {
      var img = document.createElement("img");
      img.className = "quicklook"; img.alt = "quicklook"; img.src = item.quicklook;
      box.appendChild(img);
    }
    return box;
  }
  data.aois.forEach(function (aoi) {
    var layer = L.geoJSON(aoi.geometry, {style: {color: "#2c7bb6", weight: 2, dashArray: "4 3",
                                                 fillOpacity: 0.15}});
    layer.bindTooltip(aoi.address + " (" + aoi.action + ")");
    layer.addTo(aois);
    report.aoiLayers[aoi.address] = layer;
  });
  data.footprints.forEach(function (item) {
    var colour = data.colours[item.action] || "#555";
    var layer = L.geoJSON(item.footprint, {style: {color: colour, weight: 2, fillOpacity: 0.08}});
    layer.bindPopup(popup(item, item.address));
    layer.addTo(chosen);
    (report.footprintLayers[item.address] = report.footprintLayers[item.address] || [])
      .push(layer);
  });
  data.alternatives.forEach(function (item) {
    var layer = L.geoJSON(item.footprint, {style: {color: "#777", weight: 1, dashArray: "2 4",
                                                   fillOpacity: 0}});
    layer.bindPopup(popup(item, "alternative for " + item.address));
    layer.addTo(alternatives);
    report.alternativeLayers.push(layer);
  });
  aois.addTo(map); chosen.addTo(map);
  L.control.layers(null, {"AOIs": aois, "chosen footprints": chosen,
                          "alternatives": alternatives}, {collapsed: false}).addTo(map);
  var all = L.featureGroup([aois, chosen]);
  if (all.getLayers().length && all.getBounds().isValid()) {
    map.fitBounds(all.getBounds(), {padding: [20, 20]});
  } else { map.setView([20, 0], 2); }
  // A graticule (no tiles: nothing is fetched): lines every step degrees, labelled.
  var grid = L.layerGroup().addTo(map);
  function drawGrid() {
    grid.clearLayers();
    var b = map.getBounds(), span = Math.max(b.getEast() - b.getWest(), 1e-6);
    var steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30];
    var step = steps.find(function (s) { return span / s <= 8; }) || 30;
    var digits = step < 0.1 ? 2 : step < 1 ? 1 : 0;
    function add(points, label, at) {
      L.polyline(points, {color: "#99a", weight: 0.5, interactive: false}).addTo(grid);
      L.tooltip({permanent: true, direction: "center", className: "grid-label",
                 interactive: false}).setLatLng(at).setContent(label).addTo(grid);
    }
    for (var x = Math.ceil(b.getWest() / step) * step; x < b.getEast(); x += step) {
      add([[b.getSouth(), x], [b.getNorth(), x]], x.toFixed(digits) + "°",
          [b.getSouth() + (b.getNorth() - b.getSouth()) * 0.03, x]);
    }
    for (var y = Math.ceil(b.getSouth() / step) * step; y < b.getNorth(); y += step) {
      add([[y, b.getWest()], [y, b.getEast()]], y.toFixed(digits) + "°",
          [y, b.getWest() + (b.getEast() - b.getWest()) * 0.03]);
    }
  }
  map.on("moveend", drawGrid); drawGrid();
  function highlight(address) {
    Object.keys(report.footprintLayers).forEach(function (key) {
      report.footprintLayers[key].forEach(function (layer) {
        if (key === address) {
          layer.setStyle({weight: 5, color: "#f5a400"}); layer.bringToFront();
        } else { layer.resetStyle(); }
      });
    });
    document.querySelectorAll("#orders tbody tr").forEach(function (row) {
      row.classList.toggle("selected", row.dataset.address === address);
    });
    report.highlighted = address;
    var target = report.footprintLayers[address] || [report.aoiLayers[address]];
    var group = L.featureGroup(target.filter(Boolean));
    if (group.getLayers().length) { map.fitBounds(group.getBounds(), {padding: [30, 30]}); }
  }
  report.highlight = highlight;
  document.querySelectorAll("#orders tbody tr").forEach(function (row) {
    row.addEventListener("click", function () { highlight(row.dataset.address); });
  });
  document.querySelectorAll("#orders th").forEach(function (th) {
    th.addEventListener("click", function () {
      var column = Number(th.dataset.column), body = th.closest("table").tBodies[0];
      var asc = !th.classList.contains("sorted-asc");
      document.querySelectorAll("#orders th").forEach(function (other) {
        other.classList.remove("sorted-asc", "sorted-desc");
      });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      var rows = Array.prototype.slice.call(body.rows);
      function key(cell) {  // currency first: amounts of different currencies never mix
        var value = cell.dataset.sort !== undefined ? Number(cell.dataset.sort) : cell.textContent;
        return [cell.dataset.group || "", value];
      }
      function compare(x, y) { return x < y ? -1 : x > y ? 1 : 0; }
      rows.sort(function (a, b) {
        var kx = key(a.cells[column]), ky = key(b.cells[column]);
        var order = compare(kx[0], ky[0]) || compare(kx[1], ky[1]);
        return asc ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
"""


def render_plan_html(plan: Plan) -> str:
    """The report: deterministic for a plan (no timestamp), no external reference."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>oneatlas-plan report</title>",
            f"<style>{_leaflet_css()}</style>",
            f"<style>{_STYLE}</style>",
            "</head><body>",
            "<h1>oneatlas-plan report</h1>",
            f"<p><strong>{html.escape(summary_line(plan))}</strong></p>",
            _summary(plan),
            _budgets(plan),
            '<div id="map"></div>',
            _table(plan),
            "<p><small>* billed at the product's minimum order area. Map: Leaflet "
            "(BSD-2-Clause), drawn without a basemap.</small></p>",
            f'<script type="application/json" id="plan-data">{_script_json(_map_data(plan))}'
            "</script>",
            f"<script>{_leaflet_js()}</script>",
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
