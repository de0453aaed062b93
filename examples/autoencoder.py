"""An autoencoder on MNIST: squeeze each digit into 64 numbers, then rebuild it from them.

    python examples/autoencoder.py               # 20 epochs
    python examples/autoencoder.py --epochs 2    # (or STACKIT_EXAMPLE_EPOCHS=2)

The idea of tflearn's examples/images/autoencoder.py: an encoder 784 -> 256 -> 64 and a
decoder 64 -> 256 -> 784 trained as one network to give back its input (`fit(X, X)`, mean
square loss, no metric). Afterwards `DNN(encoder, session=model.session)` is a second model
over the first half of the graph only, using the weights the first one trained: it turns a
digit into its 64-number code.

tflearn's example plots the rebuilt digits with matplotlib; this one prints how far they are
from the originals instead, next to the error of a "model" that returns the average digit
whatever it is shown. `mnist.load_data` downloads MNIST once; offline it falls back (with a
warning) to the 5,000 digits shipped with stackit.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import stackit
from stackit.datasets import mnist


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int,
                        default=int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 20)),
                        help="passes over the training digits (default: 20)")
    args = parser.parse_args(argv)

    X, _, testX, _ = mnist.load_data(one_hot=True)  # labels are not needed

    # The encoder: 784 pixels -> 256 -> a 64-number code.
    encoder = stackit.input_data(shape=[None, 784])
    encoder = stackit.fully_connected(encoder, 256)
    encoder = stackit.fully_connected(encoder, 64)
    # The decoder: the code -> 256 -> 784 pixels in [0, 1].
    decoder = stackit.fully_connected(encoder, 256)
    decoder = stackit.fully_connected(decoder, 784, activation='sigmoid')

    # The targets are the inputs themselves, so there is nothing to count as "accurate".
    net = stackit.regression(decoder, optimizer='adam', learning_rate=0.002,
                             loss='mean_square', metric=None)
    model = stackit.DNN(net, seed=0)
    model.fit(X, X, n_epoch=args.epochs, validation_set=(testX, testX), batch_size=64,
              snapshot_epoch=False, run_id='auto_encoder')

    # A second model over the encoder only, sharing the trained weights (model.session).
    encoding_model = stackit.DNN(encoder, session=model.session)
    code = encoding_model.predict([X[0]])  # a list with one digit: a batch of one
    print(f"Encoding of X[0], shape {code.shape}:")
    print(np.array2string(code[0], precision=2, max_line_width=100))

    # How close the rebuilt test digits are to the originals (mean square error per pixel).
    rebuilt = model.predict(testX)
    error = float(np.mean((rebuilt - testX) ** 2))
    baseline = float(np.mean((X.mean(axis=0) - testX) ** 2))
    print(f"Reconstruction error on {len(testX):,} test digits: {error:.4f} "
          f"(always answering the average digit: {baseline:.4f})")
    return error


if __name__ == "__main__":
    main()
