"""Substituted environments: what the project's own files allow, decided per instance."""

from __future__ import annotations

from envs.grading import django_label, run_targets
from envs.instances import Instance
from envs.specs import resolve_spec, swebench_spec
from envs.substitution import (
    Declared,
    choose_python,
    declared_pythons,
    pip_part_of_environment_yml,
)

AVAILABLE = ("3.9", "3.11")
DJANGO_30_SETUP_CFG = """[metadata]
name = Django
classifiers =
    Programming Language :: Python
    Programming Language :: Python :: 3
    Programming Language :: Python :: 3.6
    Programming Language :: Python :: 3.7
    Programming Language :: Python :: 3.8
    Programming Language :: Python :: 3.9
    Programming Language :: Python :: 3 :: Only
[options]
python_requires = >=3.6
"""


def test_classifiers_and_python_requires_are_read_from_each_file() -> None:
    declared = declared_pythons({"setup.cfg": DJANGO_30_SETUP_CFG, "setup.py": None})
    assert declared.classifiers == ["3.6", "3.7", "3.8", "3.9"]
    assert declared.requires == ">=3.6" and declared.source == "setup.cfg"
    setup_py = 'setup(name="x", python_requires=">=3.5, <3.10",\n    classifiers=[])\n'
    assert declared_pythons({"setup.py": setup_py}).requires == ">=3.5, <3.10"
    pyproject = '[project]\nname = "x"\nrequires-python = ">=3.8"\n'
    assert declared_pythons({"pyproject.toml": pyproject}).requires == ">=3.8"
    assert declared_pythons({}) == Declared()


def test_python_requires_built_from_a_module_constant_is_read() -> None:
    # astropy 1.3's setup.py (the Lite instances 6938 and 7746 ask for Python 3.6)
    setup_py = ("import sys\n__minimum_python_version__ = '3.5'\n"
                "setup(name='astropy',\n"
                "      classifiers=['Programming Language :: Python :: 3'],\n"
                "      python_requires='>=' + __minimum_python_version__,\n)\n")  # fmt: skip
    declared = declared_pythons({"setup.py": setup_py})
    assert declared.requires == ">=3.5"
    assert choose_python("3.6", declared, AVAILABLE) == "3.9"
    # a name the file does not assign stays as written: no specifier, no substitute
    unknown = "setup(python_requires='>=' + MINIMUM)\n"
    assert declared_pythons({"setup.py": unknown}).requires == "'>=' + MINIMUM"
    assert choose_python("3.6", declared_pythons({"setup.py": unknown}), AVAILABLE) is None


def test_python_requires_formatted_from_a_module_tuple_is_read() -> None:
    # Django 2.0-3.0's setup.py (as in the Django 2.2rc1 sdist; SWE-bench's Django 3.0
    # instances ask for Python 3.6, and their classifiers stop at 3.7)
    setup_py = ("import sys\nCURRENT_PYTHON = sys.version_info[:2]\nREQUIRED_PYTHON = (3, 6)\n"
                "setup(name='Django',\n"
                "    python_requires='>={}.{}'.format(*REQUIRED_PYTHON),\n"
                "    classifiers=['Programming Language :: Python :: 3.6',\n"
                "                 'Programming Language :: Python :: 3.7'],\n)\n")  # fmt: skip
    declared = declared_pythons({"setup.py": setup_py})
    assert declared.requires == ">=3.6" and declared.classifiers == ["3.6", "3.7"]
    assert choose_python("3.6", declared, AVAILABLE) == "3.9"  # past the classifiers
    # a tuple the file does not assign stays as written: no specifier, no substitute
    unknown = "setup(python_requires='>={}.{}'.format(*MINIMUM))\n"
    assert declared_pythons({"setup.py": unknown}).requires == "'>={}.{}'.format(*MINIMUM)"
    assert choose_python("3.6", declared_pythons({"setup.py": unknown}), AVAILABLE) is None


def test_the_nearest_declared_interpreter_is_chosen() -> None:
    django = declared_pythons({"setup.cfg": DJANGO_30_SETUP_CFG})
    assert choose_python("3.6", django, AVAILABLE) == "3.9"  # 3.11 is not declared
    assert choose_python("3.10", Declared(classifiers=["3.8", "3.9", "3.10", "3.11"]),
                         AVAILABLE) == "3.9"  # a tie goes to the older one  # fmt: skip
    assert choose_python("3.10", Declared(classifiers=["3.10", "3.11"]), AVAILABLE) == "3.11"
    assert choose_python("3.6", Declared(classifiers=["3.5", "3.6", "3.7"]), AVAILABLE) is None
    # classifiers first; past them, what python_requires allows (validation then tells)
    assert choose_python("3.6", Declared(classifiers=["3.6", "3.9"], requires=">=3.6"),
                         ("3.9", "3.11")) == "3.9"  # fmt: skip
    assert choose_python("3.6", Declared(classifiers=["3.6"], requires=">=3.6"), AVAILABLE) == (
        "3.9"
    )
    assert choose_python("3.6", Declared(classifiers=["3.6"], requires="<3.9"), AVAILABLE) is None
    assert choose_python("3.6", Declared(requires=">=3.6"), AVAILABLE) == "3.9"
    assert choose_python("3.6", Declared(requires="<3.8"), AVAILABLE) is None
    assert choose_python("3.6", Declared(requires="not a specifier"), AVAILABLE) is None
    assert choose_python("3.6", Declared(), AVAILABLE) is None


