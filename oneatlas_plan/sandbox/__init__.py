"""A faithful local OneAtlas server (search, access, Pay-Per-Order) for tests and ``--sandbox``.

This package never imports the rest of ``oneatlas_plan``; only the CLI glue imports it.
Entry points: :func:`oneatlas_plan.sandbox.embedded.start_embedded` and the click group
``oneatlas_plan.sandbox.cli:sandbox``.
"""

from __future__ import annotations
