"""When `apply` asks Airbus for a price again before ordering (kept light: the CLI parses it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DEFAULT_REPRICE_MAX_AGE_S = 3600.0  # the planner's price-reuse TTL: see docs/performance.md


@dataclass(frozen=True)
class RepricePolicy:
    """When apply asks Airbus for a price again before ordering (one ordering call each)."""

    mode: Literal["always", "never", "older-than"] = "older-than"
    max_age_s: float = DEFAULT_REPRICE_MAX_AGE_S

    def needed(self, priced_at: str | None, now: datetime) -> bool:
        """A price of unknown age (an old plan file, a removed ``meta``) counts as old."""
        if self.mode != "older-than":
            return self.mode == "always"
        if priced_at is None:
            return True
        try:
            obtained = datetime.fromisoformat(priced_at)
        except ValueError:
            return True
        if obtained.tzinfo is None:
            return True
        return (now - obtained).total_seconds() > self.max_age_s

    def describe(self) -> str:
        if self.mode != "older-than":
            return self.mode
        return f"older-than {self.max_age_s:g}s"
