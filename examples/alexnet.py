# -*- coding: utf-8 -*-

""" AlexNet.

Applying 'Alexnet' to Oxford's 17 Category Flower Dataset classification task.

References:
    - Alex Krizhevsky, Ilya Sutskever & Geoffrey E. Hinton. ImageNet
    Classification with Deep Convolutional Neural Networks. NIPS, 2012.
    - 17 Category Flower Dataset. Maria-Elena Nilsback and Andrew Zisserman.

Links:
    - [AlexNet Paper](http://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks.pdf)
    - [Flower Dataset (17)](http://www.robots.ox.ac.uk/~vgg/data/flowers/17/)

Port of tflearn's examples/images/alexnet.py: only `tflearn` became `stackit`, and two
command-line options were added around the unchanged model:

    python examples/alexnet.py                    # the real dataset (downloads about 60 MB once)
    python examples/alexnet.py --synthetic 64     # 64 stand-in images, to watch it train offline
    python examples/alexnet.py --epochs 5         # fewer than the original 1000 epochs

Snapshots are written every 200 steps as model_alexnet-<step>.npz in the current folder.
"""

# ruff: noqa: UP009, UP010, I001  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import argparse

import os

import stackit
from stackit.layers.core import input_data, dropout, fully_connected
from stackit.layers.conv import conv_2d, max_pool_2d
from stackit.layers.normalization import local_response_normalization
from stackit.layers.estimator import regression

import stackit.datasets.oxflower17 as oxflower17

# Port addition: --synthetic N and --epochs (the model below is tflearn's, unchanged).
parser = argparse.ArgumentParser(description="AlexNet on Oxford's 17 Category Flowers.")
parser.add_argument("--synthetic", type=int, metavar="N", default=0,
                    help="train on N (at least 10) stand-in 227x227x3 images in 17 classes "
                         "instead of the real dataset (no download)")
parser.add_argument("--epochs", type=int, default=1000, help="epochs (default: 1000)")
args = parser.parse_args()

if args.synthetic:  # port addition: stackit's stand-in data, no download
    os.environ["STACKIT_STANDIN_DATA"] = "1"
    os.environ["STACKIT_STANDIN_SAMPLES"] = str(args.synthetic)
X, Y = oxflower17.load_data(one_hot=True, resize_pics=(227, 227))

# Building 'AlexNet'
network = input_data(shape=[None, 227, 227, 3])
network = conv_2d(network, 96, 11, strides=4, activation='relu')
network = max_pool_2d(network, 3, strides=2)
network = local_response_normalization(network)
network = conv_2d(network, 256, 5, activation='relu')
network = max_pool_2d(network, 3, strides=2)
network = local_response_normalization(network)
network = conv_2d(network, 384, 3, activation='relu')
network = conv_2d(network, 384, 3, activation='relu')
network = conv_2d(network, 256, 3, activation='relu')
network = max_pool_2d(network, 3, strides=2)
network = local_response_normalization(network)
network = fully_connected(network, 4096, activation='tanh')
network = dropout(network, 0.5)
network = fully_connected(network, 4096, activation='tanh')
network = dropout(network, 0.5)
network = fully_connected(network, 17, activation='softmax')
network = regression(network, optimizer='momentum',
                     loss='categorical_crossentropy',
                     learning_rate=0.001)

# Training
model = stackit.DNN(network, checkpoint_path='model_alexnet',
                    max_checkpoints=1, tensorboard_verbose=2)
model.fit(X, Y, n_epoch=args.epochs, validation_set=0.1, shuffle=True,
          show_metric=True, batch_size=64, snapshot_step=200,
          snapshot_epoch=False, run_id='alexnet_oxflowers17')
