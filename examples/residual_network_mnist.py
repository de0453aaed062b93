# -*- coding: utf-8 -*-

""" Deep Residual Network.

Applying a Deep Residual Network to MNIST Dataset classification task.

References:
    - K. He, X. Zhang, S. Ren, and J. Sun. Deep Residual Learning for Image
      Recognition, 2015.
    - Y. LeCun, L. Bottou, Y. Bengio, and P. Haffner. "Gradient-based
      learning applied to document recognition." Proceedings of the IEEE,
      86(11):2278-2324, November 1998.

Links:
    - [Deep Residual Network](http://arxiv.org/pdf/1512.03385.pdf)
    - [MNIST Dataset](http://yann.lecun.com/exdb/mnist/)

Port of tflearn's examples/images/residual_network_mnist.py: only `tflearn` became
`stackit`. Offline, `mnist.load_data` falls back (with a warning) to the 5,000 digits shipped
with stackit. Port additions: STACKIT_EXAMPLE_EPOCHS cuts the 100 epochs, and
STACKIT_EXAMPLE_SAMPLES keeps only the first N training and test images.
"""

# ruff: noqa: UP009, UP010, I001, E402, E501, F403, F405, B007  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import os

N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 100))  # port addition
N_SAMPLES = int(os.environ.get("STACKIT_EXAMPLE_SAMPLES", 0)) or None  # port addition

import stackit
import stackit.data_utils as du

# Data loading and preprocessing
import stackit.datasets.mnist as mnist
X, Y, testX, testY = mnist.load_data(one_hot=True)
X, Y, testX, testY = X[:N_SAMPLES], Y[:N_SAMPLES], testX[:N_SAMPLES], testY[:N_SAMPLES]  # port addition
X = X.reshape([-1, 28, 28, 1])
testX = testX.reshape([-1, 28, 28, 1])
X, mean = du.featurewise_zero_center(X)
testX = du.featurewise_zero_center(testX, mean)

# Building Residual Network
net = stackit.input_data(shape=[None, 28, 28, 1])
net = stackit.conv_2d(net, 64, 3, activation='relu', bias=False)
# Residual blocks
net = stackit.residual_bottleneck(net, 3, 16, 64)
net = stackit.residual_bottleneck(net, 1, 32, 128, downsample=True)
net = stackit.residual_bottleneck(net, 2, 32, 128)
net = stackit.residual_bottleneck(net, 1, 64, 256, downsample=True)
net = stackit.residual_bottleneck(net, 2, 64, 256)
net = stackit.batch_normalization(net)
net = stackit.activation(net, 'relu')
net = stackit.global_avg_pool(net)
# Regression
net = stackit.fully_connected(net, 10, activation='softmax')
net = stackit.regression(net, optimizer='momentum',
                         loss='categorical_crossentropy',
                         learning_rate=0.1)
# Training
model = stackit.DNN(net, checkpoint_path='model_resnet_mnist',
                    max_checkpoints=10, tensorboard_verbose=0)
model.fit(X, Y, n_epoch=N_EPOCH, validation_set=(testX, testY),
          show_metric=True, batch_size=256, run_id='resnet_mnist')
