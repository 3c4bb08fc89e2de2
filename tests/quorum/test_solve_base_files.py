"""quorum.solve's optional refinements never cost a finished run."""

from __future__ import annotations

from envs.candidate import Candidate
from sandbox.errors import SandboxError
from selection.pipeline import base_files as _base_files

PATCH = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def test_solve_falls_back_to_diff_level_keys_when_no_sandbox_starts() -> None:
    def no_engine():
        raise SandboxError("the Docker engine went away")

    fix = Candidate(id="a", task_id="t", patch=PATCH)
    assert _base_files([fix], no_engine) == {}
