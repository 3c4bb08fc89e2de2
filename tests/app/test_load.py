"""A small burst of benchmarks/app_load.py in CI: signed deliveries with redeliveries, a
`kill -9` and a restart of the real server in the middle; no job lost, none made twice."""

from __future__ import annotations

from pathlib import Path

from benchmarks.app_load import run_burst


def test_a_burst_with_a_kill_loses_no_job_and_doubles_none(tmp_path: Path) -> None:
    result = run_burst(tmp_path, deliveries=60, seconds=3.0, clients=4)
    assert result.kills == 1
    assert result.retried > 0, "the kill fell outside the burst: it proved nothing"
    assert result.answered == result.deliveries == 60  # every one answered, after retries
    assert result.unique < result.deliveries  # redeliveries were in it
    assert result.duplicate_jobs == 0
    assert result.lost_jobs == 0
