"""requirements.txt is read from the clone and filtered like swebench's get_requirements."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.errors import TaskSourceError
from envs.requirements import requirements_at
from tests.envs.conftest import make_repo


def test_includes_are_inlined_and_local_installs_dropped(tmp_path: Path) -> None:
    sha = make_repo(tmp_path, {
        "requirements/dev.txt": "-r tests.txt\n# comment\n-e .\nsphinx==7.0\n",
        "requirements/tests.txt": "pytest==7.3.1\n.[test]\ntypes-pkg_resources==0.1\n",
    })
    text = requirements_at(tmp_path, sha, ["requirements/dev.txt"])
    lines = [x for x in text.splitlines() if x.strip()]
    assert lines == ["pytest==7.3.1", "types-setuptools", "sphinx==7.0"]


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    sha = make_repo(tmp_path)
    with pytest.raises(TaskSourceError, match="no requirements file"):
        requirements_at(tmp_path, sha, ["requirements.txt"])


def test_era_pins_hold_below_the_version_that_declares_its_own_cap() -> None:
    from envs.requirements import era_pins

    assert era_pins("sphinx-doc/sphinx", "3.1") == ["docutils<0.22"]
    assert era_pins("sphinx-doc/sphinx", "4.4") == ["docutils<0.22"]
    assert era_pins("sphinx-doc/sphinx", "5.0") == []  # its setup.py caps docutils itself
    assert era_pins("sphinx-doc/sphinx", "7.10") == []  # compared as numbers, not text
    assert era_pins("pylint-dev/pylint", "2.15") == []
