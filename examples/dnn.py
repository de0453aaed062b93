# -*- coding: utf-8 -*-

""" Deep Neural Network for MNIST dataset classification task.

References:
    Y. LeCun, L. Bottou, Y. Bengio, and P. Haffner. "Gradient-based
    learning applied to document recognition." Proceedings of the IEEE,
    86(11):2278-2324, November 1998.

Links:
    [MNIST Dataset] http://yann.lecun.com/exdb/mnist/

Port of tflearn's examples/images/dnn.py: only `tflearn` became `stackit`. Offline,
`mnist.load_data` falls back (with a warning) to the 5,000 digits shipped with stackit.
Set STACKIT_EXAMPLE_EPOCHS to train for fewer epochs than the original 20.
"""
# ruff: noqa: UP009, UP010, I001  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import os

import stackit

# Data loading and preprocessing
import stackit.datasets.mnist as mnist
X, Y, testX, testY = mnist.load_data(one_hot=True)

# Building deep neural network
input_layer = stackit.input_data(shape=[None, 784])
dense1 = stackit.fully_connected(input_layer, 64, activation='tanh',
                                 regularizer='L2', weight_decay=0.001)
dropout1 = stackit.dropout(dense1, 0.8)
dense2 = stackit.fully_connected(dropout1, 64, activation='tanh',
                                 regularizer='L2', weight_decay=0.001)
dropout2 = stackit.dropout(dense2, 0.8)
softmax = stackit.fully_connected(dropout2, 10, activation='softmax')

# Regression using SGD with learning rate decay and Top-3 accuracy
sgd = stackit.SGD(learning_rate=0.1, lr_decay=0.96, decay_step=1000)
top_k = stackit.metrics.Top_k(3)
net = stackit.regression(softmax, optimizer=sgd, metric=top_k,
                         loss='categorical_crossentropy')

# Training
N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 20))
model = stackit.DNN(net, tensorboard_verbose=0)
model.fit(X, Y, n_epoch=N_EPOCH, validation_set=(testX, testY),
          show_metric=True, run_id="dense_model")
