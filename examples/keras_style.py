"""LeNet-5 in the Keras spelling: `Sequential([...])`, `compile`, `fit(epochs=...)`.

    python examples/keras_style.py              # 10 epochs on the digits shipped with stackit
    python examples/keras_style.py --epochs 3

The layers are the same objects the tflearn functions in examples/quickstart.py build
(`Conv2D` is what `conv_2d` makes), so the two spellings train the same network. The data is
the 5,000-digit MNIST sample inside the package (4,000 train / 1,000 test), so this runs
offline.
"""

from __future__ import annotations

import argparse

import stackit
from stackit.datasets import mnist
from stackit.layers import Conv2D, Dense, Input, MaxPool2D


def build_model(seed: int = 0) -> stackit.Sequential:
    """LeNet-5: two 5x5 convolutions with 2x2 max pooling, then three dense layers."""
    model = stackit.Sequential([
        Input(shape=(28, 28, 1)),
        Conv2D(6, 5, activation='relu'),
        MaxPool2D(2),
        Conv2D(16, 5, activation='relu'),
        MaxPool2D(2),
        Dense(120, activation='relu'),  # Dense flattens its input, no Flatten() needed
        Dense(84, activation='relu'),
        Dense(10, activation='softmax'),
    ], seed=seed)
    model.compile(optimizer=stackit.Adam(learning_rate=0.002), loss='categorical_crossentropy',
                  metrics=['accuracy'])
    return model


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description="LeNet-5, Keras-style, on MNIST digits.")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = mnist.load_sample(one_hot=True)
    x_train = x_train.reshape(-1, 28, 28, 1)
    x_test = x_test.reshape(-1, 28, 28, 1)

    model = build_model()
    model.summary()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=64,
                        validation_data=(x_test, y_test))
    print(f"Best validation accuracy: {max(history.history['val_acc']):.2%}")
    accuracy = model.evaluate(x_test, y_test)[0]
    print(f"Test accuracy: {accuracy:.2%}")
    return accuracy


if __name__ == "__main__":
    main()
