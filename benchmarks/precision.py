"""Mixed precision vs float32: the same stackit model trained both ways, alternated.

    python benchmarks/precision.py [--model lenet|mlp] [--policy bfloat16|float16]
                                   [--epochs 2] [--samples 20000] [--repeats 3]

The reference is `DNN(net)` in float32, the contender `DNN(net, mixed_precision=POLICY)`; both
train the model of `lenet_vs_jax.py` (or the MLP of `mlp_vs_jax.py`) on the same data with the
same seed. The ratio is mixed / float32 samples per second: above 1 where the hardware has fast
bfloat16 / float16 units (GPUs, TPUs, recent CPUs with AMX or AVX512-BF16); on CPUs without
them XLA widens each operation to float32 and back, so expect it below 1 there. There is no bar
to meet: the benchmark says what mixed precision buys on this machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from lenet_vs_jax import stackit_lenet  # noqa: E402
from mlp_vs_jax import stackit_mlp  # noqa: E402


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("lenet", "mlp"), default="lenet")
    parser.add_argument("--policy", choices=("bfloat16", "float16"), default="bfloat16")


def main() -> dict[str, float]:
    args = _common.parse_args(__doc__.splitlines()[0], epochs=2, samples=20_000, repeats=3,
                              extra=options)
    x, y, source = _common.mnist_like(args.samples, args.seed)
    build = stackit_lenet if args.model == "lenet" else stackit_mlp
    if args.model == "lenet":
        x = x.reshape(-1, 28, 28, 1)
    reference = _common.StackitTrainer(build(args.batch_size, args.seed), x, y, args.batch_size,
                                       label="float32 fit()")
    ours = _common.StackitTrainer(build(args.batch_size, args.seed, mixed_precision=args.policy),
                                  x, y, args.batch_size, label=f"{args.policy} fit()")
    return _common.run_comparison(f"{args.model}: mixed precision ({args.policy}) vs float32",
                                  args, source, reference, ours, bar=0.0)


if __name__ == "__main__":
    main()
