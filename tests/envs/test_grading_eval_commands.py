"""The spec's eval commands hold in the shell that installs and tests, as in the harness's
one eval script: Django's are `export LANG=...` lines, which a shell of their own would
lose. Graded on the host (local sandbox); the test passes only where the export reached it."""

from __future__ import annotations

import sys
from pathlib import Path

from envs.grading import grade
from envs.instances import Instance
from envs.specs import EnvSpec
from sandbox.local import LocalSandbox
from tests.envs.conftest import make_repo

TEST_PATCH = """diff --git a/tests/test_env.py b/tests/test_env.py
new file mode 100644
--- /dev/null
+++ b/tests/test_env.py
@@ -0,0 +1,5 @@
+import os
+
+
+def test_the_eval_commands_hold():
+    assert (os.environ.get("QUORUM_MARK"), os.environ.get("LANG")) == ("set", "C.UTF-8")
"""


def test_eval_commands_reach_the_tests_and_a_failing_one_does_not_stop_them(
        tmp_path: Path) -> None:
    base = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    inst = Instance(instance_id="local__env-1", repo=str(tmp_path / "repo"), base_commit=base,
                    problem_statement="p", test_patch=TEST_PATCH,
                    FAIL_TO_PASS=["tests/test_env.py::test_the_eval_commands_hold"])  # fmt: skip
    spec = EnvSpec(repo=inst.repo, version="", official=False, activate="true",
                   test_cmd=f"{sys.executable} -m pytest -rA -p no:cacheprovider",
                   eval_commands=["export QUORUM_MARK=set", "false", "export LANG=C.UTF-8"])
    with LocalSandbox(tmp_path / "repo", commit=base, warn=False) as box:
        result = grade(box, inst, spec, "", log_dir=tmp_path / "log", allow_empty=True,
                       timeout_s=120)
    assert result.status == "resolved", (tmp_path / "log" / "eval.log").read_text()
    without = spec.model_copy(update={"eval_commands": []})
    with LocalSandbox(tmp_path / "repo", commit=base, warn=False) as box:
        result = grade(box, inst, without, "", log_dir=tmp_path / "log2", allow_empty=True,
                       timeout_s=120)
    assert result.status == "unresolved"  # the check can fail: nothing else sets them
