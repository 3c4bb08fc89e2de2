"""Bad input through the real CLI: one `error: FILE:LINE: what is wrong` line, exit code 1,
nothing graded or selected from a file that did not fully load; --skip-invalid names what it
leaves out; resume tolerates (and names) only a truncated last line of Quorum's own record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envs.errors import LoadError
from quorum.bench import resume_records
from quorum.cli import app
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn
from tests.sandbox.conftest import make_repo

KEY_ENV = "QUORUM_TEST_KEY"
INSTANCE = {"repo": "o/r", "base_commit": "c0ffee", "problem_statement": "it breaks"}


def _quorum(*args: str):
    return CliRunner().invoke(app, list(args), env={KEY_ENV: "sk-test-key-123"})


def _jsonl(path: Path, *rows: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _dataset(tmp_path: Path, *ids: str) -> Path:
    return _jsonl(tmp_path / "d.jsonl", *({"instance_id": i, **INSTANCE} for i in ids))


def _pred(instance_id: object, patch: str = "") -> dict:
    return {"instance_id": instance_id, "model_patch": patch, "model_name_or_path": "sys"}


def _diff(value: str) -> str:
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 0\n+x = {value}\n"


def _clean(result) -> None:
    """What every error looks like: our line, never a traceback or a pydantic dump."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "validation error for" not in result.output
    assert "error: " in result.output


def test_eval_a_line_that_is_not_json(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "p.jsonl", _pred("o__r-1"), "{this is not json")
    result = _quorum("eval", str(preds), "--dataset", str(_dataset(tmp_path, "o__r-1")),
                     "--out", str(tmp_path / "out"))  # fmt: skip
    _clean(result)
    assert f"error: {preds}:2: not valid JSON" in result.output
    assert not (tmp_path / "out").exists()  # nothing graded


def test_eval_an_instance_id_that_is_a_number(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "p.jsonl", _pred("o__r-1"), _pred(5, _diff("1")))
    result = _quorum("eval", str(preds), "--dataset", str(_dataset(tmp_path, "o__r-1")),
                     "--out", str(tmp_path / "out"))  # fmt: skip
    _clean(result)
    assert f"error: {preds}:2: instance_id: Input should be a valid string" in result.output
    assert "grading" not in result.output and not (tmp_path / "out").exists()


def test_eval_predictions_for_no_instance_of_the_dataset(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "p.jsonl", _pred("x__y-1"), _pred("x__y-2"))
    result = _quorum("eval", str(preds), "--dataset", str(_dataset(tmp_path, "o__r-1")))
    _clean(result)
    assert "none of the 2 prediction(s)" in result.output and "x__y-1" in result.output


