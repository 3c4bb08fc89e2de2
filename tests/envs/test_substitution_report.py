"""A substituted environment that fails to build is reported as such: its grade carries
what was substituted, and report.json names it apart from the validated ones."""

from __future__ import annotations

from pathlib import Path

from envs.environment import EnvironmentBuilder
from quorum.evaluate import GOLD, EvalOptions, grade_instance, official_report, special_predictions
from tests.envs.test_substitution_docker import SETUP_CFG, _django_mirror


def test_a_failed_substituted_build_says_what_it_substituted(tmp_path: Path) -> None:
    mirrors, inst = _django_mirror(tmp_path / "mirrors", SETUP_CFG)
    # no Docker engine behind the builder: the build fails before anything runs
    builder = EnvironmentBuilder(None, cache_dir=tmp_path / "cache", mirror_dir=mirrors)
    result = grade_instance(builder, inst, inst.patch, EvalOptions(out=tmp_path / "out"))
    assert result.status == "env_error" and "needs Docker" in result.detail
    assert result.substituted.startswith("Python 3.6 -> 3.9")
    report = official_report([inst], special_predictions([inst], GOLD),
                             {inst.instance_id: result})  # fmt: skip
    assert report["substituted_ids"] == []
    assert report["substitution_failed_ids"] == [inst.instance_id]
