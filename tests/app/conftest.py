"""Fixtures for the App's server tests: settings on a temporary database, and a running
app (lifespan and workers included) behind FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quorum.app.server import create_app
from quorum.app.settings import AppSettings
from quorum.app.workers import JobHandler
from tests.helpers.app_process import settings_for_tests

SECRET = "it's-a-secret-to-everybody"


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    return settings_for_tests(tmp_path / "app.db", SECRET, poll_interval_s=0.1)


@pytest.fixture
def running_app(app_settings: AppSettings) -> Callable[..., Iterator[TestClient]]:
    """`with running_app(handler, workers=2, per_installation=1) as client:`"""

    @contextmanager
    def start(handler: JobHandler, **overrides: object) -> Iterator[TestClient]:
        settings = app_settings.model_copy(update=overrides)
        with TestClient(create_app(settings, handler)) as client:
            yield client

    return start
