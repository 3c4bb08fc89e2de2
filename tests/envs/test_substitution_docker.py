"""A substituted environment end to end: a Django-shaped mirror whose swebench spec (3.0)
asks for Python 3.6 and whose setup.cfg declares 3.6-3.9 is built on bullseye's 3.9,
validated (gold resolves, empty does not), graded through `./tests/runtests.py` with
Django's labels and log format, and marked in the report. A project whose files declare
no available Python is refused with the reason, and nothing is built for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.gitcmd import commit_all, git
from envs.instances import Instance
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, special_predictions
from sandbox.config import HOST_CA_BUNDLE

pytestmark = pytest.mark.docker
CLASSIFIERS = "".join(f"    Programming Language :: Python :: {v}\n" for v in ("3.6", "3.7",
                                                                              "3.8", "3.9"))
SETUP_CFG = f"[metadata]\nname = django\nversion = 3.0\nclassifiers =\n{CLASSIFIERS}" \
            "[options]\npackages = find:\n"  # fmt: skip
# What Django's runner prints at --verbosity 2 (unittest's format), from test modules
# named by label (`app.tests`), with the tests folder on sys.path.
RUNTESTS = '''#!/usr/bin/env python
import os, sys, unittest
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
labels = [a for a in sys.argv[1:] if not a.startswith("--")]
suite = unittest.defaultTestLoader.loadTestsFromNames(labels)
result = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(not result.wasSuccessful())
'''
BUGGY = "def slugify(text):\n    return text.lower()\n"
FIXED = "def slugify(text):\n    return text.lower().replace(' ', '-')\n"
TESTS = ("import unittest\n\nfrom django.utils.text import slugify\n\n\n"
         "class SlugifyTests(unittest.TestCase):\n"
         "    def test_lower(self):\n        self.assertEqual(slugify('AB'), 'ab')\n")  # fmt: skip
NEW_TEST = "\n    def test_spaces(self):\n        self.assertEqual(slugify('a b'), 'a-b')\n"


def _diff(repo: Path, path: str, new: str) -> str:
    old = (repo / path).read_text()
    (repo / path).write_text(new)
    out = git("diff", "--", path, cwd=repo)
    (repo / path).write_text(old)
    return out


def _django_mirror(root: Path, setup_cfg: str) -> tuple[Path, Instance]:
    repo = root / "django+django"
    files = {"setup.cfg": setup_cfg, "setup.py": "from setuptools import setup\nsetup()\n",
             "django/__init__.py": "", "django/utils/__init__.py": "",
             "django/utils/text.py": BUGGY, "tests/requirements/py3.txt": "",
             "tests/runtests.py": RUNTESTS, "tests/text_tests/__init__.py": "",
             "tests/text_tests/tests.py": TESTS}  # fmt: skip
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    (repo / "tests/runtests.py").chmod(0o755)
    commit_all(repo, "base")
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    instance = Instance(
        instance_id="django__django-90001", repo="django/django", version="3.0",
        base_commit=base, environment_setup_commit=base,
        problem_statement="slugify keeps spaces",
        patch=_diff(repo, "django/utils/text.py", FIXED),
        test_patch=_diff(repo, "tests/text_tests/tests.py", TESTS + NEW_TEST),
        FAIL_TO_PASS=["test_spaces (text_tests.tests.SlugifyTests)"],
        PASS_TO_PASS=["test_lower (text_tests.tests.SlugifyTests)"],
    )  # fmt: skip
    return root, instance


def _options(out: Path, mirrors: Path, cache: Path) -> EvalOptions:
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    return EvalOptions(out=out, mirror_dir=mirrors, ca_bundle=bundle, cache_dir=cache,
                       timeout_s=600)  # fmt: skip


def test_a_substituted_django_environment_is_validated_graded_and_marked(tmp_path: Path) -> None:
    mirrors, inst = _django_mirror(tmp_path / "mirrors", SETUP_CFG)
    cache = tmp_path / "cache"
    gold = evaluate([inst], special_predictions([inst], GOLD),
                    _options(tmp_path / "gold", mirrors, cache))  # fmt: skip
    assert gold["resolved_ids"] == [inst.instance_id], gold
    assert gold["substituted_ids"] == [inst.instance_id]
    result = json.loads((tmp_path / "gold/instances" / inst.instance_id / "report.json")
                        .read_text())  # fmt: skip
    assert "Python 3.6 -> 3.9" in result["substituted"]
    output = (tmp_path / "gold/instances" / inst.instance_id / "test_output.txt").read_text()
    assert "test_spaces (text_tests.tests.SlugifyTests) ... ok" in output
    [record] = (cache / "validation").glob(f"{inst.instance_id}-*.json")
    assert json.loads(record.read_text())["gold"] == "resolved"
    assert json.loads(record.read_text())["empty"] == "unresolved"
    written = record.stat().st_mtime_ns

    empty = evaluate([inst], special_predictions([inst], EMPTY),
                     _options(tmp_path / "empty", mirrors, cache), allow_empty=True)
    assert empty["unresolved_ids"] == [inst.instance_id]
    assert record.stat().st_mtime_ns == written  # validated once: the verdict was reused
    assert not (tmp_path / "empty/instances" / inst.instance_id / "validation").exists()


def test_a_project_declaring_no_available_python_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    old = SETUP_CFG.replace("    Programming Language :: Python :: 3.9\n", "").replace(
        "[options]\n", "[options]\npython_requires = >=3.6, <3.9\n")
    mirrors, inst = _django_mirror(tmp_path / "mirrors", old)
    report = evaluate([inst], special_predictions([inst], GOLD),
                      _options(tmp_path / "out", mirrors, tmp_path / "cache"))  # fmt: skip
    assert report["error_statuses"] == {inst.instance_id: "env_error"}
    result = json.loads((tmp_path / "out/instances" / inst.instance_id / "report.json")
                        .read_text())  # fmt: skip
    assert "classifiers list Python 3.6, 3.7, 3.8" in result["detail"]
    assert "none of them available" in result["detail"]
