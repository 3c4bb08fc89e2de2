"""Which models a run uses: named endpoints from the user's config, or the embedded model.

`--model embedded` (the default when no endpoint is configured) starts the local
Qwen2.5-Coder-1.5B server for the run and stops it afterwards. Other names are looked up in
the models file (TOML, `[models.NAME]` tables of ModelConfig fields), else taken as a model
at $OPENAI_BASE_URL with $OPENAI_API_KEY."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.llm import Endpoint, ModelConfig
from envs.loader import load_document
from sandbox.errors import QuorumError

EMBEDDED = "embedded"


class ModelsFile(BaseModel):
    """The models file: `[models.NAME]` tables of ModelConfig fields; `name` (the model as
    its endpoint knows it) defaults to NAME. Anything else in the file is an error, so that
    a misspelt table is not ignored."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, ModelConfig] = Field(default_factory=dict)

    @field_validator("models", mode="before")
    @classmethod
    def _name_defaults_to_the_key(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: {"name": k, **v} if isinstance(v, dict) else v for k, v in value.items()}


def load_models_file(path: Path | None) -> dict[str, ModelConfig]:
    """Named endpoints; a problem is a LoadError naming the file and line."""
    if path is None:
        return {}
    return load_document(path, ModelsFile, what="models file", fmt="toml").models


def default_models(environ: Mapping[str, str]) -> list[str]:
    """A configured endpoint when there is one, else the embedded model."""
    if environ.get("QUORUM_MODEL"):
        return [environ["QUORUM_MODEL"]]
    return [EMBEDDED]


def embedded_config(base_url: str, name: str, n_ctx: int, *, logprobs: bool) -> ModelConfig:
    return ModelConfig(
        name=name,
        base_url=base_url,
        api_key_env=None,
        free=True,  # runs on this machine: tokens are counted, dollars are not
        supports_tools=False,  # a 1.5B model keeps to the text protocol far better
        size="small",  # --solver auto: agentless, which a 1.5B model can follow
        supports_logprobs=logprobs,
        context_window=n_ctx,
        max_output_tokens=1024,
        timeout_s=900,
    )


@contextmanager
def endpoints_for(
    names: Sequence[str],
    environ: Mapping[str, str],
    *,
    models_file: Path | None = None,
    cache_dir: Path,
    progress: Callable[[str], None] | None = None,
    logprobs: bool = False,
    server_log: Path | None = None,
) -> Iterator[list[Endpoint]]:
    """`logprobs`: the endpoints serve a verifier (the embedded model is then started with
    logprobs on and its prompt cache off; a solver's is the other way round). `server_log`:
    where the embedded server's log is kept (agent.llm.embedded_perf reads its timings);
    by default a temporary file, removed."""
    configured = load_models_file(models_file)
    with ExitStack() as stack:
        endpoints = []
        for name in names:
            if name == EMBEDDED:
                endpoints.append(stack.enter_context(
                    _embedded(cache_dir, progress, logprobs, server_log)))
            else:
                config = configured.get(name) or ModelConfig(name=name)
                endpoints.append(config.resolve(environ))
        yield endpoints


@contextmanager
def _embedded(
    cache_dir: Path, progress: Callable[[str], None] | None, logprobs: bool,
    log_path: Path | None = None,
) -> Iterator[Endpoint]:
    from agent.llm.embedded import EmbeddedServer, llama_cpp_installed
    from agent.llm.embedded_fetch import QWEN25_CODER_1_5B, ensure_model

    if not llama_cpp_installed():
        raise QuorumError(
            "the embedded model needs llama-cpp-python",
            hint="install it with: .venv/bin/pip install -e '.[embedded]' (or run `make demo`)",
        )
    path = ensure_model(cache_dir, progress=progress)
    if progress:
        role = "verifier" if logprobs else "model"
        progress(f"starting the embedded {role} server ({QWEN25_CODER_1_5B.name})")
    # logits_all (needed for YES/NO logprobs) keeps every position's logits: about 5 GB at
    # 8192 tokens for this vocabulary, 10 GB at 16384. The agent condenses history to fit.
    # The GGUF is memory-mapped, so a second server (solver and verifier) shares its pages.
    n_ctx = 8192
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    server = EmbeddedServer(path, n_ctx=n_ctx, logits_all=logprobs, prompt_cache=not logprobs,
                            log_path=log_path)
    with server:
        config = embedded_config(server.base_url, server.model_name, n_ctx, logprobs=logprobs)
        yield config.resolve({})
