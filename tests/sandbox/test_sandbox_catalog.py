"""The procedural catalogue: one scene's values equal its column's; derived ids are UUIDs."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from oneatlas_plan.sandbox import catalog
from oneatlas_plan.sandbox.features import derived_uuid, scene_record

NAMESPACE = "6f1c3c52-3a5e-4f8e-9a59-1c0d6c1b7e21"  # the sandbox's, written out


def _scenes() -> catalog.Scenes:
    days = np.arange(4000, 4400)
    count = len(days)
    return catalog.generate(
        np.zeros(count, dtype=np.int64), np.full(count, 181), np.full(count, 133), days, seed=7
    )


def test_one_scene_is_published_when_its_column_says() -> None:
    scenes = _scenes()
    assert len(scenes) > 100
    column = scenes.published
    for i in range(len(scenes)):
        expected = float(column[i])
        assert catalog.published_at(float(scenes.acq[i]), int(scenes.hash2[i])) == expected
        assert scene_record(scenes, i, seed=7)["published"] == expected
        delay = expected - float(scenes.acq[i])
        assert catalog.PUBLISH_DELAY_MIN_S <= delay < (
            catalog.PUBLISH_DELAY_MIN_S + catalog.PUBLISH_SPREAD_S
        )


@pytest.mark.parametrize("parts", [
    ("a",), ("item", "image"), (123, "privilege", 4.5), ("", ""), ("Toulouse é", "pack"),
    tuple(range(12)),
])
def test_derived_ids_are_version_5_uuids_of_their_parts(parts: tuple[object, ...]) -> None:
    name = ":".join(str(p) for p in parts)
    assert derived_uuid(*parts) == str(uuid.uuid5(uuid.UUID(NAMESPACE), name))
