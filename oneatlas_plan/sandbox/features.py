"""GeoJSON features in the exact shape of the OneAtlas seed samples.

SPOT and Pléiades ALBUM items follow the seed's ``search-feature-spot-album.json``; Pléiades Neo
ALBUM items follow the OpenAPI's ``public-pneo`` example. ``_links.images*`` is one object for
mono items and an array (``panchromatic`` / ``multispectral``) for bundles. Links always point to
the sandbox's own base URL with the real paths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from . import catalog
from .world import PUBLIC, PUBLIC_PNEO

_NS = uuid.UUID("6f1c3c52-3a5e-4f8e-9a59-1c0d6c1b7e21")
_NS_BYTES = _NS.bytes
IMAGE_LINKS = (
    ("imagesGetBuffer", "buffer", "getBuffer"),
    ("imagesMetadata", "metadata", "application/geo+json"),
    ("imagesWcs", "wcs", "WCS"),
    ("imagesWms", "wms", "WMS"),
    ("imagesWmts", "wmts", "WMTS"),
)


def derived_uuid(*parts: object) -> str:
    """``str(uuid.uuid5(_NS, "a:b:…"))``, without building a UUID object (a search page
    derives ten per feature; the object and its formatting were most of their cost)."""
    digest = bytearray(hashlib.sha1(_NS_BYTES + ":".join(map(str, parts)).encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso(ts: float, *, nanos: bool = False) -> str:
    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    if nanos:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def image_links(base: str, item_id: str, images: list[tuple[str, str]]) -> dict[str, Any]:
    """``imagesX`` links: one object for a single image, a named array for several."""
    out: dict[str, Any] = {}
    for key, suffix, kind in IMAGE_LINKS:
        entries = []
        for name, image_id in images:
            entry = {"href": f"{base}api/v1/items/{item_id}/images/{image_id}/{suffix}"}
            if len(images) > 1:
                entry["name"] = name
            entry.update({"type": kind, "resourceId": image_id})
            entries.append(entry)
        out[key] = entries[0] if len(entries) == 1 else entries
    return out


def links(base: str, item_id: str, images: list[tuple[str, str]], *, monitor: str | None) -> dict:
    out: dict[str, Any] = {
        "delete": {"href": f"{base}api/v1/items/{item_id}", "name": "Delete", "type": "HTTP"}
    }
    out.update(image_links(base, item_id, images))
    if monitor is not None:
        out["monitor"] = {
            "href": f"{base}api/v1/activities/{monitor}",
            "name": "Monitor",
            "type": "HTTP",
        }
    out["quicklook"] = {
        "href": f"{base}api/v1/items/{item_id}/quicklook",
        "name": "QuickLook",
        "type": "HTTP",
    }
    out["self"] = {
        "href": f"{base}api/v1/opensearch?id={item_id}",
        "method": "GET",
        "name": "self",
        "resourceId": item_id,
    }
    out["thumbnail"] = {
        "href": f"{base}api/v1/items/{item_id}/thumbnail",
        "name": "Thumbnail",
        "type": "HTTP",
    }
    out["wms"] = {"href": f"{base}api/v1/items/{item_id}/wms", "name": "WMS", "type": "WMS"}
    out["wmts"] = {"href": f"{base}api/v1/items/{item_id}/wmts", "name": "WMTS", "type": "WMTS"}
    return out


def data_access(pack_id: str, images: list[tuple[str, str]]) -> dict[str, Any]:
    pack_images = []
    for name, image_id in images:
        entry = {"href": f"http://datastore-vaas/api/v1/packs/{pack_id}/images/{image_id}"}
        if len(images) > 1:
            entry["name"] = name
        entry["resourceId"] = image_id
        pack_images.append(entry)
    return {
        "metadata": f"http://datastore-vaas/api/v1/genericProduct/packs/{pack_id}",
        "packImages": pack_images,
        "resourceId": pack_id,
    }


def _privileges(item_id: str, right: str, workspace_id: str, *, subscription: bool) -> dict:
    entry: dict[str, Any] = {"id": derived_uuid(item_id, right, "privilege")}
    if subscription:
        entry["subscriptionId"] = derived_uuid(workspace_id, right, "subscription")
    entry["filter"] = {"workspaceId": workspace_id}
    return {"privileges": [entry]}


def scene_record(scenes: catalog.Scenes, i: int, seed: int) -> dict[str, Any]:
    """Plain values of scene ``i`` (everything a feature needs except the base URL)."""
    key = int(scenes.key[i])
    plat = catalog.PLATFORMS[int(scenes.p[i])]
    lon, lat = float(scenes.lon[i]), float(scenes.lat[i])
    h2 = int(scenes.hash2[i])
    acq = float(scenes.acq[i])
    inc = float(scenes.incidence[i])
    az = (h2 >> 8) % 3600 / 3600.0
    return {
        "key": key,
        "seed": seed,
        "platform": plat,
        "id": catalog.scene_uuid(key, seed),
        "lon": lon,
        "lat": lat,
        "ring": catalog.footprint(
            lon, lat, plat.swath_km, float(scenes.length[i]), float(scenes.tilt[i])
        ),
        "acq": acq,
        "published": catalog.published_at(acq, h2),
        "cloud": float(scenes.cloud[i]),
        "snow": float(scenes.snow[i]),
        "incidence": inc,
        "resolution": float(scenes.resolution[i]),
        "azimuth": 180.0 + (az - 0.5) * 4.0,
        "across": round(inc * (0.3 + 0.7 * az), 6),
        "along": round(inc * (1.0 - 0.7 * az), 6),
        "sun_az": 120.0 + (h2 >> 20) % 600 / 10.0 if lat >= 0 else 40.0 + (h2 >> 20) % 600 / 10.0,
        "sun_el": max(10.0, 85.0 - abs(lat) - (h2 >> 30) % 200 / 10.0),
        "datastrip": catalog.datastrip_id(plat, acq, lon, lat, h2),
        "anonymous": str(10_000_000 + h2 % 290_000_000),
    }


def scene_feature(rec: dict[str, Any], base: str) -> dict[str, Any]:
    plat: catalog.Platform = rec["platform"]
    if plat.constellation == "PNEO":
        return _pneo_feature(rec, base)
    return _legacy_feature(rec, base)


def _common_properties(rec: dict[str, Any]) -> dict[str, Any]:
    plat: catalog.Platform = rec["platform"]
    return {
        "acquisitionDate": iso(rec["acq"]),
        "acquisitionStation": "FR1",
        "azimuthAngle": rec["azimuth"],
        "cloudCover": rec["cloud"],
        "constellation": plat.constellation,
        "expirationDate": iso(rec["published"] + 3650 * 86400.0, nanos=True),
        "id": rec["id"],
        "illuminationAzimuthAngle": rec["sun_az"],
        "illuminationElevationAngle": rec["sun_el"],
        "incidenceAngle": rec["incidence"],
        "incidenceAngleAcrossTrack": rec["across"],
        "incidenceAngleAlongTrack": rec["along"],
        "lastUpdateDate": iso(rec["published"], nanos=True),
        "organisationName": "AIRBUS DS GEO",
        "platform": plat.name,
        "processingCenter": "MOC",
        "processingDate": iso(rec["acq"] + 2700.0),
        "processingLevel": "ALBUM",
        "processorName": "MMCAT",
        "productCategory": "image",
        "productType": "mono",
        "productionStatus": "ARCHIVED",
        "publicationDate": iso(rec["published"], nanos=True),
        "qualified": False,
        "resolution": rec["resolution"],
        "sensorType": "OPTICAL",
        "snowCover": rec["snow"],
        "spectralRange": "VISIBLE",
    }


def _legacy_feature(rec: dict[str, Any], base: str) -> dict[str, Any]:
    item_id, plat = rec["id"], rec["platform"]
    image_id = derived_uuid(item_id, "image")
    activity = derived_uuid(item_id, "activity")
    props = _common_properties(rec)
    props.update(
        {
            # SPOT items carry the datastrip id in archiveIdentifier only (as the seed sample);
            # Pléiades items also carry it in acquisitionIdentifier (as the captured PHR album).
            "acquisitionIdentifier": rec["datastrip"] if plat.constellation == "PHR" else "",
            "activityId": activity,
            "archiveAnonymousIdentifier": rec["anonymous"],
            "archiveIdentifier": rec["datastrip"],
            "archivingCenter": "FR1",
            "correlationId": derived_uuid(item_id, "correlation"),
            "format": "image/jp2" if plat.constellation == "PHR" else "image/tiff",
            "geometryCentroid": {"lat": rec["lat"], "lon": rec["lon"]},
            "parentIdentifier": rec["datastrip"],
            "sourceIdentifier": rec["datastrip"],
            "title": "",
            "workspaceId": PUBLIC.id,
            "workspaceName": PUBLIC.name,
            "workspaceTitle": PUBLIC.title,
        }
    )
    images = [("pms", image_id)]
    return {
        "_links": links(base, item_id, images, monitor=activity),
        "dataAccess": data_access(derived_uuid(item_id, "pack"), images),
        "geometry": {"coordinates": [rec["ring"]], "type": "Polygon"},
        "properties": dict(sorted(props.items())),
        "rights": {
            r: _privileges(item_id, r, PUBLIC.id, subscription=True)
            for r in ("browse", "wms", "wmts")
        },
        "type": "Feature",
    }


def _pneo_feature(rec: dict[str, Any], base: str) -> dict[str, Any]:
    item_id, plat = rec["id"], rec["platform"]
    image_id = derived_uuid(item_id, "image")
    props = _common_properties(rec)
    props.update(
        {
            "acquisitionIdentifier": catalog.pneo_acquisition_id(plat, rec["key"], rec["seed"]),
            "activityId": derived_uuid(item_id, "activity"),
            "archiveAnonymousIdentifier": rec["anonymous"],
            "archiveIdentifier": rec["datastrip"],
            "archivingCenter": "FR1",
            "correlationId": "mmcat_" + derived_uuid(item_id, "correlation").replace("-", ""),
            "parentIdentifier": rec["datastrip"],
            "sourceIdentifier": rec["datastrip"],
            "workspaceId": PUBLIC_PNEO.id,
            "workspaceName": PUBLIC_PNEO.name,
            "workspaceTitle": PUBLIC_PNEO.title,
        }
    )
    images = [("pms", image_id)]
    rights = {
        r: _privileges(item_id, r, PUBLIC_PNEO.id, subscription=r == "browse")
        for r in ("associatedData", "browse", "create", "wmts")
    }
    return {
        "_links": links(base, item_id, images, monitor=None),
        "dataAccess": data_access(derived_uuid(item_id, "pack"), images),
        "geometry": {"type": "Polygon", "coordinates": [rec["ring"]]},
        "properties": dict(sorted(props.items())),
        "rights": rights,
        "type": "Feature",
    }


AIRBUS_HOSTS = (
    "https://search.foundation.api.oneatlas.airbus.com/",
    "https://access.foundation.api.oneatlas.airbus.com/",
    "https://monitor.foundation.api.oneatlas.airbus.com/",
    "https://data.api.oneatlas.airbus.com/",
    "https://order.api.oneatlas.airbus.com/",
)


def rebase_links(feature: dict[str, Any], base: str) -> dict[str, Any]:
    """Copy of a fixed feature whose ``_links`` point to the sandbox instead of Airbus hosts."""

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, str):
            for host in AIRBUS_HOSTS:
                if value.startswith(host):
                    return base + value[len(host) :]
        return value

    out = dict(feature)
    if "_links" in out:
        out["_links"] = fix(out["_links"])
    return out
