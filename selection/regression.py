"""Regression tests without benchmark metadata: the repository's own tests near the change.

`related_tests` finds test files that import a changed module or are named after it
(`pkg/foo.py` -> `test_foo.py`, `foo_test.py`, tests that `import pkg.foo`,
`from pkg import foo` or use `pkg.foo.x`), else those importing its package.
Django's `tests/<app>/tests.py` is also related to a change anywhere in a package named
`<app>` (`django/dispatch/dispatcher.py` -> `tests/dispatch/tests.py`). A test file in a
directory named after one of the module's packages (`tests/auth_tests/`, `tests/auth/`)
ranks first, and where one does, files only named like the module in other packages'
directories (every app's `test_forms.py`) are left out.
`run_regressions` runs them on the base twice (a test whose two runs differ is quarantined)
and on each unique patch once, one test process per sandbox, under the repository's own
runner (selection/regression_runners.py: pytest, Django's runtests.py, sympy's bin/test),
and returns a PassMatrix keyed by test id. A candidate's regressions are the base-passing
tests it breaks. FAIL_TO_PASS / PASS_TO_PASS are never read here."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath

from envs.candidate import Candidate
from envs.modules import module_of
from envs.testfiles import TEST_MODULE_ERE, is_test_module, module_under_test
from sandbox.errors import PatchApplyError
from sandbox.protocol import Sandbox
from selection.matrix import ORIGINAL, Cell, PassMatrix
from selection.regression_runners import Runner, detect_runner


def _module(path: str) -> tuple[str, str] | None:
    """('pkg.sub.mod', 'mod') for a source file; None for tests and non-Python files."""
    dotted = module_of(path) if not is_test_module(path) else None
    return (dotted, dotted.rpartition(".")[2]) if dotted else None


def _parents(dotted: str) -> list[str]:
    """Enclosing packages, nearest first: 'a.b.c' -> ['a.b', 'a']."""
    parts = dotted.split(".")[:-1]
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _package_names(dotted: str) -> set[str]:
    """The names of a module's packages below the top-level one ('django.contrib.auth.forms'
    -> {'contrib', 'auth'}): a test directory named `django` is no app's."""
    return {p.rpartition(".")[2] for p in _parents(dotted) if "." in p}


def _directory_names(path: str) -> set[str]:
    """A test file's directories as the package names they stand for: Django's
    `tests/auth_tests/` and `tests/test_auth/` -> auth; the `tests/` root says nothing."""
    names = set()
    for part in PurePosixPath(path).parent.parts:
        name = part.removesuffix("_tests").removeprefix("tests_").removeprefix("test_")
        if name not in ("", "test", "tests", "testing"):
            names.add(name)
    return names


def _in_own_package(path: str, dotted: str) -> bool:
    """The test file sits in a directory named after one of the module's packages."""
    return bool(_directory_names(path) & _package_names(dotted))


def _app_tests(path: str, dotted: str) -> bool:
    """Django's `tests/<app>/tests.py` for a module in a package named `<app>`."""
    return PurePosixPath(path).name == "tests.py" and _in_own_package(path, dotted)


def _imports_module(text: str, dotted: str) -> bool:
    """`import pkg.mod`, `from pkg.mod import x`, `from pkg import mod`, or a dotted use
    (`pkg.mod.fn = ...`, `mock.patch("pkg.mod.fn")`)."""
    parent, _, leaf = dotted.rpartition(".")
    pattern = rf"import\s+{re.escape(dotted)}\b|from\s+{re.escape(dotted)}\s+import"
    if parent:
        pattern += rf"|from\s+{re.escape(parent)}\s+import\s+[^\n]*\b{re.escape(leaf)}\b"
        pattern += rf"|(?<![\w.]){re.escape(dotted)}\b"
    return re.search(pattern, text) is not None


def _imports_package(text: str, package: str) -> bool:
    """`import pkg`, `from pkg import x`, `from pkg.sub import x`."""
    name = re.escape(package)
    return re.search(rf"import\s+{name}\b|from\s+{name}(\.\w+)*\s+import", text) is not None


