"""envs.loader: every file Quorum reads, validated on load, each problem as FILE:LINE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from envs.errors import DatasetError, LoadError
from envs.loader import drop_truncated_tail, load_document, load_records
from envs.predictions import read_predictions


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    n: int = 0


def _lines(path: Path, *lines: str, newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if newline else ""))
    return path


def test_a_bad_line_after_good_ones_is_named_by_its_own_line(tmp_path: Path) -> None:
    path = _lines(tmp_path / "rows.jsonl", '{"id": "a"}', '{"id": "b"}', '{"id": 5}')
    with pytest.raises(LoadError) as caught:
        load_records(path, Row)
    assert str(caught.value) == f"{path}:3: id: Input should be a valid string (got 5)"
    assert (caught.value.path, caught.value.line) == (path, 3)
    _lines(path, '{"id": "a"}', "{not json")
    with pytest.raises(LoadError, match=r"rows.jsonl:2: not valid JSON \(Expecting"):
        load_records(path, Row)
    _lines(path, '{"id": "a"}', "[1, 2]")
    with pytest.raises(LoadError, match=r"rows.jsonl:2: expected a JSON object, got a list"):
        load_records(path, Row)


def test_json_arrays_and_keyed_objects_report_the_line_of_the_record(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"id": "a"}, {"id": "b", "n": "many"}], indent=2))
    with pytest.raises(LoadError, match=r"rows.json:5: n: Input should be a valid integer"):
        load_records(path, Row)
    path.write_text('{\n  "a": {"id": "a"},\n  "b": {"id": "b"}\n}\n')
    loaded = load_records(path, Row, keyed_by="id")
    assert [r.id for r in loaded.records] == ["a", "b"] and loaded.lines == [2, 3]
    path.write_text('[{"id": "a"},\n {"id": "b",\n')
    with pytest.raises(LoadError, match=r"rows.json:3: not valid JSON"):
        load_records(path, Row)


def test_skip_invalid_keeps_the_good_records_and_names_the_bad_lines(tmp_path: Path) -> None:
    path = _lines(tmp_path / "rows.jsonl", '{"id": "a"}', "oops", '{"id": "b", "x": 1}',
                  '{"id": "c"}', '{"id": "a"}')  # fmt: skip
    loaded = load_records(path, Row, skip_invalid=True, name_field="id", unique=lambda r: r.id)
    assert [r.id for r in loaded.records] == ["a", "c"] and loaded.lines == [1, 4]
    assert [(e.line, e.record) for e in loaded.skipped] == [(2, None), (3, "b"), (5, "a")]
    notes = loaded.notes()
    assert notes[0].startswith(f"skipped {path}:2: not valid JSON")
    assert notes[1] == f"skipped {path}:3 (b): x: Extra inputs are not permitted"
    assert notes[2] == f"skipped {path}:5 (a): a appears twice (first on line 1)"


def test_a_truncated_last_line_is_tolerated_only_where_asked_and_only_last(
    tmp_path: Path,
) -> None:
    path = _lines(tmp_path / "c.jsonl", '{"id": "a"}', '{"id": "b", "n', newline=False)
    with pytest.raises(LoadError, match=r"c\.jsonl:2: not valid JSON"):
        load_records(path, Row)  # a file the user gave: no tolerance
    loaded = load_records(path, Row, tolerate_truncated_tail=True)
    assert [r.id for r in loaded.records] == ["a"] and loaded.truncated == 2
    assert loaded.notes() == [f"{path}:2: left out a truncated last line "
                              "(cut short by a crash mid-write)"]  # fmt: skip
    drop_truncated_tail(loaded)
    assert path.read_text() == '{"id": "a"}\n'
    with path.open("a") as f:  # the next append starts a line of its own
        f.write('{"id": "c"}\n')
    assert [r.id for r in load_records(path, Row, tolerate_truncated_tail=True).records] == [
        "a", "c"]  # fmt: skip

    _lines(path, '{"id": "a"}', '{"id": "b", "n', '{"id": "c"}', newline=False)
    with pytest.raises(LoadError, match=r"c\.jsonl:2: not valid JSON"):
        load_records(path, Row, tolerate_truncated_tail=True)  # cut in the middle: corrupt
    _lines(path, '{"id": "a"}', '{"id": "b", "n')
    with pytest.raises(LoadError, match=r"c\.jsonl:2"):  # ends in a newline: written whole
        load_records(path, Row, tolerate_truncated_tail=True)
    _lines(path, '{"id": "a"}', '{"id": 7}', newline=False)
    with pytest.raises(LoadError, match=r"c\.jsonl:2: id"):  # whole JSON, invalid: not a cut
        load_records(path, Row, tolerate_truncated_tail=True)


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"missing.jsonl: cannot read the predictions file"):
        read_predictions(tmp_path / "missing.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\n")
    with pytest.raises(LoadError, match=r"bin\.jsonl: the file is not UTF-8 text"):
        load_records(tmp_path / "bin.jsonl", Row)


def test_predictions_in_every_shape_and_their_errors(tmp_path: Path) -> None:
    one = {"instance_id": "a", "model_patch": None, "model_name_or_path": "m", "extra": 1}
    (tmp_path / "one.json").write_text(json.dumps(one))
    [pred] = read_predictions(tmp_path / "one.json").records
    assert (pred.instance_id, pred.model_patch, pred.model_extra) == ("a", "", {"extra": 1})
    path = _lines(tmp_path / "p.jsonl", json.dumps(one), json.dumps(one))
    with pytest.raises(LoadError, match=r"p.jsonl:2 \(a\): a appears twice"):
        read_predictions(path)
    _lines(path, json.dumps(one), json.dumps({"instance_id": 5, "model_patch": "x"}))
    with pytest.raises(LoadError) as caught:
        read_predictions(path)
    assert str(caught.value) == f"{path}:2: instance_id: Input should be a valid string (got 5)"


def test_dataset_errors_are_dataset_errors_and_load_errors(tmp_path: Path) -> None:
    from envs.instances import load_instances, read_instances

    good = {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "c", "problem_statement": "x"}
    path = _lines(tmp_path / "d.jsonl", json.dumps(good), json.dumps({"instance_id": "o__r-2"}))
    with pytest.raises(DatasetError) as caught:
        load_instances(path)
    assert isinstance(caught.value, LoadError) and caught.value.line == 2
    assert str(caught.value).startswith(f"{path}:2 (o__r-2): repo: Field required")
    loaded = read_instances(path, skip_invalid=True)
    assert [i.instance_id for i in loaded.records] == ["o__r-1"]
    assert [e.line for e in loaded.skipped] == [2]


class Settings(BaseModel):
    """A config document, as the App's .github/quorum.yml will be."""

    model_config = ConfigDict(extra="forbid")

    budget_usd: float = Field(1.0, ge=0)
    models: list[str] = Field(default_factory=list)


