"""Base image figures: the present-image check, image sizes, and a cold container run.

Run by `make bench`; prints `name=value` lines like the other benchmarks.
"""

from __future__ import annotations

import statistics
import time

from sandbox import images, labels
from sandbox.docker_client import connect

RUNS = 5


def main() -> None:
    client = connect()
    try:
        for suite in images.SUITES:
            tag = images.ensure_base_image(client, suite)
            checks = []
            for _ in range(RUNS):
                started = time.perf_counter()
                images.ensure_base_image(client, suite)
                checks.append(time.perf_counter() - started)
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                container = client.containers.run(
                    tag, ["python3", "--version"], detach=True, labels={labels.MANAGED: "1"}
                )
                try:
                    container.wait(timeout=60)
                finally:
                    container.remove(force=True)
                runs.append(time.perf_counter() - started)
            size = client.images.get(tag).attrs["Size"] / 1024**2
            print(f"base_image_{suite}_size_mib={size:.0f}")
            print(f"base_image_{suite}_ensure_present_ms={statistics.median(checks) * 1e3:.1f}")
            print(f"base_image_{suite}_run_python_version_s={statistics.median(runs):.2f}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
