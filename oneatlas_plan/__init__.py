"""Plan and apply Airbus OneAtlas archive imagery orders as code."""

from __future__ import annotations

__version__ = "0.1.0"
