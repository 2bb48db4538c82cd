"""The API key and tokens never appear in plan, state, journal, markdown, logs at any
verbosity or error output; plain http:// is refused off loopback; YAML is loaded safely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.errors import ExitCode
from tests.reliability.conftest import API_KEY, Project, Result

pytestmark = pytest.mark.timeout(120)

# A token is a JWT: base64url('{"...') = "eyJ..."; any of them in output is a leak.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")


def assert_clean(text: str, what: str) -> None:
    assert API_KEY not in text, f"API key leaked in {what}"
    assert API_KEY[:12] not in text, f"part of the API key leaked in {what}"
    assert not JWT.search(text), f"a token leaked in {what}: {JWT.search(text)}"


def test_key_and_tokens_never_written_or_printed(project: Project) -> None:
    outputs: list[tuple[str, Result]] = []
    # A wrong key (Airbus's refusal is shown), before anything is ordered.
    wrong = project.subprocess("plan", str(project.specs), "-vv", ONEATLAS_API_KEY=API_KEY[::-1])
    assert wrong.code == ExitCode.ERROR
    assert API_KEY[::-1] not in wrong.text, "the wrong key is echoed"
    outputs.append(("wrong key", wrong))
    # Token renewals, server errors (retried, logged at -vv) and an unknown outcome.
    project.faults(token_ttl=1, drop_next_orders=1, error_rate=0.2)
    for verbosity in (["-vv"], ["-v"], []):
        outputs.append(
            (
                "plan",
                project.subprocess(
                    "plan", str(project.specs), "--out", str(project.plan_path), *verbosity
                ),
            )
        )
        outputs.append(("apply", project.subprocess("apply", str(project.plan_path), *verbosity)))
    for output in ("markdown", "json", "geojson", "text"):
        outputs.append(
            (output, project.subprocess("show", str(project.plan_path), "--format", output))
        )
    outputs.append(("state list", project.subprocess("state", "list")))
    outputs.append(("state list json", project.subprocess("state", "list", "--format", "json")))
    assert any("Authorization" in r.err for _, r in outputs), "-vv logs the request headers"
    for what, result in outputs:
        assert "Traceback" not in result.text, (what, result.text)
        assert_clean(result.text, what)
    files = [p for p in project.root.rglob("*") if p.is_file() and "specs" not in p.parts]
    assert any(p.name.startswith("oneatlas-state.json") for p in files)
    for path in files:
        assert_clean(path.read_text(encoding="utf-8", errors="replace"), str(path))


def test_key_file_contents_are_not_echoed(project: Project, tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(API_KEY[::-1] + "\n")
    result = project.subprocess("plan", str(project.specs), "--api-key-file", str(key_file), "-vv")
    assert result.code == ExitCode.ERROR
    assert API_KEY[::-1] not in result.text


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://example.com",
        "http://10.0.0.1:8642",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://0.0.0.0:8642",
        "HTTP://EXAMPLE.COM",
        "http://user:pass@127.0.0.1:1",
        "ftp://127.0.0.1",
        "file:///etc/passwd",
    ],
)
def test_non_loopback_http_endpoint_is_refused_before_any_request(
    project: Project, endpoint: str
) -> None:
    project.base_url = endpoint
    result = project.cli("plan", str(project.specs))
    assert result.code == ExitCode.ERROR, result.text
    assert "endpoint" in result.err, result.err
    assert API_KEY not in result.text


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9"])
def test_loopback_http_is_allowed(endpoint: str) -> None:
    assert resolve_endpoint(endpoint).order == endpoint


def test_yaml_is_loaded_safely(tmp_path: Path, project: Project) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        f"!!python/object/apply:subprocess.check_output [['touch', '{marker}']]",
    ]
    for index, payload in enumerate(payloads):
        spec = tmp_path / f"evil-{index}.yaml"
        spec.write_text(f"version: 1\nname: {payload}\norders: []\n")
        result = project.cli("validate", str(spec))
        assert result.code == ExitCode.ERROR, result.text
        assert "tag" in result.err, result.err
    assert not marker.exists(), "YAML constructed a Python object"
