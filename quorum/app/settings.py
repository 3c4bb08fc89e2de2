"""The App's settings, read once from the environment by `AppSettings.from_env` (the only
place that reads it) and passed down. Secrets are SecretStr: they never print."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from sandbox.errors import QuorumError

DEFAULT_API_URL = "https://api.github.com"

# name -> (what it is, default shown in `quorum app --help`)
VARIABLES: dict[str, tuple[str, str]] = {
    "QUORUM_APP_ID": ("the GitHub App's numeric id (its settings page)", "required"),
    "QUORUM_APP_PRIVATE_KEY_PATH": ("the App's private key (.pem) file", "required"),
    "QUORUM_WEBHOOK_SECRET": ("the webhook secret set when registering the App", "required"),
    "QUORUM_GITHUB_API_URL": (
        "the REST API root (GitHub Enterprise Server: https://HOST/api/v3)", DEFAULT_API_URL),
    "QUORUM_APP_DB": ("the SQLite job queue", "<data dir>/app/app.db"),
    "QUORUM_APP_WORKDIR": ("where jobs clone and keep their run directories",
                           "<data dir>/app/work"),
    "QUORUM_APP_WORKERS": ("jobs run at once in all", "2"),
    "QUORUM_APP_PER_INSTALLATION": ("jobs run at once for one installation", "1"),
    "QUORUM_APP_MODEL": ("the model jobs use unless .github/quorum.yml names one",
                         "the CLI's default"),
    "QUORUM_APP_VERIFIER_MODEL": (
        "the execution-free verifier scoring each unique patch (a name `quorum solve "
        "--verifier-model` takes; it must serve logprobs)", "none"),
    "QUORUM_APP_MODELS_FILE": (
        "a models file as `quorum solve --models-file` takes (endpoints, keys' variables, "
        "prices, logprobs)", "none"),
    "QUORUM_APP_POLL_S": ("how often idle workers look at the queue (seconds)", "2"),
    "DOCKER_HOST": ("the Docker engine sandboxes run on (/readyz pings it)", "the local socket"),
    "QUORUM_APP_MONTHLY_USD": ("dollars one installation may spend per calendar month (UTC)",
                               "no cap"),
    "QUORUM_APP_MONTHLY_TOKENS": ("tokens one installation may spend per calendar month",
                                  "no cap"),
    "QUORUM_APP_MODELS": ("comma-separated models .github/quorum.yml may choose", "none"),
}


class SettingsError(QuorumError):
    """A setting is missing or unusable; the message names the variable."""


class AppSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    app_id: int = Field(ge=1)
    private_key_path: Path
    private_key_pem: SecretStr
    webhook_secret: SecretStr
    github_api_url: str = DEFAULT_API_URL
    db_path: Path
    workdir: Path
    workers: int = Field(default=2, ge=1, le=64)
    per_installation_concurrency: int = Field(default=1, ge=1, le=64)
    model: str | None = None
    verifier_model: str | None = None  # None: selection without the verifier
    models_file: Path | None = None
    poll_interval_s: float = Field(default=2.0, gt=0, le=60)
    docker_host: str | None = None  # None: the local socket (DOCKER_HOST unset)
    monthly_usd: float | None = Field(default=None, ge=0)  # per installation (spend.py)
    monthly_tokens: int | None = Field(default=None, ge=0)
    allowed_models: tuple[str, ...] = ()  # what a repository's quorum.yml may name

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AppSettings:
        """The settings from `environ`; a SettingsError naming the variable otherwise."""
        data_dir = Path(user_data_dir("quorum")) / "app"
        secret = _required(environ, "QUORUM_WEBHOOK_SECRET")
        app_id = _integer(environ, "QUORUM_APP_ID", None)
        key_path = Path(_required(environ, "QUORUM_APP_PRIVATE_KEY_PATH")).expanduser()
        try:
            pem = key_path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(
                f"QUORUM_APP_PRIVATE_KEY_PATH: cannot read {key_path} "
                f"({getattr(exc, 'strerror', None) or type(exc).__name__})",
                hint="point it at the .pem file downloaded from the App's settings page",
            ) from exc
        if "PRIVATE KEY-----" not in pem:
            raise SettingsError(
                f"QUORUM_APP_PRIVATE_KEY_PATH: {key_path} holds no PEM private key",
                hint="use the .pem file GitHub generated for the App",
            )
        try:
            return cls(
                app_id=app_id,
                private_key_path=key_path,
                private_key_pem=SecretStr(pem),
                webhook_secret=SecretStr(secret),
                github_api_url=(environ.get("QUORUM_GITHUB_API_URL") or DEFAULT_API_URL
                                ).rstrip("/"),
                db_path=Path(environ.get("QUORUM_APP_DB") or data_dir / "app.db").expanduser(),
                workdir=Path(environ.get("QUORUM_APP_WORKDIR") or data_dir / "work"
                             ).expanduser(),
                workers=_integer(environ, "QUORUM_APP_WORKERS", 2),
                per_installation_concurrency=_integer(environ, "QUORUM_APP_PER_INSTALLATION", 1),
                model=environ.get("QUORUM_APP_MODEL") or None,
                verifier_model=environ.get("QUORUM_APP_VERIFIER_MODEL", "").strip() or None,
                models_file=_path(environ, "QUORUM_APP_MODELS_FILE"),
                poll_interval_s=_number(environ, "QUORUM_APP_POLL_S", 2.0),
                docker_host=environ.get("DOCKER_HOST") or None,
                monthly_usd=_optional(environ, "QUORUM_APP_MONTHLY_USD", float),
                monthly_tokens=_optional(environ, "QUORUM_APP_MONTHLY_TOKENS", int),
                allowed_models=tuple(m.strip() for m in environ.get("QUORUM_APP_MODELS", "")
                                     .split(",") if m.strip()),
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            raise SettingsError(
                f"{_variable_of(field)}: {error['msg']}",
                hint="see `quorum app --help` for every setting",
            ) from None


_FIELD_VARIABLE = {
    "app_id": "QUORUM_APP_ID",
    "workers": "QUORUM_APP_WORKERS",
    "per_installation_concurrency": "QUORUM_APP_PER_INSTALLATION",
    "poll_interval_s": "QUORUM_APP_POLL_S",
    "github_api_url": "QUORUM_GITHUB_API_URL",
    "monthly_usd": "QUORUM_APP_MONTHLY_USD",
    "monthly_tokens": "QUORUM_APP_MONTHLY_TOKENS",
}


def _variable_of(field: str) -> str:
    return _FIELD_VARIABLE.get(field, field)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        what = VARIABLES[name][0]
        raise SettingsError(f"{name} is not set: {what}", hint=f"export {name}=...")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int | None) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        if default is None:
            return int(_required(environ, name))
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    raw = environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _optional(environ: Mapping[str, str], name: str, kind: type[float] | type[int]) -> Any:
    """A number, or None when unset (no cap)."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name}: expected {what}, got {raw!r}") from None
