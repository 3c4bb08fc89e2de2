"""Verifier throughput on a CUDA GPU: 64 candidates of 8k tokens sharing a 4k prefix (one
task's issue and instructions), scored prefill-only by the in-process verifier in bf16.

verifier_tokens_per_s: prompt tokens judged per second (64 x 8k, the shared prefix counted
    for every candidate, as a caller sees it).
verifier_mfu: model FLOPs of the tokens actually computed (prefix once, suffixes with
    attention over the prefix) per second, over the bf16 matmul rate measured in the same
    run on the same GPU.

    python benchmarks/verifier_bench.py [MODEL]   (default Qwen/Qwen2.5-Coder-1.5B-Instruct;
    a directory or a .gguf file works too)

Without a CUDA GPU it says so and exits 0 without a figure."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

N, LENGTH, PREFIX, BATCH = 64, 8192, 4096, 8


def matmul_tflops(torch) -> float:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start, reps = time.perf_counter(), 20
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192**3 * reps / (time.perf_counter() - start) / 1e12


def model_flops(cfg, params: float, computed: int, suffix: int, prefix: int, n: int) -> float:
    """2 x params per computed token, plus attention scores and values (4 x layers x d per
    token pair, causal: half the square), the prefix once and each suffix over it."""
    d, layers = cfg.hidden_size, cfg.num_hidden_layers
    attn_prefix = 4 * layers * d * prefix * prefix / 2
    attn_suffix = n * 4 * layers * d * suffix * (prefix + suffix / 2)
    return 2 * params * computed + attn_prefix + attn_suffix


def main() -> int:
    try:
        import torch
    except ImportError:
        print("verifier_bench: torch is not installed (the gpu extra); no figure")
        return 0
    if not torch.cuda.is_available():
        print("verifier_bench: no CUDA GPU on this machine; no figure "
              "(run it where `nvidia-smi` shows a GPU)")  # fmt: skip
        return 0
    from selection.verifier.hf import TransformersVerifier

    name = sys.argv[1] if len(sys.argv) > 1 else "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    path = Path(name)
    verifier = (
        TransformersVerifier.from_gguf(path, device="cuda", batch_size=BATCH)
        if path.suffix == ".gguf"
        else TransformersVerifier.load(name, device="cuda", batch_size=BATCH)
    )
    vocab = verifier.model.config.vocab_size
    rng = random.Random(0)
    prefix = [rng.randrange(1000, vocab - 1000) for _ in range(PREFIX)]
    rows = {f"c{i:02d}": prefix + [rng.randrange(1000, vocab - 1000)
                                   for _ in range(LENGTH - PREFIX)] for i in range(N)}  # fmt: skip
    verifier.score_tokens(dict(list(rows.items())[:BATCH]))  # warm-up (kernels, allocator)
    verifier.prefill_tokens = 0
    torch.cuda.synchronize()
    start = time.perf_counter()
    scores = verifier.score_tokens(rows)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    assert len(scores) == N
    params = sum(p.numel() for p in verifier.model.parameters())
    flops = model_flops(verifier.model.config, params, verifier.prefill_tokens,
                        LENGTH - PREFIX, PREFIX, N)  # fmt: skip
    peak = matmul_tflops(torch)
    print(f"verifier_model={name}")
    print(f"verifier_gpu={torch.cuda.get_device_name()}")
    print(f"verifier_seconds={elapsed:.3f}")
    print(f"verifier_tokens_per_s={N * LENGTH / elapsed:.0f}")
    print(f"verifier_computed_tokens={verifier.prefill_tokens}")
    print(f"verifier_matmul_tflops={peak:.1f}")
    print(f"verifier_mfu={flops / elapsed / (peak * 1e12):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
