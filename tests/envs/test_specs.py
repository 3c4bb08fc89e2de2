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


def test_editable_installs_built_here_put_the_source_tree_on_the_path() -> None:
    """Today's setuptools makes `pip install -e .` an import hook (pylint finds no checker
    under it); compat mode is the path entry the harness's older tools made. An official
    image runs its spec as published: its pip may not know --config-settings."""
    from envs.specs import compat_editable, official_image_spec

    pylint = swebench_spec("pylint-dev/pylint", "2.15")
    assert pylint.install == "python -m pip install -e . --config-settings editable_mode=compat"
    official = official_image_spec("pylint-dev/pylint", "2.15", "source x")
    assert official.install == "python -m pip install -e ."
    assert swebench_spec("psf/requests", "2.3").install == "python -m pip install ."
    legacy = "python -m pip install -v --no-use-pep517 --no-build-isolation -e ."
    assert compat_editable(legacy) == legacy  # already path-based; settings would undo that
    assert compat_editable("python -m pip install --editable '.[dev]'").endswith(
        "'.[dev]' --config-settings editable_mode=compat")
    assert compat_editable("python setup.py develop") == "python setup.py develop"


def test_old_sphinx_built_here_gets_the_era_docutils_cap() -> None:
    """Sphinx < 5 at its base commits declares docutils unbounded; today's docutils (0.22+)
    has no `docutils.utils.roman`, which sphinx imports. The cap joins the spec's pins (so
    the environment key changes with it); an official image keeps its spec as published."""
    from envs.specs import official_image_spec

    old = swebench_spec("sphinx-doc/sphinx", "3.5")
    assert old.pip_packages == ["tox==4.16.0", "tox-current-env==0.0.11", "Jinja2==3.0.3",
                                "docutils<0.22"]
    assert "docutils<0.22" in swebench_spec("sphinx-doc/sphinx", "4.4").pip_packages
    assert not any("docutils" in p for p in swebench_spec("sphinx-doc/sphinx", "5.0").pip_packages)
    official = official_image_spec("sphinx-doc/sphinx", "3.5", "source x")
    assert "docutils<0.22" not in official.pip_packages
    assert official.key != old.key
