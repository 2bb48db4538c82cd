"""Reading and writing plan files: atomic writes, checksum and version checks on read.

Format 3 (docs/plan-format.md) is canonical JSON in the dense layout
(``_canonical.dumps_dense``); what orders and resources repeat is stored once and referenced:
the fields of order bodies and items that are not the order's own (contract, delivery,
options, notifications…) and resource digests other than geometry and scenes in ``common``
(``"$part": KEY``), scenes' catalogue facts (footprint, dates, angles) in ``catalogue``
(``"$scene": ID``). Files are read as a stream (:func:`iter_plan`): one order or resource at
a time, the checksum (over the plain model, tables joined back) computed on the way, so
`show` and `diff` hold what they keep, not the file. Format 2 files (the same content,
expanded, every container indented) are still read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oneatlas_plan import _canonical, _files
from oneatlas_plan._bulk import bulk
from oneatlas_plan.errors import InputError, PlanError
from oneatlas_plan.planning.model import (
    FORMAT_VERSION,
    Alternative,
    OrderPlan,
    Plan,
    ResourcePlan,
    SceneSummary,
)

MAX_PLAN_BYTES = 64 * 1024 * 1024  # bounds what a bad file can cost a whole-plan read
MAX_ELEMENT_BYTES = 8 * 1024 * 1024  # one resource or order (a 10,000-vertex AOI is ~0.5 MB)
READ_VERSIONS = (2, FORMAT_VERSION)  # 2: the same content, before body parts and dense layout

PART_REF = "$part"
SCENE_REF = "$scene"
# What identifies one order (kept in its body), one item, one resource's digests; the other
# fields are what the orders and resources of a spec order repeat, stored once in `common`.
BODY_OWN = frozenset({"aoi", "items", "customerReference"})
ITEM_OWN = frozenset({"aoiId", "dataSourceIds", "datastripIds", "segmentKey"})
DIGESTS_OWN = frozenset({"geometry", "scenes"})
# What a resource says about a scene (kept inline); the catalogue's facts go to `catalogue`.
SCENE_OWN = frozenset({"id", "archive_identifier", "coverage", "why"})
TABLES = ("catalogue", "common")
# Top-level members covered by the checksum: every one but these.
NOT_CHECKSUMMED = frozenset({"meta", "checksum", *TABLES})
PART_KEY_HEX = 16
_ALTERNATIVES = ("alternatives", "near_misses")


class SceneRef(BaseModel):
    """A scene of the ``catalogue`` as a resource's scenes, alternatives and near misses hold
    it in the file: the scene is the catalogue's facts plus these fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    scene: str = Field(alias="$scene", description="Scene id: the key in `catalogue`.")
    archive_identifier: str
    coverage: float
    why: str | None = Field(default=None, description="Alternatives and near misses only.")


class ResourceInFile(ResourcePlan):
    """A resource as the file holds it: scenes by reference to the catalogue."""

    scenes: list[SceneRef | SceneSummary] = Field(default_factory=list)  # type: ignore[assignment]
    alternatives: list[SceneRef | Alternative] = Field(default_factory=list)  # type: ignore[assignment]
    near_misses: list[SceneRef | Alternative] = Field(default_factory=list)  # type: ignore[assignment]


class PlanFile(Plan):
    """The plan file (format 3): the plan, with what several orders or resources repeat
    stored once (``common``, ``catalogue``) and referenced where it was. Only the schema
    (``schemas/plan.schema.json``) is made from this model; files are read by iter_plan."""

    resources: list[ResourceInFile]  # type: ignore[assignment]

    catalogue: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Scene id -> the scene's catalogue facts (platform, constellation, "
        'acquisition_date, cloud_cover, incidence_angle, footprint). A `{"$scene": ID, …}` in '
        "a resource's scenes, alternatives or near misses is that scene: `id` = ID, plus "
        "these facts.",
    )
    common: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Key (the first 16 hex digits of the sha256 of the fields' compact "
        "canonical JSON) -> fields that order bodies, their items or resource digests "
        'repeat. An object holding `"$part": KEY` is that object plus these fields: the exact '
        "body sent is the joined one.",
    )


# ------------------------------------------------------------------------------ writing


