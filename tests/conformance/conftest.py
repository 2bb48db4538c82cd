"""The scriptable OneAtlas look-alike of tests/api records what the client sends."""

from __future__ import annotations

from tests.api.conftest import fake, make_client

__all__ = ["fake", "make_client"]
