from __future__ import annotations

import json
from pathlib import Path

from envs.candidate import Candidate
from selection.normalize import (
    apply_in_memory,
    normalise_patch,
    normalised_id,
    parse_diff,
)
from selection.pool import base_texts, group_by_task, load_sources, read_run_dir

BASE = 'def f(x):\n    """Old doc."""\n    return x + 1\n\n\ndef g():\n    return 2\n'


def _diff(path: str, old: list[str], new: list[str], start: int = 1) -> str:
    body = "".join(f"-{line}\n" for line in old) + "".join(f"+{line}\n" for line in new)
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{len(old)} +{start},{len(new)} @@\n{body}"
    )


def test_formatting_and_comments_do_not_change_the_key() -> None:
    a = _diff("m.py", ["    return x + 1"], ["    return x+2  # fixed"], start=3)
    b = _diff("m.py", ["    return x + 1"], ["    return x  +  2"], start=3)
    c = _diff("m.py", ["    return x + 1"], ["    # a comment only", "    return x + 2"], start=3)
    assert normalised_id(a) == normalised_id(b) == normalised_id(c)
    assert normalised_id(a) != normalised_id(_diff("m.py", ["    return x + 1"],
                                                   ["    return x + 3"], start=3))  # fmt: skip


def test_indentation_is_meaning_in_python_not_elsewhere() -> None:
    deeper = _diff("m.py", ["    return x + 1"], ["        return x + 2"], start=3)
    assert normalised_id(deeper) != normalised_id(
        _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=3)
    )
    js = normalise_patch
    assert js(_diff("a.js", ["x"], ["y  "])) == js(_diff("a.js", ["x"], ["y"]))
    assert js(_diff("a.js", ["x"], ["y"])) != js(_diff("a.js", ["x"], ["z"]))


def test_full_file_normalisation_merges_rewrapped_code_and_docstrings() -> None:
    one = _diff("m.py", ["    return x + 1"], ["    return max(x,", "               2)"], start=3)
    two = _diff("m.py", ['    """Old doc."""', "    return x + 1"],
                ['    """New doc."""', "    return max(x, 2)"], start=2)  # fmt: skip
    assert normalised_id(one) != normalised_id(two)  # diff level: re-wrapping differs
    files = {"m.py": BASE}
    assert normalised_id(one, files) == normalised_id(two, files)
    after = apply_in_memory(BASE, parse_diff(one)[0])
    assert "max(x,\n               2)" in after and after.endswith("return 2\n")


def test_a_comment_only_patch_normalises_to_nothing() -> None:
    patch = _diff("m.py", [], ["# just a note"], start=3)
    assert normalise_patch(patch) == "" and normalised_id(patch) == ""


def test_pool_from_prediction_files_and_a_run_dir(tmp_path: Path) -> None:
    fix = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=3)
    same = fix.replace("x + 2", "x+2")
    (tmp_path / "sysA.preds.jsonl").write_text(
        json.dumps({"instance_id": "i1", "model_patch": fix, "model_name_or_path": "A"}) + "\n"
        + json.dumps({"instance_id": "i2", "model_patch": "", "model_name_or_path": "A"}) + "\n"
    )  # fmt: skip
    (tmp_path / "sysB.json").write_text(
        json.dumps({"i1": {"instance_id": "i1", "model_patch": same}})
    )
    run = tmp_path / "run"
    run.mkdir()
    cand = Candidate(id="traj-1", task_id="i1", patch=fix.replace("x + 2", "x + 3"))
    writer = Candidate(id="tw", task_id="i1", patch="", solver="test_writer")
    (run / "candidates.jsonl").write_text(
        cand.model_dump_json() + "\n" + writer.model_dump_json() + "\n{cut sh"
    )
    assert [c.id for c in read_run_dir(run)] == ["traj-1"]
    pool = load_sources([tmp_path / "sysA.preds.jsonl", tmp_path / "sysB.json", run])
    assert [c.id for c in pool] == ["sysA:i1", "sysA:i2", "sysB:i1", "traj-1"]
    groups = group_by_task(pool)
    assert set(groups) == {"i1", "i2"} and groups["i2"].solvers == []
    clusters = groups["i1"].clusters()
    assert sorted(map(sorted, clusters.values())) == [["sysA:i1", "sysB:i1"], ["traj-1"]]
    assert [c.id for c in groups["i1"].representatives()] == ["sysA:i1", "traj-1"]
    voted = group_by_task(pool, vote_only_sources=["sysB"])["i1"]
    assert [c.id for c in voted.choosable] == ["sysA:i1", "traj-1"]


