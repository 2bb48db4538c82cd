"""The `world` fixture (sandbox + project dir) lives in tests/conftest.py."""

from __future__ import annotations

from tests.conftest import World

__all__ = ["World"]
