"""Simulated production: delivered ORTHO items in the contract's private workspace, and the
product ZIP (DIMAP-like ``DIM_*.XML`` plus a small image) served by ``…/items/{id}/download``."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from shapely.geometry import mapping

from .features import derived_uuid, iso, links
from .validation import Line
from .world import Contract, Workspace

BUNDLES = ("bundle", "full_bundle")
PARTS = 2  # files of a product delivered in parts


def work_order(sales_order_id: str, line_no: int) -> str:
    digits = int(hashlib.sha256(sales_order_id.encode()).hexdigest()[:8], 16) % 10**9
    return f"WO_{digits:09d}_{line_no}"


def zip_name(sales_order_id: str, line_no: int, source_identifier: str) -> str:
    return (
        f"{work_order(sales_order_id, line_no)}_{sales_order_id}-{line_no}_{source_identifier}.zip"
    )


def delivered_feature(
    *,
    contract: Contract,
    line: Line,
    line_no: int,
    sales_order_id: str,
    customer_reference: str,
    source: dict[str, Any],
    produced_at: float,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """The delivered item (without links; links are added per request with the base URL), in
    ``workspace`` (the body's ``delivery.workspace``) or else the contract's."""
    src = source.get("properties", {})
    item_id = derived_uuid(sales_order_id, line_no, "delivery")
    source_identifier = src.get("acquisitionIdentifier") or src.get("archiveIdentifier") or ""
    spectral = line.options.get("spectral_processing", "bundle")
    images = (
        [
            ("panchromatic", derived_uuid(item_id, "pan")),
            ("multispectral", derived_uuid(item_id, "ms")),
        ]
        if spectral in BUNDLES
        else [("pms", derived_uuid(item_id, "pms"))]
    )
    geometry = line.aoi.intersection(_footprint(source))
    ws = workspace or contract.delivery
    props = {
        k: src.get(k)
        for k in (
            "acquisitionDate",
            "acquisitionIdentifier",
            "acquisitionStation",
            "archivingCenter",
            "azimuthAngle",
            "cloudCover",
            "constellation",
            "illuminationAzimuthAngle",
            "illuminationElevationAngle",
            "incidenceAngle",
            "incidenceAngleAcrossTrack",
            "incidenceAngleAlongTrack",
            "organisationName",
            "platform",
            "qualified",
            "resolution",
            "sensorType",
            "spectralRange",
        )
    }
    props.update(
        {
            "activityId": derived_uuid(item_id, "activity"),
            "commercialReference": work_order(sales_order_id, line_no),
            "contractId": contract.id,
            "correlationId": f"P{work_order(sales_order_id, line_no)}_1_I_1".replace("WO_", "WOI_"),
            "customerReference": customer_reference,
            "expirationDate": iso(produced_at + 365 * 86400.0),
            "format": "image/jp2",
            "geometryCentroid": {"lat": geometry.centroid.y, "lon": geometry.centroid.x},
            "id": item_id,
            "internalLine": f"1_{line_no}",
            "internalReference": sales_order_id,
            "lastUpdateDate": iso(produced_at),
            "processingCenter": "MOC",
            "processingDate": iso(produced_at),
            "processingLevel": "ORTHO",
            "processorName": "SANDBOX",
            "productCategory": "image",
            "productType": "bundle" if spectral in BUNDLES else "pansharpened",
            "productionStatus": "IN_CLOUD",
            "publicationDate": iso(produced_at),
            "sourceIdentifier": source_identifier,
            "workspaceId": ws.id,
            "workspaceName": ws.name,
            "workspaceTitle": ws.title,
        }
    )
    return {
        "_images": images,
        "_zip": zip_name(sales_order_id, line_no, source_identifier),
        "geometry": mapping(geometry),
        "properties": dict(sorted(props.items())),
        "type": "Feature",
    }


def _footprint(source: dict[str, Any]) -> Any:
    from shapely.geometry import shape

    return shape(source["geometry"])


def public_feature(
    stored: dict[str, Any], base: str, download_links: str = "object"
) -> dict[str, Any]:
    """A stored delivered item as served by search, with sandbox links and rights.

    ``download_links``: ``object`` (C-DKW's captures), ``array`` (one C-DKW script indexes
    ``_links.download[1]``), ``parts`` (an array of :data:`PARTS` files, ``…/download?part=N``,
    as a product delivered in several parts or tiles) or ``none`` (the archive guide's step 6
    item has no download link).
    """
    props = stored["properties"]
    item_id, ws_id = props["id"], props["workspaceId"]
    images = [tuple(i) for i in stored["_images"]]
    feature_links: dict[str, Any] = links(base, item_id, images, monitor=props["activityId"])
    download = {
        "href": f"{base}api/v1/items/{item_id}/download",
        "name": "Download",
        "type": "HTTP",
        "resourceId": stored["_zip"],
    }
    if download_links == "object":
        feature_links["download"] = download
    elif download_links == "array":
        feature_links["download"] = [download]
    elif download_links == "parts":
        feature_links["download"] = [
            {
                **download,
                "href": f"{download['href']}?part={name}",
                "name": f"Download part {name}",
                "resourceId": part_zip_name(stored, name),
            }
            for name in part_names()
        ]
    feature_links = dict(sorted(feature_links.items()))
    pack = derived_uuid(item_id, "pack")
    data_access = {
        "metadata": f"http://daas.datastore.svc.cluster.local/packs/{pack}",
        "packImages": [
            {
                "href": f"http://daas.datastore.svc.cluster.local/images/{i}",
                "name": n,
                "resourceId": i,
            }
            for n, i in images
        ],
        "resourceId": pack,
    }
    rights = {
        r: {"privileges": [{"id": derived_uuid(item_id, r), "filter": {"workspaceId": ws_id}}]}
        for r in ("browse", "create", "delete", "download")
    }
    return {
        "_links": feature_links,
        "dataAccess": data_access,
        "geometry": stored["geometry"],
        "properties": props,
        "rights": rights,
        "type": "Feature",
    }


def part_names() -> list[str]:
    """The files of a product delivered in parts (``download_links: parts``)."""
    return [str(n) for n in range(1, PARTS + 1)]


def part_zip_name(stored: dict[str, Any], part: str | None) -> str:
    return stored["_zip"] if part is None else f"{stored['_zip'][:-4]}_part{part}.zip"


def product_zip(stored: dict[str, Any], part: str | None = None) -> bytes:
    """A small, deterministic DIMAP-like product archive (``part``: the one of that image)."""
    from .images import png

    props = stored["properties"]
    stem = part_zip_name(stored, part)[:-4]
    dim = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Dimap_Document name="DIM_{id}.XML">\n'
        '  <Metadata_Identification><METADATA_FORMAT version="2.0">DIMAP</METADATA_FORMAT>'
        "</Metadata_Identification>\n"
        "  <Dataset_Identification><DATASET_NAME>{stem}</DATASET_NAME></Dataset_Identification>\n"
        "  <Product_Information><SALES_ORDER>{sal}</SALES_ORDER>"
        "<CUSTOMER_REFERENCE>{ref}</CUSTOMER_REFERENCE><SOURCE>{src}</SOURCE>"
        "<PROCESSING_LEVEL>ORTHO</PROCESSING_LEVEL></Product_Information>\n</Dimap_Document>\n"
    ).format(
        id=props["id"],
        stem=stem,
        sal=props["internalReference"],
        ref=props["customerReference"],
        src=props["sourceIdentifier"],
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            (f"{stem}/DIM_{props['id']}.XML", dim.encode()),
            (f"{stem}/IMG_{props['id']}.png", png(64, 64, f"{props['id']}{part or ''}")),
        ):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
