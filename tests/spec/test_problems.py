from __future__ import annotations

import os
from pathlib import Path

import pytest

from oneatlas_plan.spec.problems import display_path


@pytest.mark.parametrize(
    ("cwd", "path", "shown"),
    [
        ("/work/repo", "specs/a.yaml", "specs/a.yaml"),
        ("/work/repo", "/work/repo/specs/a.yaml", "specs/a.yaml"),
        ("/work/repo", "/work/repo", "."),
        ("/work/repo", "/work/repository/a.yaml", "/work/repository/a.yaml"),
        ("/work/repo", "../other/a.yaml", "/work/other/a.yaml"),
        ("/work/repo", "specs/../a.yaml", "a.yaml"),
        ("/", "/etc/a.yaml", "etc/a.yaml"),
    ],
)
def test_display_path_is_relative_under_the_current_directory_only(
    cwd: str, path: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getcwd", lambda: cwd)
    assert display_path(Path(path)) == shown
