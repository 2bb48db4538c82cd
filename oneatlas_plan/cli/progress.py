"""Progress on stderr: a tqdm bar on a terminal (shown only when a stage takes more than a
moment); elsewhere (CI logs, pipes) one plain line per stage, when it starts.

Events may come from several threads (the contract look-ups run beside the searches).
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

LABELS = {
    "search": "searching",
    "contracts": "checking contracts and options",
    "price": "pricing",
    "order": "ordering",
    "reconcile": "reconciling",
    "refresh": "refreshing",
}


class StageProgress:
    """An ``on_event(stage, done, total)`` callback drawing one bar per stage."""

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self._enabled = enabled
        self._stream = stream
        self._bars: dict[str, Any] = {}
        self._announced: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or total <= 0:
            return
        with self._lock:
            self._show(stage, done, total)

    def _show(self, stage: str, done: int, total: int) -> None:
        stream = self._stream or sys.stderr
        if not stream.isatty():
            if stage not in self._announced:
                self._announced.add(stage)
                plural = "s" if total != 1 else ""
                stream.write(f"{LABELS.get(stage, stage)}: {total} request{plural}\n")
                stream.flush()
            return
        bar = self._bars.get(stage)
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                desc=LABELS.get(stage, stage),
                unit=" req",
                file=stream,
                delay=1.0,
                leave=False,
                dynamic_ncols=True,
            )
            self._bars[stage] = bar
        if bar.total != total:  # a stage whose work is found as it goes (pricing)
            bar.total = total
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
