"""The in-process verifier: batching, length sorting and the shared-prefix KV cache give
the same scores as scoring each prompt alone (a tiny random Qwen2 model, fast); and the
embedded GGUF gives the same P(YES) in transformers as in llama.cpp (slow)."""

from __future__ import annotations

import asyncio
import math

import pytest

# `make setup` installs the `gpu` extra (torch's CPU wheel here): a missing one fails.
import torch
import transformers  # noqa: F401

from selection.verifier import VerifierItem

WORDS = (  # noqa: SIM905
    "YES NO Yes No yes no the patch fixes issue bug in parser wrong return value add sub x y "
    "a b diff file line answer resolve does this <issue> </issue> <trajectory> </trajectory> "
    "<patch> </patch> ( ) ? . : - + ="
).split()
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    vocab = {w: i for i, w in enumerate(["<unk>", "<|im_start|>", "<|im_end|>", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<unk>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    tok.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(vocab), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512)  # fmt: skip
    return Qwen2ForCausalLM(config), tok


def _items() -> list[VerifierItem]:
    issue = "the parser returns the wrong value for add x y"
    patches = ["+ return a + b", "- return a - b + return b + a", "+ x = y", "- x", "+ a",
               "+ the patch fixes the bug in the parser - wrong line"]  # fmt: skip
    return [VerifierItem(candidate_id=f"c{i}", issue=issue, patch=p)
            for i, p in enumerate(patches)]  # fmt: skip


def test_batched_prefix_sharing_matches_one_by_one(tiny) -> None:
    from selection.verifier.hf import TransformersVerifier, common_prefix

    batched = TransformersVerifier(*tiny, batch_size=4)
    alone = TransformersVerifier(*tiny, batch_size=1, share_prefix=False)
    assert batched.yes_ids and batched.no_ids
    items = _items()
    got = asyncio.run(batched.score(items))
    want = alone.score_sync(items)
    assert set(got) == {i.candidate_id for i in items}
    for cid in want:
        assert got[cid] == pytest.approx(want[cid], abs=1e-4), cid
    # the shared prefix (system prompt + issue) ran once per batch, not once per item
    rows = [batched.encode(i) for i in items]
    assert common_prefix(rows) > 20
    assert batched.prefill_tokens < alone.prefill_tokens - common_prefix(rows)
    assert len({round(v, 6) for v in got.values()}) > 1  # the patches do change the score


@pytest.mark.slow
@pytest.mark.embedded
@pytest.mark.timeout(1800)  # 2 cores: loading and dequantising the GGUF alone took 7 minutes
def test_gguf_agrees_with_llama_cpp(embedded_model) -> None:
    """The same GGUF weights through llama.cpp's server and transformers' dequantised
    loader: the same ranking of the four candidates, and log-odds of YES within 0.35.

    Why not equal: llama.cpp multiplies the quantised weights with 8-bit-quantised
    activations, transformers with fp32 weights dequantised once. Measured gaps: under
    0.02 in P(YES) with an earlier llama.cpp, 0.15 in log-odds (0.04 in P near 0.5) with
    the pinned 0.3.16. A wrong loader, tokeniser or chat template moves them far more."""
    import gguf  # noqa: F401  (transformers' GGUF loader needs it; the `gpu` extra has it)

    from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig
    from agent.llm.embedded import QWEN25_CODER_1_5B, EmbeddedServer
    from selection.verifier import EndpointVerifier
    from selection.verifier.hf import TransformersVerifier

    items = [
        VerifierItem(candidate_id="right", issue="add(1, 2) returns -1: add subtracts.",
                     patch="-    return a - b\n+    return a + b"),
        VerifierItem(candidate_id="wrong", issue="add(1, 2) returns -1: add subtracts.",
                     patch="-    return a - b\n+    return a * b"),
        VerifierItem(candidate_id="empty", issue="add(1, 2) returns -1: add subtracts.",
                     patch="+# TODO"),
        VerifierItem(candidate_id="docs", issue="The README misspells 'recieve'.",
                     patch="-we recieve data\n+we receive data"),
    ]  # fmt: skip

    async def endpoint_scores(url: str) -> dict[str, float]:
        config = ModelConfig(
            name=QWEN25_CODER_1_5B.name,
            base_url=url,
            api_key_env=None,
            free=True,
            supports_logprobs=True,
            supports_tools=False,
        )
        async with LLMClient(config.resolve({}), Ledger(BudgetCaps())) as client:
            return await EndpointVerifier(client, concurrency=1).score(items)

    with EmbeddedServer(embedded_model, n_ctx=4096) as server:
        served = asyncio.run(endpoint_scores(server.base_url))
    local = TransformersVerifier.from_gguf(embedded_model, device="cpu").score_sync(items)
    print("llama.cpp", served, "transformers", local)
    assert sorted(served, key=served.get) == sorted(local, key=local.get)
    for cid in served:
        assert _log_odds(local[cid]) == pytest.approx(_log_odds(served[cid]), abs=0.35), cid


def _log_odds(p: float) -> float:
    return math.log(p / (1 - p))