@dataclass
class _Tables:
    common: dict[str, Any] = field(default_factory=dict)
    catalogue: dict[str, Any] = field(default_factory=dict)
    last: dict[frozenset[str], tuple[dict[str, Any], str]] = field(default_factory=dict)

    def split(self, fields: dict[str, Any], own: frozenset[str]) -> dict[str, Any]:
        if PART_REF in fields:
            raise ValueError(f"a plan object holds the reserved key {PART_REF!r}")
        shared = {k: v for k, v in fields.items() if k not in own}
        if not shared:
            return fields
        last = self.last.get(own)
        if last is not None and last[0] == shared:  # the orders of a spec order are adjacent
            key = last[1]
        else:
            key = _canonical.digest(shared)[:PART_KEY_HEX]
            if self.common.setdefault(key, shared) != shared:  # 64 bits: a collision is a bug
                raise ValueError(f"two different common parts share the key {key}")
            self.last[own] = (shared, key)
        return {**{k: v for k, v in fields.items() if k in own}, PART_REF: key}

    def order(self, order: dict[str, Any]) -> dict[str, Any]:
        body = order["body"]
        items = body.get("items")
        if isinstance(items, list):
            items = [self.split(i, ITEM_OWN) if isinstance(i, dict) else i for i in items]
            body = {**body, "items": items}
        return {**order, "body": self.split(body, BODY_OWN)}

    def scene(self, scene: dict[str, Any]) -> dict[str, Any]:
        facts = {k: v for k, v in scene.items() if k not in SCENE_OWN}
        if self.catalogue.setdefault(scene["id"], facts) != facts:
            return scene  # the same id with other facts (not seen in practice): kept whole
        own = {k: v for k, v in scene.items() if k in SCENE_OWN and k != "id"}
        return {SCENE_REF: scene["id"], **own}

    def resource(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource = {**resource, "digests": self.split(resource["digests"], DIGESTS_OWN)}
        for key in ("scenes", "alternatives", "near_misses"):
            resource[key] = [self.scene(s) for s in resource[key]]
        return resource


def encode_plan(plan: Plan) -> str:
    """The plan file's text: the same plan always gives the same bytes."""
    with bulk():
        return _encode(plan)


def _encode(plan: Plan) -> str:
    data = plan.model_dump(mode="json")
    if plan.format_version < 3:  # a plan read from a version 2 file stays one
        return _canonical.dumps(data)
    tables = _Tables()
    data["orders"] = [tables.order(o) for o in data["orders"]]
    data["resources"] = [tables.resource(r) for r in data["resources"]]
    data["common"], data["catalogue"] = tables.common, tables.catalogue
    return _canonical.dumps_dense(data)


def write_plan(plan: Plan, path: Path) -> None:
    """Write atomically and durably (temp file, fsync, rename, directory fsync); on failure
    (a full disk...) an InputError naming the file, and the previous plan file is intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, encode_plan(plan).encode("utf-8"), mode=0o644)
    except OSError as error:
        raise InputError(
            f"{path}: cannot write the plan file: {error.strerror or error} (nothing was "
            "written; the previous file, if any, is unchanged)"
        ) from None


# ------------------------------------------------------------------------------ reading


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)  # in C; the loop below only runs for a file that has a duplicate
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return data


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)  # json.loads makes one a call


class _Unknown(Exception):
    """A reference to nothing in the tables, or whose fields clash with the object's."""


def _join(fields: Any, table: dict[str, Any], ref: str, key_name: str | None = None) -> Any:
    if not isinstance(fields, dict) or ref not in fields:
        return fields
    own = dict(fields)
    key = own.pop(ref)
    shared = table.get(key) if isinstance(key, str) else None
    if key_name is not None:
        own[key_name] = key
    if not isinstance(shared, dict) or not own.keys().isdisjoint(shared):
        raise _Unknown(f"{ref} {key!r}")
    own.update(shared)
    return own


def _expand_order(order: Any, common: dict[str, Any]) -> Any:
    """An order of the file with its body's parts joined back."""
    body = order.get("body") if isinstance(order, dict) else None
    if not isinstance(body, dict):
        return order
    items = body.get("items")
    if isinstance(items, list):
        body = {**body, "items": [_join(i, common, PART_REF) for i in items]}
    return {**order, "body": _join(body, common, PART_REF)}


def _expand_resource(resource: Any, common: dict[str, Any], catalogue: dict[str, Any]) -> Any:
    """A resource of the file with its digests' part and its scenes' facts joined back."""
    if not isinstance(resource, dict):
        return resource
    resource = dict(resource)
    if "digests" in resource:
        resource["digests"] = _join(resource["digests"], common, PART_REF)
    for key in ("scenes", "alternatives", "near_misses"):
        scenes = resource.get(key)
        if isinstance(scenes, list):
            resource[key] = [_join(s, catalogue, SCENE_REF, "id") for s in scenes]
    return resource


def expand_parts(data: dict[str, Any]) -> dict[str, Any]:
    """A version 3 plan file's data as the plan model's (what ``common`` and ``catalogue``
    hold joined back where it is referenced, the tables removed), e.g. to re-seal an edited
    plan in a test."""
    common, catalogue = data.get("common") or {}, data.get("catalogue") or {}
    return {
        **{k: v for k, v in data.items() if k not in TABLES},
        "orders": [_expand_order(o, common) for o in data.get("orders", [])],
        "resources": [_expand_resource(r, common, catalogue) for r in data.get("resources", [])],
    }


_SCALARS = (str, int, float, bool, type(None))


class _Joined:
    """The compact canonical text of an order or resource of the file *as joined*
    (``compact(_expand_order(o))``, ``compact(_expand_resource(r, ...))``: what the checksum
    covers) for less than joining and encoding it: each table entry is encoded once, and
    the members an object owns are encoded in as few calls as the key order allows. Raises
    _Unknown where the joins would."""

    def __init__(self, tables: _Tables) -> None:
        self.common, self.catalogue = tables.common, tables.catalogue
        self.scenes: dict[str, tuple[dict[str, Any], str] | None] = {}
        self.mentions: dict[tuple[Any, ...], str] = {}

    def order(self, order: Any) -> str:
        # Joined and encoded whole: encoding a body's part once and splicing the texts (as
        # for scenes) costs more in Python steps than the C encoder spends on the part.
        return _canonical.compact(_expand_order(order, self.common))

    def resource(self, resource: Any) -> str:
        if type(resource) is not dict:
            return _canonical.compact(resource)
        encoded = {}
        if "digests" in resource:
            encoded["digests"] = _canonical.compact(
                _join(resource["digests"], self.common, PART_REF))
        for key in ("scenes", "alternatives", "near_misses"):
            scenes = resource.get(key)
            if type(scenes) is list:
                encoded[key] = "[" + ",".join(self._scene(s) for s in scenes) + "]"
        return _members(resource, encoded)

    def _scene(self, fields: Any) -> str:
        """A scene that may be ``{"$scene": ID, ...}``: ``catalogue[ID]`` and ``"id": ID``
        joined. The catalogue's scalar facts are joined as a dict and encoded with the
        scene's own fields in one call; its footprint's text (encoded once per scene) is
        then put in its place, before ``,"id":`` (a ``,"`` is never inside an encoded
        string, and no member but the footprint is a container)."""
        if type(fields) is not dict or SCENE_REF not in fields:
            return _canonical.compact(fields)
        # Neighbouring AOIs mention the same scene alike: its text is kept by what the
        # reference holds, each value's type and repr (1, 1.0, True and -0.0, 0.0 differ).
        seen = tuple((k, v) if type(v) is str else (k, type(v), repr(v)) for k, v in fields.items())
        text = self.mentions.get(seen)
        if text is None:
            text = self.mentions[seen] = self._scene_text(fields)
        return text

    def _scene_text(self, fields: dict[str, Any]) -> str:
        key = fields[SCENE_REF]
        own = {k: v for k, v in fields.items() if k != SCENE_REF}
        own["id"] = key
        facts = self.catalogue.get(key) if isinstance(key, str) else None
        if not isinstance(facts, dict) or not own.keys().isdisjoint(facts):
            raise _Unknown(f"{SCENE_REF} {key!r}")
        assert isinstance(key, str)
        if key not in self.scenes:
            self.scenes[key] = _without_footprint(facts)
        split = self.scenes[key]
        if split is None or not _spliceable(own):
            return _members({**own, **facts}, {})
        scalars, footprint = split
        text = _canonical.compact({**own, **scalars})
        at = text.index(',"id":')
        return f"{text[:at]},{footprint}{text[at:]}"


def _spliceable(fields: dict[str, Any]) -> bool:
    """Whether a footprint goes right before ``,"id":`` among these members: all scalars
    (no ``,"`` but between members), none between ``footprint`` and ``id``, one before."""
    return (
        all(type(v) in _SCALARS for v in fields.values())
        and not any("footprint" < k < "id" for k in fields)
        and any(k < "footprint" for k in fields)
    )


def _without_footprint(facts: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """A catalogue entry's other facts, and its footprint's member text; None when the
    footprint cannot be put back in the text of those facts and a scene's own fields."""
    scalars = {k: v for k, v in facts.items() if k != "footprint"}
    if "footprint" not in facts or "id" in facts or not _spliceable(scalars):
        return None
    return scalars, f"{_canonical.key_text('footprint')}:{_canonical.compact(facts['footprint'])}"


def _members(fields: dict[str, Any], encoded: dict[str, str]) -> str:
    """``compact(fields)`` where ``encoded`` gives the text of some values: each run of
    other members (in key order) is encoded in one call, its braces dropped."""
    texts: list[str] = []
    run: dict[str, Any] = {}
    for key in sorted(fields):
        if key in encoded:
            if run:
                texts.append(_canonical.compact(run)[1:-1])
                run = {}
            texts.append(f"{_canonical.key_text(key)}:{encoded[key]}")
        else:
            run[key] = fields[key]
    if run:
        texts.append(_canonical.compact(run)[1:-1])
    return "{" + ",".join(texts) + "}"


Element = OrderPlan | ResourcePlan


@dataclass(frozen=True)
class View:
    """What a reader makes models of (the checksum always covers the whole file).
    ``geometry=False``: no AOI geometry, footprint (``{}``), digests, nor order body ``aoi``
    and ``items``; ``alternatives=False``: no alternatives nor near misses. Made for `show`
    and `diff`, which display neither; `apply` reads the whole plan (:data:`WHOLE`)."""

    geometry: bool = True
    alternatives: bool = True

    def order(self, order: Any) -> Any:
        body = order.get("body") if isinstance(order, dict) else None
        if self.geometry or not isinstance(body, dict):
            return order
        return {**order, "body": {k: v for k, v in body.items() if k not in ("aoi", "items")}}

    def resource(self, resource: Any) -> Any:
        if (self.geometry and self.alternatives) or not isinstance(resource, dict):
            return resource
        resource = dict(resource)
        for key in ("alternatives", "near_misses"):
            if not self.alternatives and isinstance(resource.get(key), list):
                resource[key] = []
        if not self.geometry:
            for key, empty in (("aoi_geometry", None), ("digests", {})):
                if key in resource:
                    resource[key] = empty
        return resource

    def scenes(self, resource: Any) -> Any:
        """A joined resource's scenes without their footprints."""
        if self.geometry or not isinstance(resource, dict):
            return resource
        for key in ("scenes", "alternatives", "near_misses"):
            scenes = resource.get(key)
            if isinstance(scenes, list):
                resource[key] = [
                    {**s, "footprint": {}} if isinstance(s, dict) and "footprint" in s else s
                    for s in scenes
                ]
        return resource


WHOLE = View()


@dataclass(slots=True)
class _Made:
    """An order or resource read: the text the checksum covers (compact, joined), its model,
    and (in a :class:`_Twins`) the tables' entries the file's element refers to."""

    owner: _Reader
    text: bytes
    model: Element
    parts: frozenset[str] = frozenset()
    scenes: frozenset[str] = frozenset()


def _references(key: str, element: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The ``common`` parts and ``catalogue`` scenes an element of the file refers to, where
    :func:`_expand_order` and :func:`_expand_resource` join them (of an element joined
    without error: each a string)."""
    parts: list[str] = []
    scenes: list[str] = []
    if isinstance(element, dict):
        _gather(key, element, parts, scenes)
    return frozenset(parts), frozenset(scenes)


def _gather(key: str, element: dict[str, Any], parts: list[str], scenes: list[str]) -> None:
    if key == "orders":
        body = element.get("body")
        if isinstance(body, dict):
            items = body.get("items")
            for fields in [body, *(items if isinstance(items, list) else [])]:
                if isinstance(fields, dict) and PART_REF in fields:
                    parts.append(fields[PART_REF])
        return
    digests = element.get("digests")
    if isinstance(digests, dict) and PART_REF in digests:
        parts.append(digests[PART_REF])
    for name in ("scenes", "alternatives", "near_misses"):
        mentions = element.get(name)
        if isinstance(mentions, list):
            scenes += [s[SCENE_REF] for s in mentions if isinstance(s, dict) and SCENE_REF in s]


class _Twins:
    """Two plan files read side by side (`diff`), each by its own reader: most orders and
    resources of two plans of one project are the same bytes in both. An element whose bytes
    the other reader has just made is not parsed, joined, encoded nor validated again: its
    model and checksum text are the other's, provided both files are of one format and the
    tables' entries it refers to encode alike in both (the text and the model are functions
    of the bytes and those entries). Each file's checksum still covers every one of its
    bytes, and each file is checked whole (order and address checks are per reader)."""

    WINDOW = 1024  # elements made and not yet taken (the two readers are close: see diff)

    def __init__(self) -> None:
        self.made: OrderedDict[tuple[str, bytes], _Made] = OrderedDict()
        # Table keys whose entries encode alike in both files, or not.
        self.alike: dict[str, set[str]] = {table: set() for table in TABLES}
        self.unlike: dict[str, set[str]] = {table: set() for table in TABLES}

    def offer(self, key: str, raw: bytes, made: _Made) -> None:
        self.made[(key, raw)] = made
        self.made.move_to_end((key, raw))
        if len(self.made) > self.WINDOW:
            self.made.popitem(last=False)

    def take(self, reader: _Reader, key: str, raw: bytes) -> _Made | None:
        made = self.made.get((key, raw))
        if made is None or made.owner is reader or not self._alike(made, reader):
            return None
        del self.made[(key, raw)]
        return made

    def _alike(self, made: _Made, reader: _Reader) -> bool:
        other = made.owner
        if (reader.view != other.view or reader.header.get("format_version")
                != other.header.get("format_version")):
            return False
        if not made.parts and not made.scenes:
            return True
        mine, theirs = reader.tables, other.tables
        return (
            mine is not None and theirs is not None
            and self._entries(made.parts, "common", mine.common, theirs.common)
            and self._entries(made.scenes, "catalogue", mine.catalogue, theirs.catalogue)
        )

    def _entries(self, keys: frozenset[str], table: str, mine: dict[str, Any],
                 theirs: dict[str, Any]) -> bool:
        alike = self.alike[table]
        if keys <= alike:
            return True
        for key in keys - alike:
            ours, others = mine.get(key), theirs.get(key)
            if key in self.unlike[table] or ours is None or others is None or (
                    _canonical.compact(ours) != _canonical.compact(others)):
                self.unlike[table].add(key)
                return False
            alike.add(key)
        return True


@dataclass
class _Reader:
    """One pass over a plan: validates each order and resource, hands it to the sinks,
    computes the checksum over the canonical compact form and checks what apply relies on."""

    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    tables: _Tables | None = None  # None: a version 2 plan (no shared tables)
    encoder: _Joined | None = None
    view: View = WHOLE
    hasher: Any = field(default_factory=hashlib.sha256)
    hashed_any: bool = False
    first_in_array: bool = True
    containers: int = 0
    order_keys: set[str] = field(default_factory=set)
    order_addresses: dict[str, str] = field(default_factory=dict)  # address -> order key
    last_address: str | None = None
    problem: str | None = None  # the first inconsistency, reported after the checksum
    twins: _Twins | None = None  # the other file of a diff, read side by side
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalogue, no footprint

    def inconsistent(self, line: int | None, message: str) -> None:
        if self.problem is None:
            self.problem = f"{self.where(line)}: {message}; plan again"

    def where(self, line: int | None) -> str:
        return f"{self.path}:{line}" if line else str(self.path)

    def loads(self, text: str, line: int | None) -> Any:
        """json.loads, refusing duplicate keys and more than MAX_JSON_CONTAINERS objects and
        arrays in the whole file (a bound on what a hostile file can cost)."""
        self.count_containers(text.count("{") + text.count("["), line)
        try:
            return _DECODER.decode(text)
        except json.JSONDecodeError as error:
            at = f"{self.path}:{(line or 1) + error.lineno - 1}:{error.colno}"
            raise InputError(f"{at}: not a plan file: invalid JSON ({error.msg})") from None
        except ValueError as error:  # duplicate key, too many containers, huge integer
            raise InputError(
                f"{self.where(line)}: not a plan file: invalid JSON ({error})"
            ) from None
        except RecursionError:  # the C decoder's answer to "[[[[..." (no position given)
            raise InputError(
                f"{self.where(line)}: not a plan file: JSON nested too deeply"
            ) from None

    def count_containers(self, count: int, line: int | None) -> None:
        self.containers += count
        if self.containers > _canonical.MAX_JSON_CONTAINERS:
            raise InputError(
                f"{self.where(line)}: not a plan file: invalid JSON (too many JSON objects and "
                f"arrays (the limit is {_canonical.MAX_JSON_CONTAINERS:,}))"
            )

    def _hash_key(self, key: str) -> None:
        self.hasher.update(("," if self.hashed_any else "{").encode())
        self.hasher.update(f"{_canonical.compact(key)}:".encode())
        self.hashed_any = True

    def member(self, key: str, value: Any, line: int | None) -> Iterator[Element]:
        """A top-level member (in sorted order): the elements of `orders` or `resources`."""
        self.seen.add(key)
        if key in ("orders", "resources"):
            if not isinstance(value, list):
                raise InputError(
                    f"{self.where(line)}: not a valid plan file: {key}: Input should be a "
                    "valid list"
                )
            self.start_array(key, line)
            for index, element in enumerate(value):
                yield self.element(key, index, element, line)
            self.end_array()
            return
        self.header[key] = value
        if key == "format_version":
            self.check_version(value)
        if key not in NOT_CHECKSUMMED:
            self._hash_key(key)
            self.hasher.update(_canonical.compact(value).encode("utf-8"))

    def check_version(self, version: Any) -> None:
        if type(version) is not int or version not in READ_VERSIONS:
            raise PlanError(
                f"{self.path}: unsupported plan format_version {version!r} (this oneatlas-plan "
                f"reads versions {' and '.join(map(str, READ_VERSIONS))}; plan again)"
            )

    def start_array(self, key: str, line: int | None) -> None:
        self.seen.add(key)
        version = self.header.get("format_version")
        self.check_version(version)
        if version != 2 and self.tables is None:
            self.tables = self.load_tables(line)
        self._hash_key(key)
        self.hasher.update(b"[")
        self.first_in_array = True

    def end_array(self) -> None:
        self.hasher.update(b"]")

    def load_tables(self, line: int | None) -> _Tables:
        catalogue, common = (self.header.pop(name, {}) for name in TABLES)  # absent: none
        for name, table in zip(TABLES, (catalogue, common), strict=True):
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise InputError(
                    f"{self.where(line)}: not a valid plan file: {name}: a JSON object of "
                    "objects is required (format 3)"
                )
        assert isinstance(common, dict) and isinstance(catalogue, dict)
        tables = _Tables(common, catalogue)
        for part_key, part in tables.common.items():
            if _canonical.digest(part)[:PART_KEY_HEX] != part_key:
                raise PlanError(
                    f"{self.where(line)}: common part {part_key!r} does not match its key: "
                    "the plan was modified after it was made; run `oneatlas-plan plan "
                    "--out` again"
                )
        return tables

    def joined(self, key: str, element: Any, index: int, line: int | None) -> tuple[str, Any]:
        """The element's compact canonical text as joined (what the checksum covers) and
        the element joined (what the models are made of)."""
        view = self.view
        if self.tables is None:
            if key == "orders":
                return _canonical.compact(element), view.order(element)
            return _canonical.compact(element), view.scenes(view.resource(element))
        if self.encoder is None:
            self.encoder = _Joined(self.tables)
        common, catalogue = self.tables.common, self.tables.catalogue
        try:
            if key == "orders":
                if view.geometry:  # the whole order: joined once, for its text and its model
                    whole = _expand_order(element, common)
                    return _canonical.compact(whole), whole
                text = self.encoder.order(element)
                return text, _expand_order(view.order(element), common)
            text = self.encoder.resource(element)
            if not view.geometry and type(element) is dict:
                return text, self.without_geometry(element)
            joined = _expand_resource(view.resource(element), common, catalogue)
            return text, view.scenes(joined)
        except _Unknown as error:
            raise PlanError(
                f"{self.where(line)}: {key}.{index}: unknown or conflicting {error}; run "
                "`oneatlas-plan plan --out` again"
            ) from None

    def without_geometry(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``view.scenes(_expand_resource(view.resource(resource), ...))`` for a view
        without geometry, in one pass: scenes joined with their catalogue facts less the
        footprint (kept per scene id). Only after the encoder joined the resource without
        error (the joins' refusals are the same)."""
        assert self.tables is not None
        resource = dict(resource)
        if not self.view.alternatives:
            for key in _ALTERNATIVES:
                if type(resource.get(key)) is list:
                    resource[key] = []
        for key, empty in (("aoi_geometry", None), ("digests", {})):
            if key in resource:
                resource[key] = empty
        for key in ("scenes", *_ALTERNATIVES):
            scenes = resource.get(key)
            if type(scenes) is list and scenes:
                resource[key] = [self.scene_without_footprint(s) for s in scenes]
        return resource

    def scene_without_footprint(self, scene: Any) -> Any:
        if type(scene) is not dict:
            return scene
        if SCENE_REF in scene:
            key = scene[SCENE_REF]  # a catalogue key: else the encoder refused the resource
            facts = self.facts.get(key)
            if facts is None:
                assert self.tables is not None
                facts = self.tables.catalogue[key]
                if "footprint" in facts:
                    facts = {**facts, "footprint": {}}
                self.facts[key] = facts
            scene = {k: v for k, v in scene.items() if k != SCENE_REF}
            scene["id"] = key
            scene.update(facts)
            return scene
        return {**scene, "footprint": {}} if "footprint" in scene else scene

    def element(self, key: str, index: int, element: Any, line: int | None) -> Element:
        return self.made(key, index, element, line).model

    def made(self, key: str, index: int, element: Any, line: int | None) -> _Made:
        text, joined = self.joined(key, element, index, line)
        model_type = OrderPlan if key == "orders" else ResourcePlan
        model = _validate(model_type, joined, f"{key}.{index}", self.where(line))
        assert isinstance(model, (OrderPlan, ResourcePlan))
        made = _Made(self, text.encode("utf-8"), model)
        if self.twins is not None and self.tables is not None:
            made.parts, made.scenes = _references(key, element)
        self.admit(made, line)
        return made

    def admit(self, made: _Made, line: int | None) -> None:
        """Hash an element's text and check it against the rest of the file."""
        if not self.first_in_array:
            self.hasher.update(b",")
        self.first_in_array = False
        self.hasher.update(made.text)
        if isinstance(made.model, OrderPlan):
            self.check_order(made.model, line)
        else:
            self.check_resource(made.model, line)

    def raw_element(self, key: str, index: int, raw: bytes, line: int, lines: _Source) -> Element:
        """An element of the streamed layout from its bytes (after its first line, ``    {``):
        made by the other file's reader of a :class:`_Twins` when it had the same bytes and
        the same tables' entries for it, else decoded, parsed and made here."""
        twins = self.twins
        if twins is not None:
            made = twins.take(self, key, raw)
            if made is not None:
                self.count_containers(raw.count(b"{") + raw.count(b"[") + 1, line)
                self.admit(made, line)
                return made.model
        text = lines.decode(raw, line + 1)
        made = self.made(key, index, self.loads("    {\n" + text, line), line)
        if twins is not None:
            twins.offer(key, raw, made)
        return made.model

    def check_order(self, order: OrderPlan, line: int | None) -> None:
        if order.key in self.order_keys:
            self.inconsistent(line, f"order {order.key} appears twice")
        self.order_keys.add(order.key)
        if not order.addresses:
            self.inconsistent(
                line, f"order {order.key} is for resource '(none)', which the plan does not have"
            )
        for address in order.addresses:
            self.order_addresses.setdefault(address, order.key)

    def check_resource(self, resource: ResourcePlan, line: int | None) -> None:
        if self.last_address is not None and resource.address <= self.last_address:
            problem = (
                "appears twice"
                if resource.address == self.last_address
                else f"comes after {self.last_address!r} (resources are sorted by address)"
            )
            self.inconsistent(line, f"resource {resource.address!r} {problem}")
        self.last_address = resource.address
        self.order_addresses.pop(resource.address, None)

    def finish(self, verify: bool) -> Plan:
        for key in ("format_version", "orders", "resources"):
            if key not in self.seen:
                if key == "format_version":
                    self.check_version(None)
                raise InputError(f"{self.path}: not a valid plan file: {key}: Field required")
        header = _validate(Plan, {**self.header, "orders": [], "resources": []}, "", str(self.path))
        assert isinstance(header, Plan)
        self.hasher.update(b"}")
        if verify and header.checksum != "sha256:" + self.hasher.hexdigest():
            raise PlanError(
                f"{self.path}: checksum mismatch: the plan was modified after it was made; "
                "run `oneatlas-plan plan --out` again instead of editing it"
            )
        if self.problem is not None:
            raise PlanError(self.problem)
        if self.order_addresses:
            address, key = min(self.order_addresses.items())
            raise PlanError(
                f"{self.path}: order {key} is for resource {address!r}, which the plan "
                "does not have; plan again"
            )
        return header


def _validate(model: type[BaseModel], data: Any, where: str, path: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        at = ".".join(p for p in (where, loc) if p)
        raise InputError(f"{path}: not a valid plan file: {at}: {first['msg']}") from None


# A top-level member's first line in the layout `plan --out` writes: `  "key": value`.
_MEMBER = re.compile(r'  ("(?:[^"\\]|\\.)*"): (.*?)(,?)\Z', re.DOTALL)
_LAYOUT = "plan files are 2-space indented JSON as `oneatlas-plan plan --out` writes them"


class _Source:
    """The file's lines after the first, from 1 MiB reads; a whole element at once
    (:meth:`until_close`) without a Python step per line. Iterates (line number, line)."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle, self.path = handle, path
        self.buffer, self.pos, self.number, self.total = b"", 0, 1, 0

    CHUNK = 1024 * 1024

    def _fill(self) -> bool:
        chunk = self.handle.read(self.CHUNK)
        if not chunk:
            return False
        self.total += len(chunk)
        if self.total > MAX_PLAN_BYTES:
            raise InputError(
                f"{self.path}: too large (over {MAX_PLAN_BYTES:,} bytes) for a plan file"
            )
        self.buffer, self.pos = self.buffer[self.pos :] + chunk, 0
        return True

    def decode(self, raw: bytes, number: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = number + raw.count(b"\n", 0, error.start)
            raise InputError(f"{self.path}:{line}: not a plan file (not UTF-8 text)") from None

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> tuple[int, str]:
        end = self.buffer.find(b"\n", self.pos)
        while end < 0:
            if not self._fill():
                if self.pos >= len(self.buffer):
                    raise StopIteration
                end = len(self.buffer)  # a last line without its newline
                break
            end = self.buffer.find(b"\n", self.pos)
        raw, self.pos = self.buffer[self.pos : end], end + 1
        self.number += 1
        return self.number, self.decode(raw, self.number)

    def until_close(self, key: str, index: int) -> tuple[bytes, bool]:
        """After an element's `    {` line: the rest of it through its `    }` line (JSON
        strings hold no newline and nested lines are indented deeper, so the first line that
        is `    }` or `    },` closes it), not decoded; and whether a comma follows."""
        start = self.number + 1
        checked = 0  # bytes after self.pos already searched (_fill keeps them from pos)
        while True:
            found = self.buffer.find(b"\n    }", self.pos + max(checked - 6, 0))
            if found >= 0:
                close_end = self.buffer.find(b"\n", found + 1)
                if close_end >= 0:
                    break
                checked = found - self.pos  # the closing line is not read whole yet
            else:
                checked = len(self.buffer) - self.pos
            if checked > MAX_ELEMENT_BYTES:
                raise InputError(
                    f"{self.path}:{start - 1}: not a plan file: {key}.{index} is too large"
                )
            if not self._fill():
                raise InputError(f"{self.path}: not a plan file: truncated (in {key!r})")
        close = self.buffer[found + 1 : close_end]
        if close not in (b"    }", b"    },"):
            line = start + self.buffer.count(b"\n", self.pos, found)
            raise InputError(
                f"{self.path}:{line}: not a plan file: unexpected line in {key!r} ({_LAYOUT})"
            )
        raw = self.buffer[self.pos : found + 6]
        self.pos = close_end + 1
        self.number += raw.count(b"\n") + 1
        return raw, close.endswith(b",")


def _stream(reader: _Reader, lines: _Source) -> Iterator[Element]:
    """The members of the top-level object, one at a time, in sorted order; the elements of
    `orders` and `resources` one at a time (see _stream_array)."""
    previous: str | None = None
    comma = True  # whether the previous member ended with a comma
    for number, line in lines:
        if not line.strip():  # JSON allows blank lines; the layout does not need them
            continue
        if line == "}":
            if previous is not None and comma:
                raise InputError(f"{reader.path}:{number}: not a plan file: trailing comma")
            for after, rest in lines:
                if rest.strip():
                    raise InputError(
                        f"{reader.path}:{after}: not a plan file: extra data after the plan"
                    )
            return
        match = _MEMBER.match(line)
        if match is None or not comma:
            raise InputError(f"{reader.path}:{number}: not a plan file: unexpected line "
                             f"({_LAYOUT})")
        key = reader.loads(match.group(1), number)
        if previous is not None and key <= previous:
            problem = f"duplicate key {key!r}" if key == previous else (
                f"key {key!r} is out of order (keys are sorted)")
            raise InputError(f"{reader.path}:{number}: not a plan file: invalid JSON ({problem})")
        previous = key
        value, comma = match.group(2), match.group(3) == ","
        if key in ("orders", "resources") and value == "[":
            comma = yield from _stream_array(reader, key, lines)
            continue
        start, chunk = number, [value]
        if value in ("[", "{"):
            close = "  ]" if value == "[" else "  }"
            for _number, line in lines:
                if line in (close, close + ","):
                    chunk.append(close)
                    comma = line.endswith(",")
                    break
                chunk.append(line)
            else:
                break
        yield from reader.member(key, reader.loads("\n".join(chunk), start), start)
    raise InputError(f"{reader.path}: not a plan file: truncated (no closing brace)")


def _stream_array(reader: _Reader, key: str, lines: _Source) -> Generator[Element, None, bool]:
    """One element at a time: it starts with a `    {` line and ends with `    }`/`    },`
    (JSON strings hold no newline, and nested lines are indented deeper), or is one line.
    Returns whether the member ends with a comma."""
    reader.start_array(key, None)
    index, comma, first, chunk, size = 0, True, 0, list[str](), 0
    for number, line in lines:
        if not chunk:
            if not line.strip():
                continue
            if line in ("  ]", "  ],"):
                if index and comma:
                    raise InputError(f"{reader.path}:{number}: not a plan file: trailing comma")
                reader.end_array()
                return line.endswith(",")
            if not comma or not line.startswith("    {"):
                raise InputError(f"{reader.path}:{number}: not a plan file: unexpected line "
                                 f"in {key!r} ({_LAYOUT})")
            first, size = number, 0
            if line == "    {":
                raw, comma = lines.until_close(key, index)
                yield reader.raw_element(key, index, raw, first, lines)
                index += 1
                continue
        chunk.append(line)
        size += len(line)
        if size > MAX_ELEMENT_BYTES:
            raise InputError(f"{reader.path}:{first}: not a plan file: {key}.{index} is too "
                             "large")
        if line in ("    }", "    },") or (len(chunk) == 1 and line.endswith(("}", "},"))
                                           and line != "    {"):
            comma = line.endswith(",")
            if comma:
                chunk[-1] = line[:-1]
            yield reader.element(key, index, reader.loads("\n".join(chunk), first), first)
            chunk, index = [], index + 1
    raise InputError(f"{reader.path}: not a plan file: truncated (in {key!r})")


def _open(path: Path) -> BinaryIO:
    try:
        return _files.open_regular(path, MAX_PLAN_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: no such plan file") from None
    except _files.FileTooLargeError as error:
        raise InputError(f"{path}: {error.strerror} for a plan file") from None
    except _files.NotRegularFileError as error:
        raise InputError(f"{path}: {error.strerror}, not a plan file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None


def iter_plan(
    path: Path, *, verify: bool = True, view: View = WHOLE, twins: _Twins | None = None
) -> Iterator[Element | Plan]:
    """Read PATH once: each order, then each resource, validated, as it is read; last the
    rest of the plan (a Plan whose ``orders`` and ``resources`` are empty), once the whole
    file was checked. ``view``: what of each element to make a model of (not what is
    checked: the checksum is over the whole file).

    Raises InputError/PlanError for an unreadable, unsupported, inconsistent or (``verify``)
    hand-edited plan, possibly after some elements were yielded: callers show nothing before
    the Plan arrives. A file in the layout `plan --out` writes is read line by line (memory:
    one element); any other JSON layout is read whole (at most MAX_PLAN_BYTES).
    """
    reader = _Reader(path, view=view, twins=twins)
    try:
        with _open(path) as handle:
            if handle.readline(8) == b"{\n":
                yield from _stream(reader, _Source(handle, path))
            else:
                handle.seek(0)
                yield from _whole(reader, handle)
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    yield reader.finish(verify)


def iter_plan_pair(
    old: Path, new: Path, *, view: View = WHOLE
) -> tuple[Iterator[Element | Plan], Iterator[Element | Plan]]:
    """Two plan files, each as :func:`iter_plan` reads it (the same checks, the same
    refusals), to be read side by side (`diff`): an order or resource the other file has
    just had, byte for byte, is made once (:class:`_Twins`)."""
    twins = _Twins()
    return iter_plan(old, view=view, twins=twins), iter_plan(new, view=view, twins=twins)


def scan_plan(
    path: Path,
    on_order: Callable[[OrderPlan], None] | None = None,
    on_resource: Callable[[ResourcePlan], None] | None = None,
    *,
    verify: bool = True,
) -> Plan:
    """:func:`iter_plan` handing each order and resource to a callback; returns the rest."""
    for item in iter_plan(path, verify=verify):
        if isinstance(item, OrderPlan):
            if on_order is not None:
                on_order(item)
        elif isinstance(item, ResourcePlan):
            if on_resource is not None:
                on_resource(item)
        else:
            return item
    raise AssertionError("iter_plan ends with the plan")


def _whole(reader: _Reader, handle: BinaryIO) -> Iterator[Element]:
    data = handle.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise InputError(
            f"{reader.path}: too large (over {MAX_PLAN_BYTES:,} bytes) for a plan file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{reader.path}: not a plan file (not UTF-8 text at byte {error.start})"
        ) from None
    value = reader.loads(text, None)
    if not isinstance(value, dict):
        raise InputError(f"{reader.path}: not a plan file: expected a JSON object")
    reader.check_version(value.get("format_version"))
    for key in sorted(value):
        yield from reader.member(key, value[key], None)


def read_plan(path: Path, *, verify: bool = True) -> Plan:
    """Load a whole plan file; refuse unreadable, unsupported or hand-edited plans."""
    orders: list[OrderPlan] = []
    resources: list[ResourcePlan] = []
    with bulk():
        header = scan_plan(path, orders.append, resources.append, verify=verify)
    return header.model_copy(update={"orders": orders, "resources": resources})


def copy_plan(path: Path) -> Iterator[bytes]:
    """The bytes of a plan file (after :func:`scan_plan` checked it), in chunks."""
    with _open(path) as handle:
        while chunk := handle.read(1024 * 1024):
            yield chunk
