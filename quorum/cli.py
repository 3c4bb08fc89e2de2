"""The `quorum` command line. Each command group lives in quorum/commands/."""

from __future__ import annotations

from typing import Any

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from quorum.commands import (
    bench,
    demo,
    doctor,
    env,
    eval,
    images,
    model,
    report,
    sandbox,
    select,
    show,
    simulate,
    solve,
    verifier,
)
from quorum.commands.app import app_command
from quorum.errors import EXIT_ERROR, command_flags, is_help_request, print_error
from sandbox.errors import QuorumError

LOG_JSON = "quorum.log_json"  # ctx.meta: the command line asked for JSON lines


def _wants_json(args: list[str]) -> bool:
    """`--log-json` among the options: the errors below, raised before (or outside) the
    command that reads it, must be JSON lines too."""
    return "--log-json" in (args[: args.index("--")] if "--" in args else args)


class QuorumGroup(TyperGroup):
    """Every error of every command leaves through `quorum.errors`: a usage error (click's),
    an option value a pydantic model refused, a QuorumError no command caught, or any
    other exception (a bug), as one `error: ...` line (and its hint) on stderr, exit code
    1; as JSON lines when the command line holds `--log-json`."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:  # fmt: skip
        json_lines = _wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except typer.TyperException as exc:  # `quorum --bogus`
            if is_help_request(exc):
                raise
            print_error(exc, json_lines=json_lines)
            raise typer.Exit(EXIT_ERROR) from exc
        ctx.meta[LOG_JSON] = json_lines
        return ctx

    def invoke(self, ctx: typer.Context) -> Any:
        json_lines = bool(ctx.meta.get(LOG_JSON))
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:  # click's: usage errors, refused values
            if is_help_request(exc):
                raise  # `quorum images`: the group's help, as asked for
            print_error(exc, json_lines=json_lines)
            raise typer.Exit(EXIT_ERROR) from exc
        except (QuorumError, ValidationError) as exc:
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if name else None
            print_error(exc, options=command_flags(command), json_lines=json_lines)
            raise typer.Exit(EXIT_ERROR) from exc
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort):
            raise  # how a command ends on purpose (typer.Exit), or Ctrl-C at a prompt
        except Exception as exc:  # a bug: still one line, its traceback in the JSON record
            print_error(exc, json_lines=json_lines, unexpected=True)
            raise typer.Exit(EXIT_ERROR) from exc


app = typer.Typer(
    name="quorum",
    cls=QuorumGroup,
    help="Solve software issues by test-time scaling: many sandboxed trajectories, "
    "tests and verifiers, a hybrid selector, a hard budget. Every error is one "
    "`error: ...` line on stderr (`FILE:LINE: ...` for a file) and exit code 1; "
    "`quorum solve` exits 2 when it abstains.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("doctor")(doctor.doctor)
app.command("solve")(solve.solve_command)
app.command("eval")(eval.eval_command)
app.command("bench")(bench.bench_command)
app.command("select")(select.select_command)
app.command("demo")(demo.demo_command)
app.command("report")(report.report_command)
app.command("show")(show.show_command)
app.command("app")(app_command)
app.command("simulate")(simulate.simulate_command)
app.add_typer(env.app, name="env")
app.add_typer(images.app, name="images")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(model.app, name="model")
app.add_typer(verifier.app, name="verifier")

if __name__ == "__main__":
    app()
