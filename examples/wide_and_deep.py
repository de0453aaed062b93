"""A wide-and-deep model: two inputs, one small convnet, one merge, one softmax.

    python examples/wide_and_deep.py               # 5 epochs
    python examples/wide_and_deep.py --epochs 2    # (or STACKIT_EXAMPLE_EPOCHS=2)

Each MNIST digit comes in twice:

- "wide": 56 simple features computed by hand, the amount of ink in each of the 28 rows and
  each of the 28 columns. They go straight to the output layer (a linear model on them);
- "deep": the 28x28 image itself, through two convolutions and a dense layer.

`merge([wide, deep], mode='concat')` joins the two and one softmax layer reads both. The inputs
are fed as a dict keyed by the names given to `input_data`. `mnist.load_data` downloads MNIST
once; offline it falls back (with a warning) to the 5,000 digits shipped with stackit.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import stackit
from stackit.datasets import mnist


def ink_profile(images: np.ndarray) -> np.ndarray:
    """The wide features: mean ink per row, then per column. `(N, 28, 28, 1)` -> `(N, 56)`."""
    pixels = images[..., 0]
    return np.concatenate([pixels.mean(axis=2), pixels.mean(axis=1)], axis=1)


def build_model(seed: int = 0) -> stackit.DNN:
    wide = stackit.input_data(shape=[None, 56], name='ink')
    deep = stackit.input_data(shape=[None, 28, 28, 1], name='image')
    deep = stackit.conv_2d(deep, 8, 3, activation='relu')
    deep = stackit.max_pool_2d(deep, 2)
    deep = stackit.conv_2d(deep, 16, 3, activation='relu')
    deep = stackit.max_pool_2d(deep, 2)
    deep = stackit.fully_connected(deep, 64, activation='relu')
    net = stackit.merge([wide, deep], mode='concat')                 # (None, 56 + 64)
    net = stackit.fully_connected(net, 10, activation='softmax')
    net = stackit.regression(net, optimizer='adam', learning_rate=0.002,
                             loss='categorical_crossentropy', name='digit')
    return stackit.DNN(net, seed=seed)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int,
                        default=int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 5)),
                        help="passes over the training digits (default: 5)")
    args = parser.parse_args(argv)

    X, Y, testX, testY = mnist.load_data(one_hot=True)
    X, testX = X.reshape([-1, 28, 28, 1]), testX.reshape([-1, 28, 28, 1])
    train = {'ink': ink_profile(X), 'image': X}            # keyed by input name
    test = {'ink': ink_profile(testX), 'image': testX}

    model = build_model()
    model.fit(train, {'digit': Y}, n_epoch=args.epochs, validation_set=0.1,
              show_metric=True, batch_size=64, snapshot_epoch=False, run_id='wide_and_deep')

    accuracy = model.evaluate(test, testY)[0]
    print(f"Test accuracy: {accuracy:.2%} on {len(testX):,} digits")
    print("First test digits:", testY[:8].argmax(axis=1),
          "predicted:", model.predict_label({'ink': test['ink'][:8],
                                             'image': test['image'][:8]})[:, 0])
    return accuracy


if __name__ == "__main__":
    main()
