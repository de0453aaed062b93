"""Fine-tuning: the quickstart's LeNet-5, trained on the ten MNIST digits, learns "even or odd?".

    python examples/finetune_lenet.py              # pretrains once (lenet_mnist.npz), fine-tunes
    python examples/finetune_lenet.py --epochs 2

Step 1 trains LeNet-5 on digits 0-9 (the 4,000-digit sample that ships with stackit, offline)
and saves it to `lenet_mnist.npz`; when that file is already there, it is used as it is.
Step 2 builds the same network with a new 2-class head, loads every layer of the file whose
shape matches (`strict=False`; the report names the old 10-class head it skipped), freezes the
convolutions and trains the rest, the new head at 10 times the learning rate of the dense body.
"""

from __future__ import annotations

import argparse
import os

import stackit
from stackit.datasets import mnist

PRETRAINED = "lenet_mnist.npz"


def lenet(n_classes: int, **regression_kwargs):
    """LeNet-5 as in the quickstart; its output layer is named 'head'."""
    net = stackit.input_data(shape=[None, 28, 28, 1])
    net = stackit.conv_2d(net, 6, 5, activation='relu')
    net = stackit.max_pool_2d(net, 2)
    net = stackit.conv_2d(net, 16, 5, activation='relu')
    net = stackit.max_pool_2d(net, 2)
    net = stackit.fully_connected(net, 120, activation='relu', regularizer='L2')
    net = stackit.fully_connected(net, 84, activation='relu', regularizer='L2')
    net = stackit.fully_connected(net, n_classes, activation='softmax', name='head')
    return stackit.regression(net, **regression_kwargs)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of pretraining and of "
                        "fine-tuning (default: 3)")
    args = parser.parse_args(argv)

    X, Y, testX, testY = mnist.load_sample(one_hot=True)
    X, testX = X.reshape([-1, 28, 28, 1]), testX.reshape([-1, 28, 28, 1])

    if os.path.exists(PRETRAINED):
        print(f"Using the pretrained model in {PRETRAINED}.")
    else:
        model = stackit.DNN(lenet(10, optimizer=stackit.Adam(0.002)), seed=0)
        model.fit(X, Y, n_epoch=args.epochs, validation_set=(testX, testY), show_metric=True,
                  snapshot_epoch=False, run_id="lenet_digits")
        print(f"Saved {model.save(PRETRAINED)}.")

    # The new task: is the digit even (class 0) or odd (class 1)?
    parity = stackit.data_utils.to_categorical(Y.argmax(1) % 2, 2)
    test_parity = stackit.data_utils.to_categorical(testY.argmax(1) % 2, 2)
    stackit.reset_default_graph()  # layer names as in a new process: Conv2D, Conv2D_1, ...
    tuned = stackit.DNN(lenet(2, optimizer='adam', learning_rate=0.001,
                              learning_rates={'head': 10.0}), seed=1)
    tuned.load(PRETRAINED, weights_only=True, strict=False)  # prints what it loaded
    tuned.freeze('Conv2D*')
    print(f"Frozen: {', '.join(tuned.frozen)}.")
    tuned.fit(X, parity, n_epoch=args.epochs, validation_set=(testX, test_parity),
              show_metric=True, snapshot_epoch=False, run_id="lenet_parity")

    accuracy = tuned.evaluate(testX, test_parity)[0]
    print(f"Test accuracy (even or odd): {accuracy:.2%} on {len(testX):,} digits")
    return accuracy


if __name__ == "__main__":
    main()
