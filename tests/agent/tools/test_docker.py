"""The same tools in a Docker sandbox: nothing in them assumes the host's filesystem."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from agent.tools import Submitted, ToolError
from sandbox.config import DockerSandboxConfig, SnapshotSpec
from sandbox.protocol import Sandbox
from sandbox.provider import DockerProvider
from tests.agent.tools.conftest import caller

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def snapshot(docker_client: docker.DockerClient, base_image: str, source_repo: Path) -> str:
    return DockerProvider(docker_client).snapshot(
        SnapshotSpec(base_image=base_image, source=source_repo)
    )


@pytest.fixture
def box(docker_client: docker.DockerClient, snapshot: str) -> Iterator[Sandbox]:
    provider = DockerProvider(docker_client, run_id="pytest-tools")
    try:
        with provider.start(DockerSandboxConfig(image=snapshot)) as sandbox:
            yield sandbox
    finally:
        provider.close_all()


def test_view_edit_bash_and_submit_in_a_container(box: Sandbox) -> None:
    call = caller(box)
    assert call("view", path="pkg/calc.py", start_line=2, end_line=2) == (
        "pkg/calc.py, lines 2-2 of 6:\n   2\t    return a - b")
    assert "src/queue.rs" in call("view", path=".")
    with pytest.raises(ToolError, match=r"old_str occurs 2 times in pkg/calc.py"):
        call("edit", command="str_replace", path="pkg/calc.py", old_str="(a, b)", new_str="()")
    call("edit", command="str_replace", path="pkg/calc.py", old_str="a - b", new_str="a + b")
    call("edit", command="create", path="tests/test_calc.py",
         file_text="from pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n")
    assert call("bash", command="python3 -c 'import pkg.calc as c; print(c.add(2, 2))'") == (
        "exit code: 0\n--- stdout ---\n4")
    with pytest.raises(ToolError, match=r"logo.bin is not a UTF-8 text file"):
        call("view", path="logo.bin")
    with pytest.raises(ToolError, match="resolves \\(through a symlink\\) to outside"):
        call("bash", command="ln -s /etc/passwd escape")
        call("view", path="escape")
    with pytest.raises(Submitted) as done:
        call("submit", summary="fix add")
    assert "+    return a + b" in done.value.patch and "tests/test_calc.py" in done.value.patch


def test_search_and_timeouts_in_a_container(box: Sandbox) -> None:
    call = caller(box)
    assert call("search", command="grep", pattern="return a -") == (
        "1 matches in 1 files:\npkg/calc.py:2:    return a - b")
    assert "21-26  func (s *Store) Get(key string)" in call("search", command="outline",
                                                     path="src/store.go")
    assert call("search", command="symbol", name="Queue::push").startswith(
        "1 definition of 'Queue::push':\nsrc/queue.rs:22-28  method Queue.push")
    start = time.monotonic()
    out = call("bash", command="sleep 60", timeout=1)
    assert time.monotonic() - start < 15
    assert out.startswith("TIMED OUT: the command was killed after 1 s")
