# -*- coding: utf-8 -*-

""" Deep Neural Network for MNIST dataset classification task using
a highway network

References:
    [https://arxiv.org/abs/1505.00387](https://arxiv.org/abs/1505.00387)

Links:
    [MNIST Dataset] http://yann.lecun.com/exdb/mnist/

Port of tflearn's examples/images/highway_dnn.py: only `tflearn` became `stackit`. Offline,
`mnist.load_data` falls back (with a warning) to the 5,000 digits shipped with stackit.
Set STACKIT_EXAMPLE_EPOCHS to train for fewer epochs than the original 20.
"""

# ruff: noqa: UP009, UP010, I001, B007  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import os

import stackit

# Data loading and preprocessing
import stackit.datasets.mnist as mnist
X, Y, testX, testY = mnist.load_data(one_hot=True)

# Building deep neural network
input_layer = stackit.input_data(shape=[None, 784])
dense1 = stackit.fully_connected(input_layer, 64, activation='elu',
                                 regularizer='L2', weight_decay=0.001)

# install a deep network of highway layers
highway = dense1
for i in range(10):
    highway = stackit.highway(highway, 64, activation='elu',
                              regularizer='L2', weight_decay=0.001, transform_dropout=0.8)

softmax = stackit.fully_connected(highway, 10, activation='softmax')

# Regression using SGD with learning rate decay and Top-3 accuracy
sgd = stackit.SGD(learning_rate=0.1, lr_decay=0.96, decay_step=1000)
top_k = stackit.metrics.Top_k(3)
net = stackit.regression(softmax, optimizer=sgd, metric=top_k,
                         loss='categorical_crossentropy')

# Training
N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 20))
model = stackit.DNN(net, tensorboard_verbose=0)
model.fit(X, Y, n_epoch=N_EPOCH, validation_set=(testX, testY),
          show_metric=True, run_id="highway_dense_model")
