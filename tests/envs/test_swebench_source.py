import json
from pathlib import Path

import pytest

from envs.errors import InstanceNotFound
from envs.sources.swebench import task_from_swebench
from tests.helpers.shared_data import shared_path


def test_real_instance_becomes_a_task_without_the_gold_patch():
    data = shared_path("data", "swe-bench", "lite-test.jsonl")
    task = task_from_swebench("pallets__flask-5063", data)
    raw = next(json.loads(line) for line in data.open() if "pallets__flask-5063" in line)
    assert task.id == "pallets__flask-5063" and task.repo == "pallets/flask"
    assert task.base_commit == raw["base_commit"] and task.source == "swebench"
    assert task.url == "https://github.com/pallets/flask"
    assert task.hidden is not None
    assert task.hidden.fail_to_pass == json.loads(raw["FAIL_TO_PASS"])
    assert task.hidden.pass_to_pass == json.loads(raw["PASS_TO_PASS"])
    assert task.hidden.test_patch == raw["test_patch"]
    assert raw["patch"] not in task.model_dump_json()


def test_local_repository_instance(tmp_path: Path):
    record = {"instance_id": "team__tool-1", "repo": "./tool", "base_commit": "c" * 40,
              "problem_statement": "bug", "FAIL_TO_PASS": ["t::x"], "PASS_TO_PASS": []}
    dataset = tmp_path / "mine.jsonl"
    dataset.write_text(json.dumps(record) + "\n")
    task = task_from_swebench("team__tool-1", dataset)
    assert task.repo == str(tmp_path / "tool") and task.url is None
    with pytest.raises(InstanceNotFound):
        task_from_swebench("team__tool-2", dataset)
