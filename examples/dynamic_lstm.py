# -*- coding: utf-8 -*-
"""
Simple example using a Dynamic RNN (LSTM) to classify IMDB sentiment dataset.
Dynamic computation are performed over sequences with variable length.

References:
    - Long Short Term Memory, Sepp Hochreiter & Jurgen Schmidhuber, Neural
    Computation 9(8): 1735-1780, 1997.
    - Andrew L. Maas, Raymond E. Daly, Peter T. Pham, Dan Huang, Andrew Y. Ng,
    and Christopher Potts. (2011). Learning Word Vectors for Sentiment
    Analysis. The 49th Annual Meeting of the Association for Computational
    Linguistics (ACL 2011).

Links:
    - http://deeplearning.cs.cmu.edu/pdfs/Hochreiter97_lstm.pdf
    - http://ai.stanford.edu/~amaas/data/sentiment/

Port of tflearn's examples/nlp/dynamic_lstm.py: only `tflearn` became `stackit`, and the epoch
count can be cut with STACKIT_EXAMPLE_EPOCHS. IMDB comes from the aclImdb text archive
(docs/datasets.md), tokenized by stackit, so word ids differ from tflearn's pickle.
"""

# ruff: noqa: UP009, UP010, I001, E402, E501, F403, F405, B007  (tflearn's lines are kept as they were)
from __future__ import division, print_function, absolute_import

import os

N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 10))  # port addition

import stackit
from stackit.data_utils import to_categorical, pad_sequences
from stackit.datasets import imdb

# IMDB Dataset loading
train, test, _ = imdb.load_data(path='imdb.pkl', n_words=10000,
                                valid_portion=0.1)
trainX, trainY = train
testX, testY = test

# Data preprocessing
# NOTE: Padding is required for dimension consistency. This will pad sequences
# with 0 at the end, until it reaches the max sequence length. 0 is used as a
# masking value by dynamic RNNs in TFLearn; a sequence length will be
# retrieved by counting non zero elements in a sequence. Then dynamic RNN step
# computation is performed according to that length.
trainX = pad_sequences(trainX, maxlen=100, value=0.)
testX = pad_sequences(testX, maxlen=100, value=0.)
# Converting labels to binary vectors
trainY = to_categorical(trainY)
testY = to_categorical(testY)

# Network building
net = stackit.input_data([None, 100])
# Masking is not required for embedding, sequence length is computed prior to
# the embedding op and assigned as 'seq_length' attribute to the returned Tensor.
net = stackit.embedding(net, input_dim=10000, output_dim=128)
net = stackit.lstm(net, 128, dropout=0.8, dynamic=True)
net = stackit.fully_connected(net, 2, activation='softmax')
net = stackit.regression(net, optimizer='adam', learning_rate=0.001,
                         loss='categorical_crossentropy')

# Training
model = stackit.DNN(net, tensorboard_verbose=0)
model.fit(trainX, trainY, n_epoch=N_EPOCH, validation_set=(testX, testY), show_metric=True,
          batch_size=32)
