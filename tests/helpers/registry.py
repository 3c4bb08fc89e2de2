"""A real image registry on loopback for tests: Debian's `docker-registry` (the CNCF
distribution registry), its storage in a temporary folder. The Docker engine treats
127.0.0.0/8 registries as insecure by default, so it pushes and pulls over plain HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

MISSING = (
    "docker-registry is not installed: the official-image tests need Debian's "
    "`docker-registry` (`apt-get install -y docker-registry`; `make setup` installs it as root)"
)
CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def local_registry(root: Path) -> Iterator[str]:
    """Run a registry until the block ends; yields its address, `127.0.0.1:PORT`."""
    binary = shutil.which("docker-registry")
    assert binary, MISSING  # these tests must run, not skip
    port = _free_port()
    config = root / "config.yml"
    root.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG.format(root=root / "storage", port=port))
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, (root / "registry.log").read_text()
                assert time.monotonic() < deadline, "the registry did not answer in 30 s"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def push(client: docker.DockerClient, ref: str) -> None:
    """Push `ref` and drop the local tag, so a later use must pull it. docker-py reports a
    failed push inside the stream, not as an exception."""
    repository, tag = ref.rsplit(":", 1)
    for line in client.images.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(ref)
