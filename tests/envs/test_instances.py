import json
from pathlib import Path

import pytest

from envs.errors import DatasetError, InstanceNotFound
from envs.instances import load_instances, parse_slice, select, write_instances
from tests.helpers.shared_data import shared_path

REAL = {"lite-test.jsonl": 300, "lite-dev.jsonl": 23, "verified-mini.jsonl": 50}

RAW = {
    "instance_id": "acme__widgets-1", "repo": "acme/widgets", "base_commit": "a" * 40,
    "patch": "GOLD", "test_patch": "TESTS", "problem_statement": "It breaks.",
    "hints_text": "", "version": "1.2", "created_at": "2024-01-01T00:00:00Z",
    "environment_setup_commit": "b" * 40,
    "FAIL_TO_PASS": json.dumps(["tests/test_a.py::test_x"]),
    "PASS_TO_PASS": json.dumps(["tests/test_a.py::test_y", "tests/test_a.py::test_z"]),
}


@pytest.mark.parametrize(("name", "rows"), sorted(REAL.items()))
def test_every_real_instance_loads(name: str, rows: int):
    instances = load_instances(shared_path("data", "swe-bench", name))
    assert len(instances) == rows
    for inst in instances:
        assert inst.fail_to_pass, inst.instance_id
        assert len(inst.base_commit) == 40 and "/" in inst.repo
        assert inst.patch and inst.test_patch and inst.version


def write_jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_official_fields(tmp_path: Path):
    [inst] = load_instances(write_jsonl(tmp_path / "d.jsonl", RAW))
    assert inst.fail_to_pass == ["tests/test_a.py::test_x"]
    assert inst.pass_to_pass == ["tests/test_a.py::test_y", "tests/test_a.py::test_z"]
    assert inst.patch == "GOLD" and inst.version == "1.2"


def test_lowercase_keys_real_lists_numeric_version_and_json_array(tmp_path: Path):
    raw = {k: v for k, v in RAW.items() if k not in ("FAIL_TO_PASS", "PASS_TO_PASS")}
    raw |= {"fail_to_pass": ["t::a"], "pass_to_pass": [], "version": 3.0, "extra": 1}
    path = tmp_path / "d.json"
    path.write_text(json.dumps([raw, {**raw, "instance_id": "acme__widgets-2"}]))
    first, second = load_instances(path)
    assert first.fail_to_pass == ["t::a"] and first.pass_to_pass == []
    assert first.version == "3.0" and second.instance_id == "acme__widgets-2"


def test_round_trip(tmp_path: Path):
    [inst] = load_instances(write_jsonl(tmp_path / "a.jsonl", RAW))
    [again] = load_instances(write_instances([inst], tmp_path / "b.jsonl"))
    assert again == inst


def test_relative_local_repo_resolves_against_the_file(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    path = write_jsonl(tmp_path / "sub" / "d.jsonl", {**RAW, "repo": "../repos/one"})
    assert load_instances(path)[0].repo == str((tmp_path / "repos" / "one").resolve())


def test_errors_name_the_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(RAW) + "\n{not json\n")
    with pytest.raises(DatasetError, match=r"d.jsonl:2: not valid JSON"):
        load_instances(path)
    write_jsonl(path, RAW, {k: v for k, v in RAW.items() if k != "base_commit"})
    with pytest.raises(DatasetError, match=r"d.jsonl:2 \(acme__widgets-1\): base_commit"):
        load_instances(path)
    write_jsonl(path, {**RAW, "FAIL_TO_PASS": "[oops"})
    with pytest.raises(DatasetError, match=r"FAIL_TO_PASS: .*not a JSON list of test ids"):
        load_instances(path)
    write_jsonl(path, RAW, RAW)
    with pytest.raises(DatasetError, match="appears twice"):
        load_instances(path)
    with pytest.raises(DatasetError, match="cannot read"):
        load_instances(tmp_path / "missing.jsonl")
    path.write_text("\n")
    with pytest.raises(DatasetError, match="empty"):
        load_instances(path)


@pytest.fixture
def many(tmp_path: Path):
    ids = ["psf__requests-1", "pallets__flask-2", "psf__requests-3", "django__django-4"]
    return load_instances(write_jsonl(tmp_path / "d.jsonl",
                                      *({**RAW, "instance_id": i} for i in ids)))


def ids_of(instances):
    return [i.instance_id for i in instances]


def test_select_by_ids_keeps_dataset_order(many):
    chosen = select(many, ids=["psf__requests-3", "pallets__flask-2"])
    assert ids_of(chosen) == ["pallets__flask-2", "psf__requests-3"]


def test_unknown_ids_are_named_with_a_suggestion(many):
    with pytest.raises(InstanceNotFound, match=r"psf__requests-9 \(did you mean psf__requests-"):
        select(many, ids=["psf__requests-9"])


def test_select_by_regex_then_slice(many):
    assert ids_of(select(many, filter_regex=r"^psf__")) == ["psf__requests-1", "psf__requests-3"]
    assert ids_of(select(many, filter_regex="requests", slice="1:")) == ["psf__requests-3"]
    assert ids_of(select(many, slice=slice(None, None, 2))) == ["psf__requests-1",
                                                                 "psf__requests-3"]
    assert ids_of(select(many, slice="2")) == ["psf__requests-1", "pallets__flask-2"]
    assert select(many) == many


@pytest.mark.parametrize("spec", ["a:b", "1:2:3:4"])
def test_bad_slices(spec: str):
    with pytest.raises(DatasetError, match="bad slice"):
        parse_slice(spec)


def test_bad_regex(many):
    with pytest.raises(DatasetError, match="bad filter regex"):
        select(many, filter_regex="(")
