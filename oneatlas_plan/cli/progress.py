"""Progress on stderr (tqdm), shown only when a stage takes more than a moment."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

LABELS = {
    "search": "searching",
    "price": "pricing",
    "order": "ordering",
    "reconcile": "reconciling",
    "refresh": "refreshing",
}


class StageProgress:
    """An ``on_event(stage, done, total)`` callback drawing one bar per stage."""

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or total <= 0:
            return
        bar = self._bars.get(stage)
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                desc=LABELS.get(stage, stage),
                unit=" req",
                file=sys.stderr,
                delay=1.0,
                leave=False,
                dynamic_ncols=True,
            )
            self._bars[stage] = bar
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for bar in self._bars.values():
            bar.close()
