"""The one JUnit XML reader: pytest's --junitxml report as test cases with an outcome, and
the two readings selection makes of it.

A skipped test is read differently by the two, on purpose:
- a reproduction test (`file_outcomes`, the pass matrix) exists to show the fix; skipped,
  it did not show it, so its file did not pass;
- a repository test (`node_outcomes`, the regression matrix) is compared between the base
  and a patch; skipped, it says nothing about either (most are skipped on both sides, for
  a missing optional dependency or platform), so it is left out, never counted broken."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    outcome: Outcome
    seconds: float

    @property
    def node(self) -> str:
        return f"{self.classname}::{self.name}"


def parse_report(xml: bytes | str) -> ET.Element:
    """The report's root; raises ET.ParseError on a report that is not XML."""
    return ET.fromstring(xml)


def read_cases(report: ET.Element) -> list[Case]:
    cases = []
    for case in report.iter("testcase"):
        if any(case.find(tag) is not None for tag in ("failure", "error")):
            outcome: Outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        cases.append(Case(case.get("classname") or "", case.get("name") or "", outcome,
                          _seconds(case.get("time"))))  # fmt: skip
    return cases


def file_outcomes(report: ET.Element) -> dict[str, tuple[bool, float]]:
    """Reproduction tests: test file -> (every test case in it passed, their JUnit time).
    A skipped case fails its file; a file with no test case is absent (did not pass)."""
    seen: dict[str, tuple[bool, float]] = {}
    for case in read_cases(report):
        module = (case.classname or case.name).split(".")[0]
        if not module:
            continue
        path = f"{module}.py"
        ok, seconds = seen.get(path, (True, 0.0))
        seen[path] = (ok and case.outcome == "passed", seconds + case.seconds)
    return seen


def node_outcomes(report: ET.Element) -> dict[str, bool]:
    """Repository tests: node id -> passed; skipped cases are left out (see above)."""
    return {c.node: c.outcome == "passed" for c in read_cases(report) if c.outcome != "skipped"}


def _seconds(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0
