"""Where tasks come from: a local repository, a GitHub issue, a SWE-bench instance."""

from envs.sources.github import task_from_github
from envs.sources.local import task_from_local
from envs.sources.swebench import task_from_instance, task_from_swebench

__all__ = ["task_from_github", "task_from_instance", "task_from_local", "task_from_swebench"]
