"""Test logs to {test id: status}: the swebench package's parser for the repository when it
has one (so ids match the dataset's exactly), the plain pytest `-rA` parser otherwise."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from envs.specs import EnvSpec

STATUSES = ("PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL")


def parse_pytest(log: str) -> dict[str, str]:
    """The `-rA` short summary lines, as swebench's `parse_log_pytest` reads them."""
    status_map: dict[str, str] = {}
    for line in log.split("\n"):
        if line.startswith(STATUSES):
            if line.startswith("FAILED"):
                line = line.replace(" - ", " ")
            parts = line.split()
            if len(parts) > 1:
                status_map[parts[1]] = parts[0]
    return status_map


def swebench_parser(repo: str) -> Callable[..., dict[str, str]] | None:
    """swebench's parser for a repository (`parser(log, test_spec)`); None where swebench
    is not installed or has none."""
    try:
        from swebench.harness.log_parsers import MAP_REPO_TO_PARSER
    except ImportError:
        return None
    return MAP_REPO_TO_PARSER.get(repo)


def parse_log(spec: EnvSpec, log: str, instance_id: str = "") -> dict[str, str]:
    parser = swebench_parser(spec.parser) if spec.official else None
    if parser is not None:
        # A few parsers read the test spec; these fields are the ones they use.
        test_spec = SimpleNamespace(repo=spec.repo, version=spec.version, instance_id=instance_id)
        return parser(log, test_spec)
    return parse_pytest(log)