def test_the_pip_part_of_a_conda_environment_file() -> None:
    text = """name: xarray-tests
channels: [conda-forge, nodefaults]
dependencies:
  - python=3.10
  - pip
  - numpy=1.23
  - pandas>=1.3
  - hdf5
  - matplotlib-base
  - conda-forge::netcdf4
  - bottleneck
  - pip:
      - pytest-env
      - numbagg==0.2.1
      - --index-url=http://example.invalid/simple
      - -r /etc/passwd
"""
    assert pip_part_of_environment_yml(text) == [
        "numpy==1.23.*", "pandas>=1.3", "matplotlib", "netcdf4", "bottleneck", "pytest-env",
        "numbagg==0.2.1",
    ]  # fmt: skip
    assert pip_part_of_environment_yml(": not yaml [") == []


def _reader(files: dict[str, str]):
    return lambda path: files.get(path)


def test_a_django_spec_asking_for_36_gets_39_where_the_project_declares_it() -> None:
    official = swebench_spec("django/django", "3.0")
    assert not official.supported and official.substitutable == ["python"]
    spec = resolve_spec(official, _reader({"setup.cfg": DJANGO_30_SETUP_CFG}))
    assert spec.supported and spec.python == "3.9" and spec.suite == "bullseye"
    assert "Python 3.6 -> 3.9" in spec.substituted
    assert "setup.cfg: classifiers list Python 3.6, 3.7, 3.8, 3.9" in spec.substituted
    assert "past the classifiers" not in spec.substituted
    assert spec.packages == "requirements.txt" and spec.test_cmd == official.test_cmd
    assert spec.key != official.key  # its own environment image


def test_no_substitute_where_the_project_does_not_allow_one() -> None:
    official = swebench_spec("django/django", "3.0")
    old = DJANGO_30_SETUP_CFG.replace("    Programming Language :: Python :: 3.9\n", "")
    past = resolve_spec(official, _reader({"setup.cfg": old}))  # python_requires >=3.6 allows it
    assert past.supported and "3.9 is past the classifiers" in past.substituted
    strict = old.replace(">=3.6", ">=3.6, <3.9")
    spec = resolve_spec(official, _reader({"setup.cfg": strict}))
    assert not spec.supported and "classifiers list Python 3.6, 3.7, 3.8" in spec.reason
    assert "python_requires >=3.6, <3.9" in spec.reason and "none of them available" in spec.reason
    bare = resolve_spec(official, _reader({}))
    assert not bare.supported and "no Python version declared" in bare.reason


def test_an_environment_file_spec_installs_its_pip_part() -> None:
    official = swebench_spec("pydata/xarray", "0.12")
    assert official.substitutable == ["python", "environment.yml"]
    classifiers = "".join(f"    Programming Language :: Python :: {v}\n"
                          for v in ("3.8", "3.9", "3.10"))  # fmt: skip
    files = {"setup.cfg": f"[metadata]\nclassifiers =\n{classifiers}",
             "ci/requirements/environment.yml": "dependencies:\n  - numpy\n  - pip:\n    - pint\n"}
    spec = resolve_spec(official, _reader(files))
    assert spec.supported and spec.python == "3.9" and spec.conda_pip == ["numpy", "pint"]
    assert "environment.yml -> its pip-installable part" in spec.substituted
    assert spec.pip_packages == official.pip_packages and spec.packages == ""
    missing = resolve_spec(official, _reader({k: v for k, v in files.items()
                                              if k.startswith("setup")}))  # fmt: skip
    assert not missing.supported and "no environment.yml" in missing.reason


def test_official_supported_specs_are_left_as_they_are() -> None:
    spec = swebench_spec("pytest-dev/pytest", "5.4")
    assert spec.supported and resolve_spec(spec, _reader({})) is spec


def test_django_test_files_become_runtests_labels() -> None:
    assert django_label("tests/admin_views/tests.py") == "admin_views.tests"
    assert django_label("tests/forms_tests/field_tests/test_charfield.py") == (
        "forms_tests.field_tests.test_charfield"
    )
    diff = ("diff --git a/tests/app/tests.py b/tests/app/tests.py\n--- a/tests/app/tests.py\n"
            "+++ b/tests/app/tests.py\n@@ -1 +1,2 @@\n x\n+y\n")
    inst = Instance(instance_id="django__django-1", repo="django/django", base_commit="a",
                    version="3.0", problem_statement="x", test_patch=diff)
    assert run_targets(inst, swebench_spec("django/django", "3.0")) == ["app.tests"]


def test_the_pip_part_installs_one_by_one_under_the_specs_pins(tmp_path) -> None:
    from envs.environment import env_commands

    spec = swebench_spec("pydata/xarray", "0.12").model_copy(update={
        "supported": True, "python": "3.9", "suite": "bullseye", "packages": "",
        "conda_pip": ["numpy", "cartopy"], "substituted": "test"})  # fmt: skip
    inst = Instance(instance_id="pydata__xarray-1", repo="pydata/xarray", base_commit="a",
                    version="0.12", problem_statement="x")  # fmt: skip
    commands = env_commands(inst, spec, tmp_path)
    pins = next(c for c in commands if "/tmp/quorum-pins.txt <<" in c)
    assert "numpy==1.23.0" in pins and "pandas==1.5.3" in pins
    tries = [c for c in commands if "left out" in c]
    assert [c.split(" || ")[0].split()[-1] for c in tries] == ["numpy", "cartopy"]
    assert all("-c /tmp/quorum-pins.txt" in c for c in tries)
    assert commands[-1].endswith("numpy==1.23.0 packaging==23.1 pandas==1.5.3 pytest==7.4.0 "
                                 "python-dateutil==2.8.2 pytz==2023.3 six==1.16.0 "
                                 "scipy==1.11.1 setuptools==68.0.0 dask==2022.8.1")  # fmt: skip