def test_documents_name_the_line_of_the_bad_field(tmp_path: Path) -> None:
    toml = tmp_path / "q.toml"
    toml.write_text('models = ["a"]\n# a comment\nbudget_usd = -2\n')
    with pytest.raises(LoadError) as caught:
        load_document(toml, Settings)
    assert str(caught.value) == (
        f"{toml}:3: budget_usd: Input should be greater than or equal to 0 (got -2)"
    )
    toml.write_text('models = ["a"]\nbudget_usd = \n')
    with pytest.raises(LoadError, match=r"q.toml:2: not valid TOML \(Invalid value\)"):
        load_document(toml, Settings)

    doc = tmp_path / "q.json"
    doc.write_text('{\n  "models": ["a"],\n  "budget": 3\n}\n')
    with pytest.raises(LoadError, match=r"q.json:3: budget: Extra inputs are not permitted"):
        load_document(doc, Settings)
    doc.write_text('{\n  "models": ["a",]\n}\n')
    with pytest.raises(LoadError, match=r"q.json:2: not valid JSON"):
        load_document(doc, Settings)
    doc.write_text("[1]")
    with pytest.raises(LoadError, match=r"q.json: expected an object, got a list"):
        load_document(doc, Settings)
    with pytest.raises(LoadError, match=r"q.ini: the file must be .json, .toml, .yaml"):
        load_document(tmp_path / "q.ini", Settings)


def test_yaml_documents_name_the_line_of_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "quorum.yml"
    path.write_text("models:\n  - a\n  - 7\nbudget_usd: 2\n")
    with pytest.raises(LoadError, match=r"quorum.yml:3: models.1: Input should be a valid str"):
        load_document(path, Settings)
    path.write_text("models: [a\nbudget_usd: 2\n")
    with pytest.raises(LoadError, match=r"quorum.yml:\d+: not valid YAML"):
        load_document(path, Settings)
    path.write_text("budget_usd: 0.5\n")
    assert load_document(path, Settings).budget_usd == 0.5
