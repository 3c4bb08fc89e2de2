"""Base image figures: the present-image check, image sizes, and a cold container run.

Run by `make bench`; prints one `figure: value` line each, for the README's table.
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
            print(f"{suite} image size: {size:.0f} MiB")
            print(f"{suite} ensure_base_image, present: {statistics.median(checks) * 1e3:.1f} ms")
            print(f"{suite} container run python3 --version: {statistics.median(runs):.2f} s")
    finally:
        client.close()


if __name__ == "__main__":
    main()
