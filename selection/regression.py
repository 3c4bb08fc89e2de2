"""Regression tests without benchmark metadata: the repository's own tests near the change.

`related_tests` finds test files that import a changed module or are named after it
(`pkg/foo.py` -> `test_foo.py`, `foo_test.py`, tests that `import pkg.foo` or
`from pkg import foo`). `run_regressions` runs them on the base twice (a test whose two runs
differ is quarantined) and on each unique patch once, one pytest process per sandbox, and
returns a PassMatrix keyed by pytest node id. A candidate's regressions are the base-passing
tests it breaks. FAIL_TO_PASS / PASS_TO_PASS are never read here."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from envs.candidate import Candidate
from sandbox.errors import PatchApplyError, QuorumError
from sandbox.protocol import Sandbox
from selection.matrix import ORIGINAL, Cell, PassMatrix
from selection.normalize import parse_diff

JUNIT = ".quorum-regress.xml"
_IS_TEST = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


def _module(path: str) -> tuple[str, str] | None:
    """('pkg.sub.mod', 'mod') for a source file; None for tests and non-Python files."""
    if not path.endswith(".py") or _IS_TEST.search(path):
        return None
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return (".".join(parts), parts[-1]) if parts else None


def related_tests(changed: Sequence[str], files: dict[str, str], limit: int = 20) -> list[str]:
    """Test files (of `files`: path -> text) related to the changed source files, best
    first: named after a changed module, then importing one."""
    modules = [m for p in changed if (m := _module(p))]
    scored: dict[str, int] = {}
    for path, text in files.items():
        if not _IS_TEST.search(path):
            continue
        stem = PurePosixPath(path).stem.removeprefix("test_").removesuffix("_test")
        score = 0
        for dotted, short in modules:
            if stem == short:
                score += 3
            parent, _, leaf = dotted.rpartition(".")
            pattern = rf"(import\s+{re.escape(dotted)}\b|from\s+{re.escape(dotted)}\s+import"
            if parent:
                pattern += rf"|from\s+{re.escape(parent)}\s+import\s+[^\n]*\b{re.escape(leaf)}\b"
            if re.search(pattern + ")", text):
                score += 2
        if score:
            scored[path] = score
    return sorted(scored, key=lambda p: (-scored[p], p))[:limit]


def related_tests_in(box: Sandbox, changed: Sequence[str], limit: int = 20) -> list[str]:
    """`related_tests` over the repository in a sandbox: `git grep` narrows the test files
    to those naming a changed module before any is read."""
    modules = [m for p in changed if (m := _module(p))]
    if not modules:
        return []
    words = " ".join(f"-e {short}" for _, short in modules if re.fullmatch(r"\w+", short))
    if not words:
        return []
    found = box.exec(f"git ls-files -- '*.py' | grep -E '(^|/)(test_[^/]*|[^/]*_test)\\.py$' "
                     f"| xargs -r grep -l -w {words}", timeout=120)  # fmt: skip
    names = box.exec("git ls-files -- '*.py'", timeout=120).stdout.split()
    paths = set(found.stdout.split()) | {
        p for p in names if _IS_TEST.search(p) and any(
            PurePosixPath(p).stem in (f"test_{s}", f"{s}_test") for _, s in modules)
    }  # fmt: skip
    files = {p: box.read_file(p).decode(errors="replace") for p in sorted(paths)[:400]}
    return related_tests(changed, files, limit)


def changed_sources(candidates: Sequence[Candidate]) -> list[str]:
    seen: dict[str, None] = {}
    for cand in candidates:
        for diff in parse_diff(cand.patch):
            seen.setdefault(diff.path, None)
    return list(seen)


def _node_outcomes(xml: bytes) -> dict[str, bool]:
    report = ET.fromstring(xml)
    out = {}
    for case in report.iter("testcase"):
        node = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = any(case.find(tag) is not None for tag in ("failure", "error"))
        if case.find("skipped") is None:
            out[node] = not bad
    return out


def _run(box: Sandbox, patch: str, test_files: Sequence[str], timeout: float) -> dict[str, bool]:
    if patch:
        box.apply_patch(patch)
    cmd = (
        "python -m pytest -q -p no:cacheprovider --continue-on-collection-errors "
        f"--junitxml={JUNIT} {' '.join(test_files)}"
    )
    result = box.exec(cmd, timeout=timeout)
    if result.timed_out:
        return {}
    try:
        return _node_outcomes(box.read_file(JUNIT))
    except (QuorumError, ET.ParseError):
        return {}


async def run_regressions(
    candidates: Sequence[Candidate],
    test_files: Sequence[str],
    start_sandbox: Callable[[], Sandbox],
    *,
    concurrency: int = 4,
    timeout_s: float = 600,
) -> PassMatrix:
    gate = asyncio.Semaphore(concurrency)
    patches = {c.patch_id: c.patch for c in candidates if c.patch.strip()}

    async def row(patch: str) -> dict[str, bool] | str:
        def work() -> dict[str, bool] | str:
            with start_sandbox() as box:
                try:
                    return _run(box, patch, test_files, timeout_s)
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
        got = by_patch[cand.patch_id]
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
