"""The verifier in-process with torch/transformers (the `gpu` extra): prefill-only YES/NO
scoring of many candidates at once.

- One forward pass per batch; no token is generated. The score is read from the logits of
  the last prompt position: P(YES) and P(NO) summed over the tokens that spell the word
  ("YES", "Yes", "yes", with or without a leading space), as the endpoint backend does.
- Prompts are sorted by length before batching (little padding), right-padded, and the
  last real position of each row is read.
- The prefix every prompt of a batch shares (system prompt and issue: the prompt puts them
  first) is computed once; its KV cache is repeated across the batch and only the suffixes
  are run, with positions continuing after the prefix.
- bf16 on CUDA, float32 on CPU (CPU bf16 matmuls are slow and change the numbers).

Weights: a Hugging Face model id or directory, or a GGUF file (dequantised by
transformers; needs the `gguf` package) — the same weights the embedded llama.cpp server
runs, which is how the two backends are checked against each other."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selection.verifier.prompt import VerifierItem, verifier_messages

YES_WORDS = ("YES", "Yes", "yes")
NO_WORDS = ("NO", "No", "no")


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the extra
        from sandbox.errors import QuorumError

        raise QuorumError(
            "the in-process verifier needs torch and transformers",
            hint="install the gpu extra: .venv/bin/pip install -e '.[gpu]'",
        ) from exc
    return torch


def _word_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
    """Single-token spellings of the words, with and without a leading space."""
    ids: set[int] = set()
    for word in words:
        for text in (word, " " + word):
            toks = tokenizer.encode(text, add_special_tokens=False)
            if len(toks) == 1:
                ids.add(toks[0])
    return sorted(ids)


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    if not rows:
        return 0
    n = min(len(r) for r in rows)
    for i in range(n):
        first = rows[0][i]
        if any(r[i] != first for r in rows[1:]):
            return i
    return n


class TransformersVerifier:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "verifier:transformers",
        batch_size: int = 8,
        max_prompt_tokens: int = 16384,
        share_prefix: bool = True,
    ) -> None:
        """A loaded causal LM and its tokenizer (see `load` for building from weights)."""
        self.torch = _import_torch()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.name = name
        self.batch_size = batch_size
        self.max_prompt_tokens = max_prompt_tokens
        self.share_prefix = share_prefix
        self.yes_ids = _word_ids(tokenizer, YES_WORDS)
        self.no_ids = _word_ids(tokenizer, NO_WORDS)
        self.prefill_tokens = 0  # tokens actually run through the model (shared prefix once)

    @classmethod
    def load(
        cls,
        model: str | Path,
        *,
        gguf_file: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        **kw: Any,
    ) -> TransformersVerifier:
        """From a model id or directory, or a GGUF file in that directory (dequantised)."""
        torch = _import_torch()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (
            torch.bfloat16 if device.startswith("cuda") else torch.float32
        )  # fmt: skip
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(str(model), **extra)
        lm = AutoModelForCausalLM.from_pretrained(str(model), dtype=torch_dtype, **extra)
        name = f"verifier:{Path(str(model)).name}{':' + gguf_file if gguf_file else ''}"
        return cls(lm.to(device), tokenizer, name=name, **kw)

    @classmethod
    def from_gguf(cls, path: Path, **kw: Any) -> TransformersVerifier:
        return cls.load(path.parent, gguf_file=path.name, **kw)

    def encode(self, item: VerifierItem) -> list[int]:
        ids = self.tokenizer.apply_chat_template(
            verifier_messages(item), add_generation_prompt=True, tokenize=True
        )
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return list(ids)[-self.max_prompt_tokens :]

    async def score(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        import asyncio

        return await asyncio.to_thread(self.score_sync, items)

    def score_sync(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        return self.score_tokens({item.candidate_id: self.encode(item) for item in items})

    def score_tokens(self, encoded: dict[str, list[int]]) -> dict[str, float]:
        """Scores of ready token sequences, keyed like the input. The prefix shared by all
        of them is run once and its KV cache reused by every batch."""
        order = sorted(encoded, key=lambda cid: (len(encoded[cid]), cid))
        rows = [encoded[c] for c in order]
        prefix = min(common_prefix(rows), min(len(r) for r in rows) - 1) if rows else 0
        if not self.share_prefix:
            prefix = 0
        torch = self.torch
        cache = None
        with torch.inference_mode():
            if prefix > 0:
                pre = torch.tensor([rows[0][:prefix]], device=self.device)
                cache = self.model(input_ids=pre, use_cache=True).past_key_values
                self.prefill_tokens += prefix
        out: dict[str, float] = {}
        for start in range(0, len(order), self.batch_size):
            ids = order[start : start + self.batch_size]
            probs = self._batch([encoded[c][prefix:] for c in ids], prefix, cache)
            out.update(zip(ids, probs, strict=True))  # same list, same order: by id
        return out

    def _batch(self, suffixes: list[list[int]], prefix: int, cache: Any) -> list[float]:
        torch = self.torch
        with torch.inference_mode():
            width = max(len(s) for s in suffixes)
            pad = self.tokenizer.pad_token_id or 0
            input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in suffixes],
                                     device=self.device)  # fmt: skip
            mask = torch.tensor(
                [[1] * (prefix + len(s)) + [0] * (width - len(s)) for s in suffixes],
                device=self.device,
            )
            positions = torch.arange(prefix, prefix + width, device=self.device)
            kwargs: dict[str, Any] = {
                "input_ids": input_ids,
                "attention_mask": mask,
                "position_ids": positions.unsqueeze(0).expand(len(suffixes), -1),
            }
            if cache is not None:  # each batch extends its own copy of the prefix cache
                batch_cache = copy.deepcopy(cache)
                if len(suffixes) > 1:
                    batch_cache.batch_repeat_interleave(len(suffixes))
                kwargs["past_key_values"] = batch_cache
            # the body's hidden states, then the LM head on the last real position only
            # (full logits would be batch x length x vocab: gigabytes for long prompts)
            body = getattr(self.model, self.model.base_model_prefix)
            hidden = body(**kwargs).last_hidden_state
            self.prefill_tokens += sum(len(s) for s in suffixes)
            last = torch.tensor([len(s) - 1 for s in suffixes], device=self.device)
            picked = hidden[torch.arange(len(suffixes), device=self.device), last]
            final = self.model.get_output_embeddings()(picked).float()
            p = torch.softmax(final, dim=-1)
            p_yes = p[:, self.yes_ids].sum(-1)
            p_no = p[:, self.no_ids].sum(-1)
            score = p_yes / (p_yes + p_no).clamp_min(1e-12)
        return [float(x) for x in score.cpu()]
