"""The embedded model as a solver (prompt cache, no logprobs) and as a verifier (logprobs,
no prompt cache): the endpoint says which, and the server is started to match."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

import agent.llm.embedded as embedded
import agent.llm.embedded_fetch as fetch
from quorum.models import EMBEDDED, endpoints_for


class _FakeServer:
    started: ClassVar[list[dict]] = []

    def __init__(self, path: Path, **kw) -> None:
        self.kw = kw
        self.base_url, self.model_name = "http://127.0.0.1:1/v1", "qwen"

    def __enter__(self) -> _FakeServer:
        _FakeServer.started.append(self.kw)
        return self

    def __exit__(self, *exc: object) -> None: ...


@pytest.mark.parametrize("logprobs", [False, True])
def test_each_role_gets_its_own_server(monkeypatch, tmp_path: Path, logprobs: bool) -> None:
    monkeypatch.setattr(embedded, "EmbeddedServer", _FakeServer)
    monkeypatch.setattr(embedded, "llama_cpp_installed", lambda: True)
    monkeypatch.setattr(fetch, "ensure_model", lambda cache_dir, progress=None: tmp_path / "m")
    _FakeServer.started.clear()
    with endpoints_for([EMBEDDED], {}, cache_dir=tmp_path, logprobs=logprobs) as [endpoint]:
        assert endpoint.config.supports_logprobs is logprobs
    [kw] = _FakeServer.started
    assert kw["logits_all"] is logprobs and kw["prompt_cache"] is not logprobs
