"""`quorum verifier serve MODEL`: vLLM's OpenAI-compatible server with the flags the
execution-free verifier wants. Prefix caching (every candidate of a task shares the
instructions and the issue), a bounded context, top-20 logprobs (YES/NO spellings), and
optional LoRA adapters (a fine-tuned verifier head on a shared base)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="The execution-free verifier's model server.", no_args_is_help=True)
console = Console(stderr=True, highlight=False)
VLLM_HINT = (
    "vLLM is not installed here. On a machine with a CUDA GPU: "
    ".venv/bin/pip install -e '.[serve]'; or point --verifier-model at any OpenAI-compatible "
    "endpoint with logprobs (a llama.cpp server, `quorum model serve` for the embedded model)."
)


def vllm_command(
    model: str, *, host: str, port: int, max_model_len: int, max_logprobs: int,
    lora: list[str], served_name: str | None, gpu_memory_utilization: float,
    tensor_parallel: int, dtype: str,
) -> list[str]:  # fmt: skip
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model,
        "--served-model-name", served_name or model,
        "--host", host, "--port", str(port),
        "--dtype", dtype,
        "--max-model-len", str(max_model_len),
        "--max-logprobs", str(max_logprobs),
        "--enable-prefix-caching",
        "--gpu-memory-utilization", str(gpu_memory_utilization),
        "--tensor-parallel-size", str(tensor_parallel),
    ]  # fmt: skip
    if lora:
        cmd += ["--enable-lora", "--lora-modules", *lora]
    return cmd


@app.command("serve")
def serve(
    model: Annotated[str, typer.Argument(help="Hugging Face id or local path of the verifier.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    max_model_len: Annotated[int, typer.Option(help="Context length (tokens).")] = 32768,
    max_logprobs: Annotated[int, typer.Option(help="Largest top_logprobs served.")] = 20,
    lora: Annotated[
        list[str] | None, typer.Option(help="LoRA adapter NAME=PATH (repeatable).")
    ] = None,
    served_name: Annotated[str | None, typer.Option(help="Model name clients use.")] = None,
    gpu_memory_utilization: Annotated[float, typer.Option(help="Share of GPU memory.")] = 0.9,
    tensor_parallel: Annotated[int, typer.Option(help="GPUs to shard over.")] = 1,
    dtype: Annotated[str, typer.Option(help="Weights dtype.")] = "bfloat16",
    dry_run: Annotated[bool, typer.Option(help="Print the command instead of running it.")] = False,
) -> None:
    """Start vLLM for the verifier (runs until stopped). Use the printed base URL as a
    model with `supports_logprobs = true` and pass its name to --verifier-model."""
    cmd = vllm_command(
        model, host=host, port=port, max_model_len=max_model_len, max_logprobs=max_logprobs,
        lora=lora or [], served_name=served_name,
        gpu_memory_utilization=gpu_memory_utilization, tensor_parallel=tensor_parallel,
        dtype=dtype,
    )  # fmt: skip
    if dry_run:
        typer.echo(" ".join(cmd))
        return
    if importlib.util.find_spec("vllm") is None:
        console.print(f"error: {VLLM_HINT}", markup=False)
        raise typer.Exit(1)
    console.print(f"verifier endpoint: http://{host}:{port}/v1 (model {served_name or model})")
    os.execv(cmd[0], cmd)  # vLLM owns the process from here: signals reach it directly
