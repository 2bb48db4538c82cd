"""The project config file, ``oneatlas-plan.toml``, beside the specs::

    endpoint = "production"
    state = "postgresql://planner@db.example.org/imagery?schema=team_a"

    [defaults]
    lock_timeout = "2m"
    api_key_file = "secrets/oneatlas.key"

It is found like ``pyproject.toml``: in the current directory or the nearest parent, not
above the repository root (a directory holding ``.git``); ``ONEATLAS_CONFIG`` names one
explicitly. Its values are defaults: a command-line option wins, then the environment
(``ONEATLAS_STATE``, ``ONEATLAS_ENDPOINT``), then this file. Relative paths in it are
relative to the file. It never holds a secret: a database password belongs in
``PGPASSWORD``, ``~/.pgpass`` or a service file (a password in ``state`` is refused).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oneatlas_plan.errors import ConfigError

CONFIG_NAME = "oneatlas-plan.toml"
CONFIG_ENV = "ONEATLAS_CONFIG"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Defaults(_Model):
    lock_timeout: str | float | None = Field(default=None, description="e.g. 30s, 2m.")
    api_key_file: str | None = None


class ProjectConfig(_Model):
    endpoint: str | None = Field(default=None, description="'production', 'sandbox' or a URL.")
    state: str | None = Field(default=None, description="A state file path or postgresql:// URL.")
    defaults: Defaults = Field(default_factory=Defaults)


def find_config(start: Path, environ: dict[str, str]) -> Path | None:
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={explicit}: no such config file")
        return path
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def read_config(path: Path) -> ProjectConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in error.errors()
        ]
        raise ConfigError("\n".join(problems)) from None
    if config.state is not None and urlsplit(config.state).password:
        raise ConfigError(
            f"{path}: state: the URL holds a password; keep it out of the project (use "
            "PGPASSWORD, ~/.pgpass or a PGSERVICEFILE entry)"
        )
    return config


def _relative_to(base: Path, value: str) -> str:
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def option_defaults(config: ProjectConfig, base: Path) -> dict[str, Any]:
    """The config as click parameter defaults (parameter name -> value)."""
    values: dict[str, Any] = {}
    if config.endpoint is not None:
        values["endpoint"] = config.endpoint
    if config.state is not None:
        values["state_backend"] = _relative_to(base, config.state)
    if config.defaults.lock_timeout is not None:
        values["lock_timeout"] = config.defaults.lock_timeout
    if config.defaults.api_key_file is not None:
        values["api_key_file"] = _relative_to(base, config.defaults.api_key_file)
    return values


class CommandDefaults(dict[str, Any]):
    """A click ``default_map`` giving the same parameter defaults to every (sub)command."""

    def get(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        return self  # the map of a sub-command, looked up by its name


def project_defaults(cwd: Path, environ: dict[str, str]) -> CommandDefaults | None:
    path = find_config(cwd, environ)
    if path is None:
        return None
    return CommandDefaults(option_defaults(read_config(path), path.resolve().parent))