def related_tests(changed: Sequence[str], files: dict[str, str], limit: int = 20) -> list[str]:
    """Test files (of `files`: path -> text) related to the changed source files, best
    first: named after a changed module, then importing (or naming) one. Where no test
    file does either, the test files importing the nearest enclosing package, if they are
    few (a single test module for a whole package, as requests has)."""
    modules = [m for p in changed if (m := _module(p))]
    tests = {p: t for p, t in files.items() if is_test_module(p)}
    scored: dict[str, int] = {}
    for dotted, short in modules:
        hits: dict[str, tuple[int, bool, bool]] = {}  # path -> (score, imports, same package)
        for path, text in tests.items():
            named = module_under_test(path) == short
            imports = _imports_module(text, dotted)
            same = _in_own_package(path, dotted)
            app = not named and same and PurePosixPath(path).name == "tests.py"
            if score := 3 * named + app + 2 * imports:
                hits[path] = (score + 2 * same, imports, same)
        if any(same for _, _, same in hits.values()):  # the module's own package's tests
            hits = {p: h for p, h in hits.items() if h[1] or h[2]}
        for path, (score, _, _) in hits.items():
            scored[path] = scored.get(path, 0) + score
    if not scored:  # the nearest package imported by a few test files (many say nothing)
        for package in sorted({p for d, _ in modules for p in _parents(d)},
                              key=lambda p: (-p.count("."), p)):  # fmt: skip
            hits = [p for p, text in tests.items() if _imports_package(text, package)]
            if hits:
                scored = dict.fromkeys(hits, 1) if len(hits) <= max(1, limit // 4) else {}
                break
    return sorted(scored, key=lambda p: (-scored[p], p))[:limit]


def related_tests_in(box: Sandbox, changed: Sequence[str], limit: int = 20) -> list[str]:
    """`related_tests` over the repository in a sandbox: `git grep` narrows the test files
    to those naming a changed module (or, failing those, an enclosing package) before any
    is read."""
    modules = [m for p in changed if (m := _module(p))]
    if not modules:
        return []
    names = box.exec("git ls-files -- '*.py'", timeout=120).stdout.split()
    named = {p for p in names if is_test_module(p) and any(
        module_under_test(p) == s or _app_tests(p, d) for d, s in modules)}  # fmt: skip
    first = _grep_tests(box, [short for _, short in modules]) | named
    found = related_tests(changed, _read(box, first), limit)
    if found:
        return found
    packages = {p.rpartition(".")[2] for d, _ in modules for p in _parents(d)}
    return related_tests(changed, _read(box, _grep_tests(box, sorted(packages))), limit)


def _grep_tests(box: Sandbox, words: Sequence[str]) -> set[str]:
    words = [w for w in words if re.fullmatch(r"\w+", w)]
    if not words:
        return set()
    pattern = " ".join(f"-e {w}" for w in words)
    found = box.exec(f"git ls-files -- '*.py' | grep -E '{TEST_MODULE_ERE}' "
                     f"| xargs -r grep -l -w {pattern}", timeout=120)  # fmt: skip
    return set(found.stdout.split())


def _read(box: Sandbox, paths: set[str]) -> dict[str, str]:
    return {p: box.read_file(p).decode(errors="replace") for p in sorted(paths)[:400]}


def _run(
    box: Sandbox, patch: str, test_files: Sequence[str], timeout: float, runner: Runner | None
) -> dict[str, bool]:
    runner = runner or detect_runner(box)  # before the patch: every run sees the base layout
    if patch:
        box.apply_patch(patch)
    return runner.run(box, test_files, timeout)


async def run_regressions(
    candidates: Sequence[Candidate],
    test_files: Sequence[str],
    start_sandbox: Callable[[], Sandbox],
    *,
    concurrency: int = 4,
    timeout_s: float = 600,
    keys: Mapping[str, str] | None = None,
    runner: Runner | None = None,
) -> PassMatrix:
    """One run per distinct patch: identical texts by default; with `keys` (candidate id ->
    key, e.g. a Group's normalised-patch keys) one run per key, shared by its candidates.
    `runner`: the suite's, where the task's spec says (`runner_for_repo`); by default it is
    told from the repository layout in each sandbox."""
    gate = asyncio.Semaphore(concurrency)

    def key(cand: Candidate) -> str:
        return (keys or {}).get(cand.id) or cand.patch_id

    patches: dict[str, str] = {}
    for cand in candidates:
        if cand.patch.strip():
            patches.setdefault(key(cand), cand.patch)

    async def row(patch: str) -> dict[str, bool] | str:
        def work() -> dict[str, bool] | str:
            with start_sandbox() as box:
                try:
                    return _run(box, patch, test_files, timeout_s, runner)
                except PatchApplyError as exc:
                    return str(exc)

        async with gate:
            return await asyncio.to_thread(work)

    base_runs = [row(""), row("")]
    rows = await asyncio.gather(*base_runs, *(row(p) for p in patches.values()))
    base_a, base_b = rows[0], rows[1]
    assert isinstance(base_a, dict) and isinstance(base_b, dict)
    stable = sorted(t for t in base_a if t in base_b and base_a[t] == base_b[t])
    by_patch = dict(zip(patches, rows[2:], strict=True))  # same order: built from one dict
    cells = {ORIGINAL: {t: Cell(passed=base_a[t]) for t in stable}}
    errors = {}
    for cand in candidates:
        if not cand.patch.strip():
            continue
        got = by_patch[key(cand)]
        if isinstance(got, str):
            errors[cand.id] = got
            got = {}
        cells[cand.id] = {t: Cell(passed=got.get(t, False)) for t in stable}
    return PassMatrix(
        candidate_ids=[ORIGINAL, *(c.id for c in candidates if c.patch.strip())],
        test_ids=stable,
        cells=cells,
        patch_errors=errors,
    )


def regressions(matrix: PassMatrix, candidate_id: str) -> int:
    """Base-passing tests this candidate breaks."""
    return sum(
        1
        for t in matrix.test_ids
        if matrix.passed(ORIGINAL, t) and not matrix.passed(candidate_id, t)
    )
