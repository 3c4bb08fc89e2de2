"""How far a Quorum eval report agrees with an official evaluation of the same predictions.

    python -m quorum.compare OUT/report.json OFFICIAL_result.json

The official file is either a run report (`resolved_ids`) or the older leaderboard
`results.json` (`resolved`). Agreement is over the instances Quorum was given: both call
an instance resolved, or both do not."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def official_resolved(official: dict) -> set[str]:
    return set(official.get("resolved_ids", official.get("resolved", [])))


def agreement(report: dict, official: dict) -> dict:
    ours = set(report["resolved_ids"])
    theirs = official_resolved(official)
    ids = sorted(set(report["submitted_ids"]))
    disagree = [i for i in ids if (i in ours) != (i in theirs)]
    return {
        "instances": len(ids),
        "agree": len(ids) - len(disagree),
        "resolved_here": len(ours & set(ids)),
        "resolved_officially": len(theirs & set(ids)),
        "only_here": [i for i in disagree if i in ours],
        "only_officially": [i for i in disagree if i in theirs],
        "errors_here": report.get("error_statuses", {}),
    }


def main(argv: list[str]) -> None:
    report, official = (json.loads(Path(p).read_text()) for p in argv[:2])
    result = agreement(report, official)
    print(f"{result['agree']} of {result['instances']} agree")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
