"""The procedural catalogue: one scene's values equal its column's."""

from __future__ import annotations

import numpy as np

from oneatlas_plan.sandbox import catalog
from oneatlas_plan.sandbox.features import scene_record


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
