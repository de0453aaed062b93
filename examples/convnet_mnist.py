# -*- coding: utf-8 -*-

""" Convolutional Neural Network for MNIST dataset classification task.

References:
    Y. LeCun, L. Bottou, Y. Bengio, and P. Haffner. "Gradient-based
    learning applied to document recognition." Proceedings of the IEEE,
    86(11):2278-2324, November 1998.

Links:
    [MNIST Dataset] http://yann.lecun.com/exdb/mnist/

Port of tflearn's examples/images/convnet_mnist.py: only `tflearn` became `stackit`. Inputs
and targets are fed as dicts keyed by the layer names ('input', 'target'). Offline,
`mnist.load_data` falls back (with a warning) to the 5,000 digits shipped with stackit.
Set STACKIT_EXAMPLE_EPOCHS to train for fewer epochs than the original 20.
"""

# ruff: noqa: UP009, UP010, I001  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import os

import stackit
from stackit.layers.core import input_data, dropout, fully_connected
from stackit.layers.conv import conv_2d, max_pool_2d
from stackit.layers.normalization import local_response_normalization
from stackit.layers.estimator import regression

# Data loading and preprocessing
import stackit.datasets.mnist as mnist
X, Y, testX, testY = mnist.load_data(one_hot=True)
X = X.reshape([-1, 28, 28, 1])
testX = testX.reshape([-1, 28, 28, 1])

# Building convolutional network
network = input_data(shape=[None, 28, 28, 1], name='input')
network = conv_2d(network, 32, 3, activation='relu', regularizer="L2")
network = max_pool_2d(network, 2)
network = local_response_normalization(network)
network = conv_2d(network, 64, 3, activation='relu', regularizer="L2")
network = max_pool_2d(network, 2)
network = local_response_normalization(network)
network = fully_connected(network, 128, activation='tanh')
network = dropout(network, 0.8)
network = fully_connected(network, 256, activation='tanh')
network = dropout(network, 0.8)
network = fully_connected(network, 10, activation='softmax')
network = regression(network, optimizer='adam', learning_rate=0.01,
                     loss='categorical_crossentropy', name='target')

# Training
N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 20))
model = stackit.DNN(network, tensorboard_verbose=0)
model.fit({'input': X}, {'target': Y}, n_epoch=N_EPOCH,
           validation_set=({'input': testX}, {'target': testY}),
           snapshot_step=100, show_metric=True, run_id='convnet_mnist')
