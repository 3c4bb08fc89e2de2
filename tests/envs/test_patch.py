"""The one unified-diff parser (envs.patch) on the awkward cases real diffs have."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envs.grading import changed_paths
from envs.patch import changed_files, parse_diff, split_by_file, without_files
from selection.normalize import apply_in_memory


def _git_diff(tmp_path: Path, before: dict[str, bytes], after: dict[str, bytes]) -> str:
    """A real `git diff` (renames and binary data included) between two trees."""
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip

    git("init", "-q")
    for name, data in before.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    for name in before:
        if name not in after:
            (repo / name).unlink()
    for name, data in after.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git("add", "-A")
    return git("diff", "--cached", "-M", "--binary")


def test_new_deleted_renamed_binary_and_spaced_files_from_git(tmp_path: Path) -> None:
    body = "".join(f"line {i}\n" for i in range(20)).encode()
    patch = _git_diff(
        tmp_path,
        {"old name.py": body, "gone.py": b"x = 1\n", "img.bin": b"\x00\x01\x02"},
        {"new name.py": body, "dir with space/added.py": b"y = 2\n",
         "img.bin": b"\x00\x09\x02\xff"},
    )  # fmt: skip
    diffs = {d.path: d for d in parse_diff(patch)}
    assert set(diffs) == {"new name.py", "gone.py", "img.bin", "dir with space/added.py"}
    assert diffs["new name.py"].renamed and diffs["new name.py"].source_path == "old name.py"
    assert diffs["gone.py"].deleted and diffs["gone.py"].hunks == [(1, ["-x = 1"])]
    assert diffs["dir with space/added.py"].new_file
    assert diffs["dir with space/added.py"].hunks == [(0, ["+y = 2"])]
    assert diffs["img.bin"].binary and "GIT binary patch" in diffs["img.bin"].text
    # sections are the diff's own text, whole: they concatenate back to it
    assert "".join(split_by_file(patch).values()) == patch
    kept = without_files(patch, {"img.bin"})
    assert "GIT binary patch" not in kept and changed_files(kept) == [
        p for p in changed_files(patch) if p != "img.bin"]


def test_no_newline_at_end_of_file_and_missing_prefixes() -> None:
    patch = "--- m.py\n+++ m.py\n@@ -1 +1 @@\n-a = 1\n\\ No newline at end of file\n+a = 2\n" \
        "\\ No newline at end of file\n"
    (diff,) = parse_diff(patch)
    assert diff.path == "m.py" and diff.hunks == [(1, ["-a = 1", "+a = 2"])]
    assert apply_in_memory("a = 1", diff) == "a = 2\n"
    plain = "--- a/p q.py\t2024-01-01 00:00:00\n+++ b/p q.py\t2024-01-02 00:00:00\n" \
        "@@ -1 +1 @@\n-x\n+y\n"
    assert changed_files(plain) == ["p q.py"]


def test_miscounted_hunks_keep_every_line_they_carry() -> None:
    """Hand-edited predictions miscount hunks; the lines after the promised count are still
    the change (unidiff alone would drop them)."""
    patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n" \
        " a = 0\n-a = 1\n+a = 2\n"
    (diff,) = parse_diff(patch)
    assert diff.hunks == [(1, [" a = 0", "-a = 1", "+a = 2"])]
    assert parse_diff("not a diff at all\n") == []


def test_grading_reads_the_test_patch_with_the_same_parser() -> None:
    test_patch = "diff --git a/tests/a b.py b/tests/a b.py\nnew file mode 100644\n" \
        "--- /dev/null\n+++ b/tests/a b.py\n@@ -0,0 +1 @@\n+def test(): pass\n"
    assert changed_paths(test_patch) == ["tests/a b.py"]
