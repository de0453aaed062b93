# -*- coding: utf-8 -*-

""" Deep Residual Network.

Applying a Deep Residual Network to CIFAR-10 Dataset classification task.

References:
    - K. He, X. Zhang, S. Ren, and J. Sun. Deep Residual Learning for Image
      Recognition, 2015.
    - Learning Multiple Layers of Features from Tiny Images, A. Krizhevsky, 2009.

Links:
    - [Deep Residual Network](http://arxiv.org/pdf/1512.03385.pdf)
    - [CIFAR-10 Dataset](https://www.cs.toronto.edu/~kriz/cifar.html)

Port of tflearn's examples/images/residual_network_cifar10.py: only `tflearn` became
`stackit`, and command-line options were added around the unchanged model:

    python examples/residual_network_cifar10.py                  # real CIFAR-10 (170 MB once)
    python examples/residual_network_cifar10.py --synthetic 256  # stand-in images, offline
    python examples/residual_network_cifar10.py --epochs 5 --n 2  # shorter run, 14 layers
"""

# ruff: noqa: UP009, UP010, I001, E402  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import argparse

import os

import stackit

# Port addition: --synthetic N, --epochs and --n.
parser = argparse.ArgumentParser(description="A deep residual network on CIFAR-10.")
parser.add_argument("--synthetic", type=int, metavar="N", default=0,
                    help="train on N stand-in 32x32x3 images (stackit.datasets stand-in data) "
                         "instead of the real dataset (no download)")
parser.add_argument("--epochs", type=int, default=200, help="epochs (default: 200)")
parser.add_argument("--n", type=int, default=5,
                    help="residual blocks per stage: 5 → 32 layers (default), 9 → 56, 18 → 110")
args = parser.parse_args()

# Residual blocks
# 32 layers: n=5, 56 layers: n=9, 110 layers: n=18
n = args.n

# Data loading
from stackit.datasets import cifar10
if args.synthetic:  # port addition: stackit's stand-in data, no download
    os.environ["STACKIT_STANDIN_DATA"] = "1"
    os.environ["STACKIT_STANDIN_SAMPLES"] = str(args.synthetic)
(X, Y), (testX, testY) = cifar10.load_data()
Y = stackit.data_utils.to_categorical(Y)
testY = stackit.data_utils.to_categorical(testY)

# Real-time data preprocessing
img_prep = stackit.ImagePreprocessing()
img_prep.add_featurewise_zero_center(per_channel=True)

# Real-time data augmentation
img_aug = stackit.ImageAugmentation()
img_aug.add_random_flip_leftright()
img_aug.add_random_crop([32, 32], padding=4)

# Building Residual Network
net = stackit.input_data(shape=[None, 32, 32, 3],
                         data_preprocessing=img_prep,
                         data_augmentation=img_aug)
net = stackit.conv_2d(net, 16, 3, regularizer='L2', weight_decay=0.0001)
net = stackit.residual_block(net, n, 16)
net = stackit.residual_block(net, 1, 32, downsample=True)
net = stackit.residual_block(net, n-1, 32)
net = stackit.residual_block(net, 1, 64, downsample=True)
net = stackit.residual_block(net, n-1, 64)
net = stackit.batch_normalization(net)
net = stackit.activation(net, 'relu')
net = stackit.global_avg_pool(net)
# Regression
net = stackit.fully_connected(net, 10, activation='softmax')
mom = stackit.Momentum(0.1, lr_decay=0.1, decay_step=32000, staircase=True)
net = stackit.regression(net, optimizer=mom,
                         loss='categorical_crossentropy')
# Training
model = stackit.DNN(net, checkpoint_path='model_resnet_cifar10',
                    max_checkpoints=10, tensorboard_verbose=0,
                    clip_gradients=0.)
model.fit(X, Y, n_epoch=args.epochs, validation_set=(testX, testY),
          snapshot_epoch=False, snapshot_step=500,
          show_metric=True, batch_size=128, shuffle=True,
          run_id='resnet_cifar10')
