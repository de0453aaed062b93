# -*- coding: utf-8 -*-
""" Densely Connected Convolutional Networks.

Applying a 'DenseNet' to CIFAR-10 Dataset classification task.

References:
    - G. Huang, Z. Liu, K. Q. Weinberger, L. van der Maaten. Densely Connected 
        Convolutional Networks, 2016.

Links:
    - [Densely Connected Convolutional Networks](https://arxiv.org/abs/1608.06993)
    - [CIFAR-10 Dataset](https://www.cs.toronto.edu/~kriz/cifar.html)

Port of tflearn's examples/images/densenet.py: only `tflearn` became `stackit`, and
command-line options were added around the unchanged model:

    python examples/densenet.py                 # real CIFAR-10 (170 MB once)
    python examples/densenet.py --synthetic 64  # stand-in images, offline
    python examples/densenet.py --synthetic 64 --epochs 1 --depth 7  # smaller and shorter
"""

# ruff: noqa: UP009, UP010, I001, E402, E501, F403, F405, B007  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import argparse

import os

# Port addition: --synthetic N and --epochs.
parser = argparse.ArgumentParser(description="A DenseNet on CIFAR-10.")
parser.add_argument("--synthetic", type=int, metavar="N", default=0,
                    help="train on N stand-in 32x32x3 images (stackit.datasets stand-in data) "
                         "instead of the real dataset (no download)")
parser.add_argument("--epochs", type=int, default=200, help="epochs (default: 200)")
parser.add_argument("--depth", type=int, default=40, help="depth L (default: 40)")
args = parser.parse_args()

import stackit

# Growth Rate (12, 16, 32, ...)
k = 12

# Depth (40, 100, ...)
L = args.depth  # port addition: --depth (tflearn: 40)
nb_layers = int((L - 4) / 3)

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
net = stackit.densenet_block(net, nb_layers, k)
net = stackit.densenet_block(net, nb_layers, k)
net = stackit.densenet_block(net, nb_layers, k)
net = stackit.global_avg_pool(net)

# Regression
net = stackit.fully_connected(net, 10, activation='softmax')
opt = stackit.Nesterov(0.1, lr_decay=0.1, decay_step=32000, staircase=True)
net = stackit.regression(net, optimizer=opt,
                         loss='categorical_crossentropy')
# Training
model = stackit.DNN(net, checkpoint_path='model_densenet_cifar10',
                    max_checkpoints=10, tensorboard_verbose=0,
                    clip_gradients=0.)

model.fit(X, Y, n_epoch=args.epochs, validation_set=(testX, testY),
          snapshot_epoch=False, snapshot_step=500,
          show_metric=True, batch_size=128, shuffle=True,
          run_id='densenet_cifar10')
