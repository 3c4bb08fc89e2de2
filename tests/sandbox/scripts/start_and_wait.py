"""Child process for the cleanup tests: start N sandboxes, print their ids, then wait.

usage: start_and_wait.py IMAGE N RUN_ID [--signals]
"""

import sys
import time

from sandbox.config import DockerSandboxConfig
from sandbox.provider import DockerProvider
from sandbox.registry import close_on_signals

image, count, run_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
provider = DockerProvider.connect(run_id=run_id, gc=False)
with close_on_signals(provider.registry) if "--signals" in sys.argv else open("/dev/null"):
    boxes = [provider.start(DockerSandboxConfig(image=image)) for _ in range(count)]
    print(" ".join(box.container_id for box in boxes), flush=True)
    time.sleep(600)
