"""What replaces what an official spec needs and this machine lacks, decided from the
repository's own files at the instance's environment-setup commit, never guessed:

- an interpreter: the nearest of the base images' Pythons that the project itself declares
  at that version (its `Programming Language :: Python :: 3.X` classifiers; where none of
  them is available, its `python_requires` / `requires-python`). A Django whose setup
  lists 3.6-3.9 and a spec asking for 3.6 get bullseye's 3.9; a project allowing none of
  the available ones is not substituted.
- a conda `environment.yml`: its pip-installable part (the `pip:` list as it is, and the
  conda dependencies under their PyPI names, conda's `=1.2` read as pip's `==1.2.*`),
  each installed on its own so one conda-only package does not sink the rest.

An environment built this way is marked `substituted` and counts only once its gold patch
resolves and its empty patch does not (envs.environment validates it after the build)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field

METADATA_FILES = ("setup.cfg", "setup.py", "pyproject.toml")
_CLASSIFIER = re.compile(r"Programming Language\s*::\s*Python\s*::\s*(3\.\d+)\b")
_REQUIRES = re.compile(
    r"""(?:python_requires|requires-python)\s*[=:]\s*(?:["']([^"'\n]+)["']|([^\s#'"][^#\n]*))"""
)
# `python_requires='>=' + __minimum_python_version__` (astropy 1.3-3.x): the literal goes on
# with a module-level string constant of the same file
_CONCAT = re.compile(r"\s*\+\s*([A-Za-z_]\w*)")
# `python_requires='>={}.{}'.format(*REQUIRED_PYTHON)` with `REQUIRED_PYTHON = (3, 6)`
# (Django 2.0-3.0's setup.py): the literal filled in with a module-level tuple of ints
_FORMAT = re.compile(r"\.format\(\s*\*\s*([A-Za-z_]\w*)\s*\)")
# conda package names whose PyPI name differs; entries mapped to None have no pip package
CONDA_TO_PYPI: dict[str, str | None] = {
    "python": None, "pip": None, "matplotlib-base": "matplotlib", "pytorch": "torch",
    "iris": "scitools-iris", "hdf5": None, "libnetcdf": None, "compilers": None,
    "c-compiler": None, "cxx-compiler": None, "make": None, "cmake": None, "pkg-config": None,
    "graphviz": None, "ffmpeg": None, "ghostscript": None, "imagemagick": None, "qhull": None,
    "proj": None, "geos": None, "gdal": None, "eccodes": None, "nodejs": None,
}  # fmt: skip


class Declared(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    classifiers: list[str] = Field(default_factory=list, description="3.X versions listed")
    requires: str = Field("", description="python_requires / requires-python, as written")
    source: str = Field("", description="the files they were read from")


def declared_pythons(files: Mapping[str, str | None]) -> Declared:
    """The Python versions a project's metadata files (path -> text) declare."""
    classifiers: set[str] = set()
    requires, seen = "", []
    for path in METADATA_FILES:
        text = files.get(path)
        if not text:
            continue
        seen.append(path)
        classifiers.update(_CLASSIFIER.findall(text))
        match = _REQUIRES.search(text)
        if match and not requires:
            requires = (match.group(1) or match.group(2) or "").strip().rstrip(",")
            if match.group(1) is not None:
                requires = _with_constant(requires, text, match.end())
    ordered = sorted(classifiers, key=Version)
    return Declared(classifiers=ordered, requires=requires, source=", ".join(seen))


def _with_constant(literal: str, text: str, end: int) -> str:
    """The literal, completed by a `+ NAME` after it where NAME is a string constant the file
    assigns at module level, or filled in by a `.format(*NAME)` where NAME is a tuple of ints;
    an expression it cannot read stays as written, so it parses as no specifier and the
    reason shows it."""
    fmt = _FORMAT.match(text, end)
    if fmt:
        name = fmt.group(1)
        value = re.search(rf"^{re.escape(name)}\s*=\s*\(([\d\s,]+)\)", text, re.MULTILINE)
        numbers = value.group(1).replace(",", " ").split() if value else []
        if numbers and len(numbers) == literal.count("{}") == literal.count("{"):
            return literal.format(*numbers)
        return f"'{literal}'.format(*{name})"
    concat = _CONCAT.match(text, end)
    if not concat:
        return literal
    name = concat.group(1)
    value = re.search(rf"""^{re.escape(name)}\s*=\s*["']([^"'\n]+)["']""", text, re.MULTILINE)
    return literal + value.group(1).strip() if value else f"'{literal}' + {name}"


def choose_python(wanted: str, declared: Declared, available: Iterable[str]) -> str | None:
    """The available interpreter nearest `wanted` among those the project's classifiers
    list; failing that, among those its python_requires allows (a looser promise: the
    validation after the build is what tells). On a tie the older one, closer to what the
    spec's pins were made for. None when the project allows none of them."""
    options = sorted(available, key=Version)
    allowed = [v for v in options if v in declared.classifiers]
    if not allowed and declared.requires:
        try:
            spec = SpecifierSet(declared.requires)
        except InvalidSpecifier:
            return None
        allowed = [v for v in options if Version(v) in spec]
    if not allowed:
        return None
    target = Version(wanted)

    def distance(v: str) -> tuple[int, int]:
        have = Version(v)
        gap = abs((have.major - target.major) * 100 + have.minor - target.minor)
        return gap, have.minor

    return min(allowed, key=distance)


def describe(declared: Declared, chosen: str | None = None) -> str:
    """Where the choice came from, for the spec's `substituted` or `reason`."""
    parts = []
    if declared.classifiers:
        parts.append(f"classifiers list Python {', '.join(declared.classifiers)}")
    if declared.requires:
        parts.append(f"python_requires {declared.requires}")
    if not parts:
        where = declared.source or "setup.cfg, setup.py or pyproject.toml"
        return f"no Python version declared in {where}"
    text = f"{declared.source}: {'; '.join(parts)}"
    if chosen and chosen not in declared.classifiers and declared.classifiers:
        text += f" ({chosen} is past the classifiers, within python_requires)"
    return text


_CONDA_DEP = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:([<>=!~]=?)\s*([^\s#]*))?")


def pip_part_of_environment_yml(text: str) -> list[str]:
    """The requirements pip can try from a conda environment file (see the module doc)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return []
    out: list[str] = []
    for dep in data.get("dependencies") or []:
        if isinstance(dep, dict):
            # a pip option (`-r file`, `--index-url`) is not a requirement: left out
            out += [str(p).strip() for p in dep.get("pip") or []
                    if str(p).strip() and not str(p).strip().startswith("-")]  # fmt: skip
            continue
        match = _CONDA_DEP.match(str(dep).split("::")[-1])
        if not match:
            continue
        name, op, version = match.group(1), match.group(2), match.group(3)
        pypi = CONDA_TO_PYPI.get(name.lower(), name)
        if pypi is None:
            continue
        if op == "=" and version:  # conda's `=1.2` is a prefix: 1.2.*
            out.append(f"{pypi}=={version.rstrip('.*')}.*")
        elif op and version:
            out.append(f"{pypi}{op}{version}")
        else:
            out.append(pypi)
    return list(dict.fromkeys(out))
