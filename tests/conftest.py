"""Suite-wide set-up. Local sandboxes run commands on the host, so `python` in them must be
the interpreter running the tests (which has pytest), whatever else is on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
# The repositories under test need none of this suite's pytest plugins (hypothesis, asyncio,
# anyio...), whose import costs seconds per pytest process started inside a local sandbox.
os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
