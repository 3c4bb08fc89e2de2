"""The outcome of one command run in a sandbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

TRUNCATION_MARKER = "\n[... output truncated by quorum: {dropped} bytes dropped ...]\n"


class ExecResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """stdout then stderr, as a person would read them in a terminal."""
        if self.stderr and self.stdout:
            return f"{self.stdout}\n{self.stderr}"
        return self.stdout or self.stderr
