"""Reading and writing plan files: atomic writes, checksum and version checks on read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oneatlas_plan import _canonical, _files
from oneatlas_plan.errors import InputError, PlanError
from oneatlas_plan.planning.model import FORMAT_VERSION, Plan

MAX_PLAN_BYTES = 64 * 1024 * 1024  # ~10,000 orders; bounds the memory a bad file can take


def write_plan(plan: Plan, path: Path) -> None:
    """Write atomically and durably (temp file, fsync, rename, directory fsync); on failure
    (a full disk...) an InputError naming the file, and the previous plan file is intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, plan.to_json().encode("utf-8"), mode=0o644)
    except OSError as error:
        raise InputError(
            f"{path}: cannot write the plan file: {error.strerror or error} (nothing was "
            "written; the previous file, if any, is unchanged)"
        ) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def read_plan(path: Path, *, verify: bool = True) -> Plan:
    """Load a plan file; refuse unreadable, unsupported or hand-edited plans."""
    data = _read_json(path)
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise PlanError(
            f"{path}: unsupported plan format_version {version!r} "
            f"(this oneatlas-plan reads version {FORMAT_VERSION})"
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{path}: not a valid plan file: {where}: {first['msg']}") from None
    if verify and plan.checksum != plan.compute_checksum():
        raise PlanError(
            f"{path}: checksum mismatch: the plan was modified after it was made; "
            "run `oneatlas-plan plan --out` again instead of editing it"
        )
    _check_consistent(path, plan)
    return plan


def _check_consistent(path: Path, plan: Plan) -> None:
    """What apply relies on beyond the model (a plan edited and re-checksummed by hand)."""
    addresses: set[str] = set()
    for resource in plan.resources:
        if resource.address in addresses:
            raise PlanError(f"{path}: resource {resource.address!r} appears twice; plan again")
        addresses.add(resource.address)
    keys: set[str] = set()
    for order in plan.orders:
        if order.key in keys:
            raise PlanError(f"{path}: order {order.key} appears twice; plan again")
        keys.add(order.key)
        missing = [a for a in order.addresses if a not in addresses] or (
            [] if order.addresses else ["(none)"]
        )
        if missing:
            raise PlanError(
                f"{path}: order {order.key} is for resource {missing[0]!r}, which the plan "
                "does not have; plan again"
            )


def _read_json(path: Path) -> dict[str, object]:
    try:
        text = _files.read_regular(path, MAX_PLAN_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such plan file") from None
    except _files.FileTooLargeError as error:
        raise InputError(f"{path}: {error.strerror} for a plan file") from None
    except _files.NotRegularFileError as error:
        raise InputError(f"{path}: {error.strerror}, not a plan file") from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not a plan file (not UTF-8 text at byte {error.start})"
        ) from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = _canonical.loads_bounded(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}:{error.lineno}:{error.colno}: not a plan file: invalid JSON ({error.msg})"
        ) from None
    except ValueError as error:  # e.g. an integer beyond Python's int/str digit limit
        raise InputError(f"{path}: not a plan file: invalid JSON ({error})") from None
    except RecursionError:  # the C decoder's answer to "[[[[..." (no position given)
        raise InputError(f"{path}: not a plan file: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a plan file: expected a JSON object")
    return data
