"""`quorum app --log-json` as a user runs it: a real process serving the real handler, its
log one JSON object a line, a rejected delivery logged by id and event without its body."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers.app_process import free_port
from tests.helpers.webhooks import issue_labeled, signed_delivery


@pytest.mark.slow  # a process importing the whole CLI
def test_quorum_app_serves_and_logs_json_lines(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))  # fmt: skip
    port = free_port()
    env = {**os.environ, "QUORUM_APP_ID": "1", "QUORUM_APP_PRIVATE_KEY_PATH": str(key),
           "QUORUM_WEBHOOK_SECRET": "the-secret", "QUORUM_APP_DB": str(tmp_path / "q.db"),
           "QUORUM_APP_WORKDIR": str(tmp_path / "work"),
           "QUORUM_GITHUB_API_URL": "http://127.0.0.1:9"}  # fmt: skip
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "quorum.cli", "app", "--port", str(port),
                                 "--log-json"], env=env, stderr=err)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        payload = issue_labeled(body="BODY-MUST-NOT-BE-LOGGED")
        headers, body = signed_delivery("a-guess", "issues", payload, "forged-42")
        reply = httpx.post(f"http://127.0.0.1:{port}/webhooks", content=body, headers=headers)
        assert reply.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rejected = [r for r in records if r["logger"] == "quorum.app.server" and "forged" in
                r["message"]]  # fmt: skip
    assert len(rejected) == 1 and "forged-42" in rejected[0]["message"]
    assert "'issues'" in rejected[0]["message"] and rejected[0]["level"] == "warning"
    assert "BODY-MUST-NOT-BE-LOGGED" not in log.read_text()
    assert "the-secret" not in log.read_text()
    assert any(r["message"] == "Application shutdown complete." for r in records)
