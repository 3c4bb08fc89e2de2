"""Environment specs come from the swebench package and map onto Quorum's base images."""

from __future__ import annotations

from envs.instances import Instance
from envs.specs import spec_for, swebench_spec


def test_python_versions_pick_the_debian_suite() -> None:
    flask = swebench_spec("pallets/flask", "2.3")
    assert (flask.supported, flask.python, flask.suite) == (True, "3.11", "bookworm")
    assert flask.packages == "requirements.txt"
    assert "Werkzeug==2.3.7" in flask.pip_packages
    assert flask.requirements_paths == ["requirements/dev.txt"]
    requests = swebench_spec("psf/requests", "2.3")
    assert (requests.python, requests.suite, requests.test_cmd) == ("3.9", "bullseye", "pytest -rA")
    assert requests.install == "python -m pip install ."


def test_other_pythons_and_conda_are_refused_with_a_reason() -> None:
    old = swebench_spec("django/django", "3.0")  # Python 3.6
    assert not old.supported
    assert "3.6" in old.reason and "conda" in old.reason
    missing = swebench_spec("psf/requests", "99.9")
    assert not missing.supported and "no spec" in missing.reason
    assert not swebench_spec("owner/unknown", "1.0").supported


def test_environment_key_is_shared_by_a_version_and_differs_across() -> None:
    assert swebench_spec("pytest-dev/pytest", "5.4").key == swebench_spec(
        "pytest-dev/pytest", "5.4").key
    assert swebench_spec("pytest-dev/pytest", "5.4").key != swebench_spec(
        "pytest-dev/pytest", "7.0").key


def test_local_instances_get_a_pytest_default() -> None:
    inst = Instance(instance_id="x", repo="/some/repo", base_commit="a" * 40,
                    problem_statement="p", version="1.0")
    spec = spec_for(inst)
    assert (spec.supported, spec.official, spec.suite, spec.test_cmd) == (
        True, False, "bookworm", "python -m pytest -rA")
