"""What `quorum app` starts from: the settings read from the environment, the webhook
signature, and the command's errors and help."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner, Result

from quorum import cli
from quorum.app.settings import DEFAULT_API_URL, VARIABLES, AppSettings, SettingsError
from quorum.app.signature import sign, verify
from tests.helpers.webhooks import issue_labeled, signed_delivery


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("key") / "app.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))  # fmt: skip
    return path


def env_for(key_file: Path, **extra: str) -> dict[str, str]:
    return {"QUORUM_APP_ID": "123", "QUORUM_APP_PRIVATE_KEY_PATH": str(key_file),
            "QUORUM_WEBHOOK_SECRET": "s3cret-value", **extra}  # fmt: skip


def test_settings_from_the_environment(key_file: Path, tmp_path: Path) -> None:
    settings = AppSettings.from_env(env_for(
        key_file, QUORUM_APP_DB=str(tmp_path / "q.db"), QUORUM_APP_WORKERS="3",
        QUORUM_APP_PER_INSTALLATION="2", QUORUM_GITHUB_API_URL="http://127.0.0.1:9/api/v3/"))
    assert (settings.app_id, settings.workers, settings.per_installation_concurrency) == (123, 3, 2)
    assert settings.db_path == tmp_path / "q.db"
    assert settings.github_api_url == "http://127.0.0.1:9/api/v3"
    assert "BEGIN RSA PRIVATE KEY" in settings.private_key_pem.get_secret_value()
    assert "s3cret-value" not in repr(settings) and "PRIVATE KEY" not in repr(settings)
    defaults = AppSettings.from_env(env_for(key_file))
    assert defaults.github_api_url == DEFAULT_API_URL and defaults.db_path.name == "app.db"


@pytest.mark.parametrize(
    ("change", "variable"),
    [({"QUORUM_WEBHOOK_SECRET": ""}, "QUORUM_WEBHOOK_SECRET"),
     ({"QUORUM_APP_ID": ""}, "QUORUM_APP_ID"),
     ({"QUORUM_APP_ID": "twelve"}, "QUORUM_APP_ID"),
     ({"QUORUM_APP_ID": "0"}, "QUORUM_APP_ID"),
     ({"QUORUM_APP_PRIVATE_KEY_PATH": "/nonexistent/app.pem"}, "QUORUM_APP_PRIVATE_KEY_PATH"),
     ({"QUORUM_APP_WORKERS": "0"}, "QUORUM_APP_WORKERS"),
     ({"QUORUM_APP_POLL_S": "soon"}, "QUORUM_APP_POLL_S")],
)  # fmt: skip
def test_a_bad_setting_names_its_variable(key_file: Path, change: dict[str, str],
                                          variable: str) -> None:  # fmt: skip
    with pytest.raises(SettingsError) as caught:
        AppSettings.from_env(env_for(key_file, **change))
    assert str(caught.value).startswith(variable)


def test_a_key_file_without_a_key_is_refused(tmp_path: Path) -> None:
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello")
    with pytest.raises(SettingsError, match="holds no PEM private key"):
        AppSettings.from_env(env_for(not_a_key))


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    headers, body = signed_delivery("k", "issues", issue_labeled())
    assert verify("k", body, headers["X-Hub-Signature-256"])
    # GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    for header in (None, "", "sha1=abc", sign("other", body), sign("k", body)[:-1], "sha256=é"):
        assert not verify("k", body, header)
    assert not verify("", body, sign("", body))  # no secret configured: nothing verifies


def run_quorum(*args: str, env: dict[str, str]) -> Result:
    """`quorum ARGS` in this process (the CLI's import is shared with the suite)."""
    unset: dict[str, str | None] = dict.fromkeys(
        [k for k in os.environ if k.startswith("QUORUM_APP")] + ["QUORUM_WEBHOOK_SECRET"])
    return CliRunner().invoke(cli.app, list(args), env={**unset, **env})


def test_quorum_app_without_its_secret_is_one_error_line(key_file: Path) -> None:
    done = run_quorum("app", env=env_for(key_file, QUORUM_WEBHOOK_SECRET=""))
    assert done.exit_code == 1
    assert done.stderr.startswith("error: QUORUM_WEBHOOK_SECRET is not set")
    assert "hint: export QUORUM_WEBHOOK_SECRET=" in done.stderr
    assert "Traceback" not in done.output


def test_quorum_app_with_an_unreadable_key_is_one_error_line(tmp_path: Path) -> None:
    done = run_quorum("app", env=env_for(tmp_path / "missing.pem"))
    assert done.exit_code == 1
    assert done.stderr.startswith("error: QUORUM_APP_PRIVATE_KEY_PATH: cannot read")
    assert "Traceback" not in done.output


def test_quorum_app_help_names_every_setting() -> None:
    done = run_quorum("app", "--help", env={"COLUMNS": "200"})
    assert done.exit_code == 0
    for name in VARIABLES:
        assert name in done.stdout
    assert "--log-json" in done.stdout and "/readyz" in done.stdout