@pytest.mark.docker
def test_eval_skip_invalid_and_unknown_ids_are_named_and_counted(tmp_path: Path) -> None:
    """Empty patches only: nothing is built, but the run is the real one end to end."""
    preds = _jsonl(tmp_path / "p.jsonl", _pred("o__r-1"), _pred(5), "oops",
                   _pred("nowhere-1"), _pred("o__r-2"))  # fmt: skip
    out = tmp_path / "out"
    result = _quorum("eval", str(preds), "--dataset", str(_dataset(tmp_path, "o__r-1", "o__r-2")),
                     "--skip-invalid", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"skipped {preds}:2: instance_id: Input should be a valid string" in result.output
    assert f"skipped {preds}:3: not valid JSON" in result.output
    assert "1 prediction(s) for instances not in the dataset, not graded: nowhere-1" in (
        result.output
    )
    assert "grading 2 instance(s)" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["submitted_instances"] == 2 and report["empty_patch_instances"] == 2
    assert report["unknown_instances"] == 1 and report["unknown_ids"] == ["nowhere-1"]
    assert [line.split(": ")[0] for line in report["skipped_lines"]] == [
        f"skipped {preds}:2", f"skipped {preds}:3"]  # fmt: skip
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["unknown_instances"] == 1 and summary["skipped_lines"] == 2


def test_select_an_instance_id_that_is_a_number(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "sysA.jsonl", _pred("i1", _diff("1")), _pred(5, _diff("2")))
    result = _quorum("select", str(preds), "--out", str(tmp_path / "out"))
    _clean(result)
    assert f"error: {preds}:2: instance_id: Input should be a valid string" in result.output
    assert not (tmp_path / "out" / "selection.json").exists()  # nothing selected


@pytest.mark.parametrize("bad_line", [3, 4])
def test_select_names_the_invalid_line_not_the_first(tmp_path: Path, bad_line: int) -> None:
    rows: list[object] = [_pred(f"i{n}", _diff(str(n))) for n in range(1, 5)]
    rows[bad_line - 1] = '{"instance_id": "i9", "model_patch": '
    preds = _jsonl(tmp_path / "sysA.jsonl", *rows)
    result = _quorum("select", str(preds), "--out", str(tmp_path / "out"))
    _clean(result)
    assert f"error: {preds}:{bad_line}: not valid JSON" in result.output


def test_select_skip_invalid_names_the_skipped_lines(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "sysA.jsonl", _pred("i1", _diff("1")), _pred(5, _diff("2")),
                   "not json", _pred("i2", _diff("3")))  # fmt: skip
    out = tmp_path / "out"
    result = _quorum("select", str(preds), "--skip-invalid", "--method", "votes",
                     "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"skipped {preds}:2: instance_id: Input should be a valid string" in result.output
    assert f"skipped {preds}:3: not valid JSON" in result.output
    report = (out / "selection-report.md").read_text()
    assert "left out or unknown (2):" in report and f"{preds}:2" in report
    assert set(json.loads((out / "selection.json").read_text())) == {"i1", "i2"}


def test_select_names_instances_the_dataset_does_not_hold(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "sysA.jsonl", _pred("o__r-1", _diff("1")),
                   _pred("ghost-7", _diff("2")))  # fmt: skip
    result = _quorum("select", str(preds), "--dataset", str(_dataset(tmp_path, "o__r-1")),
                     "--method", "votes", "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 instance(s) not in the dataset" in result.output and "ghost-7" in result.output


def test_option_values_are_refused_in_the_cli_format(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = _quorum("solve", str(repo), "--issue", "x", "--budget-usd", "-1",
                     "--sandbox", "local", "--out", str(tmp_path / "run"))  # fmt: skip
    _clean(result)
    assert "error: --budget-usd: Input should be greater than or equal to 0" in result.output
    assert "--budget-usd" in (tmp_path / "run" / "error.txt").read_text()
    # click's own refusals go through the same formatter, with the same exit code
    result = _quorum("eval", "--dataset", str(tmp_path / "d.jsonl"), "--workers", "0")
    _clean(result)
    assert "error: Invalid value for '--workers'" in result.output
    assert "hint: see `quorum eval --help`" in result.output
    _clean(_quorum("select", "--no-such-option"))
    _clean(_quorum("no-such-command"))


def test_models_file_errors_name_file_and_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    models = tmp_path / "models.toml"
    models.write_text('[models.a]\nbase_url = "http://127.0.0.1:9/v1"\nfree = true\n\n'
                      '[models.b]\nbase_url = "http://127.0.0.1:9/v1"\ntimeout_s = -5\n')
    args = ["solve", str(repo), "--issue", "x", "--model", "a", "--sandbox", "local",
            "--models-file", str(models), "--out", str(tmp_path / "run")]  # fmt: skip
    result = _quorum(*args)
    _clean(result)
    assert f"error: {models}:7: models.b.timeout_s: Input should be greater than 0" in (
        result.output
    )
    models.write_text('[models.a]\nbase_url = "http://127.0.0.1:9/v1"\nfree = tru\n')
    result = _quorum(*args)
    _clean(result)
    assert f"error: {models}:3: not valid TOML" in result.output
    models.write_text('[model.a]\nfree = true\n')  # a misspelt table is not ignored
    result = _quorum(*args)
    _clean(result)
    assert f"error: {models}:1: model: Extra inputs are not permitted" in result.output


def _solve_once(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = make_repo(tmp_path / "repo")
    run = tmp_path / "run"
    with OpenAIStandIn() as server:
        server.script_for("good", *solver_script("add(1, 2) == 3", "a + b"))
        models = tmp_path / "models.toml"
        models.write_text(f'[models.good]\nbase_url = "{server.base_url}"\n'
                          f'api_key_env = "{KEY_ENV}"\nfree = true\n')  # fmt: skip
        args = ["solve", str(repo), "--issue", "add subtracts", "-n", "1", "--model", "good",
                "--models-file", str(models), "--sandbox", "local", "--out", str(run)]
        first = _quorum(*args)
        assert first.exit_code == 0, first.output
        assert server.pending == 0
    return run, args


def test_resume_tolerates_and_names_a_truncated_last_line(tmp_path: Path) -> None:
    run, args = _solve_once(tmp_path)
    store = run / "candidates.jsonl"
    whole = store.read_text()
    store.write_text(whole + whole.splitlines()[0][:40])  # a crash mid-append
    again = _quorum(*args)  # the finished trajectory is reused: no model is asked
    assert again.exit_code == 0, again.output
    assert f"{store}:2: left out a truncated last line" in again.output
    assert [json.loads(line)["id"] for line in store.read_text().splitlines()] == [
        json.loads(whole)["id"]]  # fmt: skip


def test_resume_refuses_a_truncated_middle_line(tmp_path: Path) -> None:
    run, args = _solve_once(tmp_path)
    store = run / "candidates.jsonl"
    line = store.read_text().splitlines()[0]
    store.write_text(f"{line}\n{line[:40]}\n{line}\n")
    result = _quorum(*args)
    _clean(result)
    assert f"error: {store}:2: not valid JSON" in result.output
    # `quorum select` on the run directory: the same line, the same refusal
    result = _quorum("select", str(run))
    _clean(result)
    assert f"error: {store}:2: not valid JSON" in result.output


def test_bench_resume_cuts_and_names_a_truncated_last_record(tmp_path: Path) -> None:
    record = json.dumps({"instance_id": "o__r-1", "status": "patch", "patch": "p"})
    (tmp_path / "bench.jsonl").write_text(f'{record}\n{{"instance_id": "o__r-2", "sta')
    records, notes = resume_records(tmp_path)
    assert list(records) == ["o__r-1"]
    assert notes == [f"{tmp_path / 'bench.jsonl'}:2: left out a truncated last line (cut "
                     "short by a crash mid-write); that instance is redone"]  # fmt: skip
    assert (tmp_path / "bench.jsonl").read_text() == record + "\n"
    (tmp_path / "bench.jsonl").write_text(f'{record}\n{{"instance_id": 3}}\n{record}\n')
    with pytest.raises(LoadError, match=r"bench.jsonl:2: instance_id: Input should be a valid"):
        resume_records(tmp_path)  # a bad line that is not the last: an error, not a resume