def test_plain_unified_diffs_without_git_headers() -> None:
    git = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=3)
    plain = git.split("\n", 1)[1]  # as many SWE-bench predictions are: no `diff --git`
    two = plain + plain.replace("m.py", "n.py")
    assert [d.path for d in parse_diff(plain)] == ["m.py"]
    assert [d.path for d in parse_diff(two)] == ["m.py", "n.py"]
    assert normalised_id(plain) == normalised_id(git) != ""


def test_tests_that_come_with_a_fix_do_not_split_it() -> None:
    fix = _diff("pkg/m.py", ["    return x + 1"], ["    return x + 2"], start=3)
    with_test = fix + _diff("tests/test_m.py", [], ["def test_it():", "    assert True"])
    assert normalised_id(with_test) == normalised_id(fix)
    only_test = _diff("tests/test_m.py", [], ["def test_it():", "    assert True"])
    assert normalised_id(only_test) != ""  # a test-only patch is still a change


def test_the_same_edit_in_different_places_stays_apart_with_the_base() -> None:
    twice = "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x + 1\n"
    in_f = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=2)
    in_g = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=6)
    new_file = "diff --git a/n.py b/n.py\nnew file mode 100644\n--- /dev/null\n+++ b/n.py\n" \
        "@@ -0,0 +1 @@\n+y = 1\n"
    cands = [Candidate(id="f", task_id="t", patch=in_f), Candidate(id="g", task_id="t", patch=in_g),
             Candidate(id="new", task_id="t", patch=new_file)]  # fmt: skip
    diff_level = group_by_task(cands)["t"]
    assert diff_level.patch_keys["f"] == diff_level.patch_keys["g"]  # positions dropped

    asked: list[str] = []

    def read(path: str) -> str | None:
        asked.append(path)
        return twice if path == "m.py" else None  # n.py is new: not in the base

    files = base_texts(cands, read)
    assert files == {"m.py": twice} and sorted(asked) == ["m.py", "n.py"]
    full = group_by_task(cands, {"t": files})["t"]
    assert full.patch_keys["f"] != full.patch_keys["g"]
    assert full.patch_keys["new"] == normalised_id(new_file, {})  # from an empty base
    assert full.patch_keys["new"] != normalised_id(new_file)


def test_a_blank_line_after_a_complete_hunk_is_not_context() -> None:
    base = "a = 1\nb = 2\n"
    patch = _diff("m.py", ["a = 1"], ["a = 3"]) + " b = 2\n\n"  # a separator, as preds have
    patch = patch.replace("@@ -1,1 +1,1 @@", "@@ -1,2 +1,2 @@")
    assert apply_in_memory(base, parse_diff(patch)[0]) == "a = 3\nb = 2\n"
    dropped_space = patch.replace(" b = 2\n", "\n")  # an empty context line lost its space
    with_blank = "a = 1\n\n"
    assert apply_in_memory(with_blank, parse_diff(dropped_space)[0]) == "a = 3\n\n"


def test_a_pool_keeps_one_kind_of_key() -> None:
    """A candidate whose patch does not apply to the base keeps its task on diff-level keys:
    a full-file key and a diff-level key for the same fix would never match."""
    fix = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=3)
    stale = _diff("m.py", ["    return x + 1"], ["    return x + 2"], start=3).replace(
        "-    return x + 1", " # a line the base does not have\n-    return x + 1")
    cands = [Candidate(id="a", task_id="t", patch=fix), Candidate(id="b", task_id="t", patch=fix),
             Candidate(id="c", task_id="t", patch=stale)]  # fmt: skip
    keys = group_by_task(cands, {"t": {"m.py": BASE}})["t"].patch_keys
    assert keys["a"] == keys["b"] == keys["c"] == normalised_id(fix)
    alone = group_by_task(cands[:2], {"t": {"m.py": BASE}})["t"].patch_keys
    assert alone["a"] == normalised_id(fix, {"m.py": BASE}) != normalised_id(fix)


def test_a_layout_only_patch_is_no_change_with_the_base_too() -> None:
    layout = _diff("m.py", ["", ""], [""], start=4)  # one of the two blank lines goes
    doc = _diff("m.py", ['    """Old doc."""'], ['    """New doc."""'], start=2)
    for patch in (layout, doc):
        assert normalise_patch(patch) == ""
        assert normalise_patch(patch, {"m.py": BASE}) == ""
        assert normalise_patch(patch + _diff("n.py", ["a = 1"], ["a = 2"]), {"m.py": BASE})

