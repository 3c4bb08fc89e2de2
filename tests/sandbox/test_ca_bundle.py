"""Which CA bundle sandboxes get: $QUORUM_CA_BUNDLE first, else the host's system bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.config import HOST_CA_BUNDLE, default_ca_bundle
from sandbox.errors import SandboxError


def test_the_configured_bundle_wins(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert default_ca_bundle({"QUORUM_CA_BUNDLE": str(bundle)}) == bundle


def test_a_configured_bundle_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not a file"):
        default_ca_bundle({"QUORUM_CA_BUNDLE": str(tmp_path / "nope.pem")})


def test_without_configuration_the_host_bundle_is_used() -> None:
    expected = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    assert default_ca_bundle({}) == expected
