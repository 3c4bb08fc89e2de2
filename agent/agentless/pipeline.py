"""One agentless trajectory: localise (files, then functions), reproduce (a pytest file that
fails on the original code), repair (a fallback chain of edit formats, each edit applied
and checked before it counts). Every model call goes through the run's LLMClient under the
trajectory's id, and each stage is a Step of an ordinary Trajectory, saved as it happens."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent import prompts as agent_prompts
from agent.agentless import prompts, repro_imports
from agent.agentless.config import AgentlessConfig
from agent.agentless.edits import (
    EditError,
    check_file,
    replace_definitions,
    rewrite_file,
    search_replace,
)
from agent.agentless.replies import listed_names, listed_paths, main_code, search_replace_blocks
from agent.agentless.repomap import FileEntry, RepoMap, build_map, keyword_rank, with_imported
from agent.exits import BudgetStop, FormatLimit, Submitted
from agent.llm.client import LLMClient
from agent.llm.errors import BudgetExhausted
from agent.trajectory import Step, Trajectory, TrajectorySpec
from envs.candidate import Candidate
from envs.task import Task
from sandbox.protocol import Sandbox
from sandbox.result import ExecResult

StepHook = Callable[[Trajectory, Step], None]
_MARKER = re.compile(r"^\s*(<{5,}\s*SEARCH|={5,}|>{5,}\s*REPLACE)\s*$")
TEST_TIMEOUT_S = 120
UNCHANGED = "identical to the original"
MEND_ROUNDS = 3  # pytest reruns after mending a reproduction test's imports


async def run_agentless(
    spec: TrajectorySpec,
    task: Task,
    sandbox: Sandbox,
    client: LLMClient,
    *,
    config: AgentlessConfig,
    out_dir: Path,
    previous: Sequence[Candidate] = (),
    on_step: StepHook | None = None,
) -> Trajectory:
    """Runs the pipeline to its end; like the agent loop it never raises for a model or
    sandbox failure (the exit record says how it ended) and saves after every step."""
    traj = Trajectory(spec=spec, started_at=time.time())
    run = _Run(spec, task, sandbox, client, config, traj, out_dir, on_step)
    with traj.recording(out_dir):
        await run.go(previous)
    return traj


class _Run:
    def __init__(self, spec: TrajectorySpec, task: Task, sandbox: Sandbox, client: LLMClient,
                 config: AgentlessConfig, traj: Trajectory, out_dir: Path,
                 on_step: StepHook | None) -> None:  # fmt: skip
        self.spec, self.task, self.sandbox, self.client = spec, task, sandbox, client
        self.config, self.traj, self.out_dir, self.on_step = config, traj, out_dir, on_step

    # -- the pipeline ----------------------------------------------------------------------
    async def go(self, previous: Sequence[Candidate]) -> None:
        repo_map = await asyncio.to_thread(build_map, self.sandbox, max_files=self.config.map_files)
        if not repo_map.sources:
            raise RuntimeError("no source file in a language the repository map can outline")
        files = await self.localize_files(repo_map)
        entries = [e for e in (repo_map.get(p) for p in files) if e is not None]
        targets, snippets = await self.localize_functions(entries)
        context = prompts.code_context(snippets)
        if self.config.repro_attempts:
            shown = [e.path for e in entries]
            modules = repro_imports.index(((e.path, e.text) for e in repo_map.sources), shown)
            await self.reproduce(context, modules)
        if self.spec.role == "test_writer":
            raise Submitted("test written", step=len(self.traj.steps))
        used = await self.repair(entries, targets, context, previous)
        if used is None:
            reasons = "; ".join(
                f"{s.args.get('format')}: {s.format_error}"
                for s in self.traj.steps if s.tool == "repair" and s.format_error
            )  # fmt: skip
            raise FormatLimit(f"no usable edit ({reasons})", step=len(self.traj.steps))
        raise Submitted(f"edit by {used}", step=len(self.traj.steps))

    async def localize_files(self, repo_map: RepoMap) -> list[str]:
        sources = repo_map.sources
        if len(sources) == 1:
            self.record(Step(index=0, tool="localize", args={"stage": "files"},
                             observation=f"the only source file: {sources[0].path}"))  # fmt: skip
            return [sources[0].path]
        started = time.monotonic()
        prompt = prompts.localize(self.task, repo_map.render(self.config.map_chars),
                                  self.config.max_files)  # fmt: skip
        text, step = await self.ask(prompt, "agentless_localize", 128)
        picked: list[str] = []
        for name in listed_paths(text):
            path = repo_map.resolve(name)
            if path and path not in picked and repo_map.get(path) in sources:
                picked.append(path)
        if not picked:
            step.format_error = "the reply names no source file of the map; keyword ranking used"
            picked = keyword_rank(repo_map, self.task.problem_statement)
        picked = picked[: self.config.max_files]
        added = with_imported(repo_map, picked, self.task.problem_statement,
                              self.config.imported_files)  # fmt: skip
        step.tool, step.args = "localize", {"stage": "files", "files": picked + added}
        step.observation = "files: " + ", ".join(picked)
        if added:
            step.observation += "; and what they import: " + ", ".join(added)
        picked += added
        step.duration_s = time.monotonic() - started
        self.record(step)
        return picked

    async def localize_functions(
        self, entries: list[FileEntry]
    ) -> tuple[set[str], list[tuple[str, str]]]:
        """Qualified names to change and the code shown to repair and reproduce: whole
        files when they are short, else the named definitions with a margin."""
        whole = [(e.path, e.text) for e in entries]
        if sum(e.lines for e in entries) <= self.config.whole_file_lines:
            return set(), whole
        started = time.monotonic()
        outlines = "\n".join(
            f"{e.path}\n" + "\n".join(f"{'  ' * (d.depth + 1)}{d.signature}" for d in e.defs)
            for e in entries
        )
        text, step = await self.ask(prompts.narrow(self.task, outlines), "agentless_localize", 256)
        targets: set[str] = set()
        snippets: list[tuple[str, str]] = []
        for name in listed_names(text):
            for entry in entries:
                for d in entry.defs:
                    if (name == d.qualified or name == d.name) and d.qualified not in targets:
                        targets.add(d.qualified)
                        lines = entry.text.split("\n")
                        lo = max(d.start_line - 1 - self.config.context_margin, 0)
                        hi = min(d.end_line + self.config.context_margin, len(lines))
                        snippets.append((f"{entry.path} (lines {lo + 1}-{hi})",
                                         "\n".join(lines[lo:hi])))  # fmt: skip
        if not snippets:
            step.format_error = "the reply names no definition of the files; whole files shown"
            limit = self.config.whole_file_lines
            snippets = [(p, "\n".join(t.split("\n")[:limit])) for p, t in whole]
        step.tool, step.args = "localize", {"stage": "functions", "targets": sorted(targets)}
        step.observation = "definitions: " + (", ".join(sorted(targets)) or "(none)")
        step.duration_s = time.monotonic() - started
        self.record(step)
        return targets, snippets

    async def reproduce(self, context: str, modules: list[repro_imports.ModuleNames]) -> bool:
        """A test that fails on the original code (exit code 1: tests ran and failed, not on
        a name the test itself lacks); a missing or wrong import is mended without the model;
        a test that passes or cannot be collected is fed back once more, then removed."""
        path, feedback = agent_prompts.REPRO_TEST_PATH, ""
        imports = repro_imports.import_lines(modules)
        for attempt in range(1, self.config.repro_attempts + 1):
            started = time.monotonic()
            prompt = prompts.reproduce(self.task, context, feedback, imports)
            text, step = await self.ask(prompt, "agentless_repro", self.config.max_output_tokens)
            step.tool, step.args = "reproduce", {"attempt": attempt, "path": path}
            code = main_code(text)
            try:
                if "def test" not in code:
                    raise EditError("the reply holds no pytest test function")
                check_file(path, "", code)
            except EditError as exc:
                step.format_error = str(exc)
                feedback = str(exc)
            else:
                result = await asyncio.to_thread(self._run_test, path, code)
                mended: list[str] = []
                for _round in range(MEND_ROUNDS):
                    code, added = repro_imports.mend(code, result.output, modules)
                    if not added:
                        break
                    mended += added
                    result = await asyncio.to_thread(self._run_test, path, code)
                note = ""
                if mended:
                    step.args["imports_added"] = mended
                    note = f" (imports added: {'; '.join(mended)})"
                tail = result.output[-1500:]
                step.args["exit_code"] = result.exit_code
                lacks_name = re.search(rf"^{re.escape(path)}:\d+: NameError", result.output, re.M)
                if result.exit_code == 1 and not lacks_name:
                    step.observation = f"fails on the original code, as it should{note}:\n{tail}"
                    step.duration_s = time.monotonic() - started
                    self.record(step)
                    return True
                why = (
                    "passes on the original code" if result.ok
                    else "fails on a name the test never defines" if result.exit_code == 1
                    else "errors before testing"
                )  # fmt: skip
                step.observation = f"discarded: {why} (exit {result.exit_code}){note}:\n{tail}"
                feedback = f"It {why}. pytest said:\n{tail[-800:]}"
                await asyncio.to_thread(self.sandbox.exec, f"rm -f {path}", timeout=30)
            step.duration_s = time.monotonic() - started
            self.record(step)
        return False

    async def repair(self, entries: list[FileEntry], targets: set[str], context: str,
                     previous: Sequence[Candidate]) -> str | None:  # fmt: skip
        """The fallback chain: the first format whose reply gives a usable edit wins."""
        main = entries[0]
        unchanged = 0  # replies that gave the code back as it was
        for fmt in self.config.formats:
            if fmt == "file" and main.lines > self.config.file_rewrite_lines:
                continue
            if fmt == "file" and unchanged >= 2:
                # The model has twice said the code is right as it is; the whole file is the
                # costliest reply and came back unchanged too in every such case of the demo.
                continue
            target = {
                "search_replace": "",
                "function": ", ".join(sorted(targets)) or "the function(s) that need the fix",
                "file": main.path,
            }[fmt]
            shown = prompts.code_context([(main.path, main.text)]) if fmt == "file" else context
            correction = ""
            for _attempt in range(2):  # a second try only after a pasted format example
                started = time.monotonic()
                prompt = prompts.repair(self.task, shown, fmt, variant=self.spec.prompt_variant,
                                        target=target, previous=previous,
                                        correction=correction)  # fmt: skip
                text, step = await self.ask(prompt, "agentless_repair",
                                            self.config.max_output_tokens)  # fmt: skip
                step.tool, step.args = "repair", {"format": fmt}
                copied = fmt == "search_replace" and any(
                    prompts.copies_example(b.search, b.path, shown)
                    for b in search_replace_blocks(text))  # fmt: skip
                try:
                    if copied:
                        raise EditError("the reply copies the format's example, not this code")
                    edited, notes = self.apply(fmt, text, entries, targets)
                    for path, content in edited.items():
                        await asyncio.to_thread(self.sandbox.write_file, path, content)
                    step.args["files"] = sorted(edited)
                    step.observation = "applied; it parses and changes the code" + notes
                    return_value: str | None = fmt
                except EditError as exc:
                    step.format_error = str(exc)
                    step.observation = f"discarded: {exc}"
                    unchanged += str(exc) == UNCHANGED
                    return_value = None
                step.duration_s = time.monotonic() - started
                self.record(step)
                if return_value:
                    return return_value
                if not copied or correction:
                    break
                correction = prompts.COPIED_EXAMPLE
        return None

    def apply(self, fmt: str, text: str, entries: list[FileEntry],
              targets: set[str]) -> tuple[dict[str, str], str]:  # fmt: skip
        """The edited files (path -> text), each checked; raises EditError."""
        originals = {e.path: e.text for e in entries}
        edited = dict(originals)
        notes = ""
        if fmt == "search_replace":
            blocks = search_replace_blocks(text)
            if not blocks:  # a small model often answers with the fixed code instead
                try:
                    changed = self._as_definitions(text, entries, targets)
                except EditError as exc:
                    raise EditError(f"no SEARCH/REPLACE block in the reply ({exc})") from None
                notes = " (no SEARCH/REPLACE block; its code read as a definition rewrite)"
                edited.update(changed)
            failed: list[str] = []
            for block in blocks:
                path = self._path_for(block.path, entries)
                try:
                    edited[path] = search_replace(edited[path], block.search, block.replace)
                except EditError as exc:
                    failed.append(str(exc))
            if blocks and len(failed) == len(blocks):
                raise EditError("; ".join(sorted(set(failed))))
            if failed:
                notes = f" ({len(failed)} of {len(blocks)} blocks skipped: {failed[0]})"
        elif fmt == "function":
            edited.update(self._as_definitions(text, entries, targets))
        else:
            main = entries[0]
            edited[main.path] = rewrite_file(main.path, main.text, main_code(text))
        changed = {p: t for p, t in edited.items() if t != originals[p]}
        if not changed:
            raise EditError(UNCHANGED)
        for path, content in changed.items():
            check_file(path, originals[path], content)
        return changed, notes

    @staticmethod
    def _as_definitions(text: str, entries: list[FileEntry], targets: set[str]) -> dict[str, str]:
        """The reply's code put in place of the definitions it names, in the first file
        that has them; stray SEARCH/REPLACE markers are dropped first."""
        code = "\n".join(
            ln for ln in main_code(text).split("\n")
            if not _MARKER.match(ln)
        )  # fmt: skip
        errors = []
        for entry in entries:
            try:
                return {entry.path: replace_definitions(entry.path, entry.text, code, targets)}
            except EditError as exc:
                errors.append(str(exc))
        raise EditError(errors[0] if errors else "no file to edit")

    @staticmethod
    def _path_for(name: str | None, entries: list[FileEntry]) -> str:
        if name:
            name = name.removeprefix("./")
            for entry in entries:
                if entry.path == name or entry.path.endswith("/" + name):
                    return entry.path
        return entries[0].path

    # -- plumbing ----------------------------------------------------------------------------
    def _run_test(self, path: str, code: str) -> ExecResult:
        self.sandbox.write_file(path, code)
        return self.sandbox.exec(agent_prompts.REPRO_TEST_COMMAND, timeout=TEST_TIMEOUT_S)

    async def ask(self, prompt: str, caller: str, max_tokens: int) -> tuple[str, Step]:
        try:
            done = await self.client.complete(
                [{"role": "system", "content": prompts.SYSTEM},
                 {"role": "user", "content": prompt}],
                caller=caller, trajectory_id=self.spec.id,
                temperature=self.spec.temperature, max_tokens=max_tokens,
            )  # fmt: skip
        except BudgetExhausted as exc:
            raise BudgetStop(str(exc), step=len(self.traj.steps)) from exc
        text = done.text or ""
        step = Step(index=0, thought=text[: self.config.reply_chars], cost_usd=done.cost_usd,
                    tokens=done.usage.total_tokens)  # fmt: skip
        return text, step

    def record(self, step: Step) -> None:
        step.index = len(self.traj.steps) + 1
        self.traj.steps.append(step)
        self.traj.cost_usd += step.cost_usd
        self.traj.tokens += step.tokens
        self.traj.save(self.out_dir)
        if self.on_step:
            self.on_step(self.traj, step)
