"""The `quorum` command line. Each command group lives in quorum/commands/."""

from __future__ import annotations

import typer

from quorum.commands import (
    bench,
    demo,
    doctor,
    eval,
    images,
    model,
    sandbox,
    select,
    solve,
    verifier,
)

app = typer.Typer(
    name="quorum",
    help="Solve software issues by test-time scaling: many sandboxed trajectories, "
    "tests and verifiers, a hybrid selector, a hard budget.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("doctor")(doctor.doctor)
app.command("solve")(solve.solve_command)
app.command("eval")(eval.eval_command)
app.command("bench")(bench.bench_command)
app.command("select")(select.select_command)
app.command("demo")(demo.demo_command)
app.add_typer(images.app, name="images")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(model.app, name="model")
app.add_typer(verifier.app, name="verifier")

if __name__ == "__main__":
    app()
