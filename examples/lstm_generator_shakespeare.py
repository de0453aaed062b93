"""Shakespeare-style text from a three-layer character LSTM (tflearn's char-RNN).

Port of tflearn's examples/nlp/lstm_generator_shakespeare.py: only `tflearn` became `stackit`
(and `six.moves.urllib` the standard library's). Port additions: --text FILE trains on any
local text file instead of downloading Shakespeare, and --iterations cuts the 50 rounds of
one epoch + two generated samples.
"""

# ruff: noqa: UP009, UP010, I001, E402, E501, F403, F405, B007  (tflearn's lines are kept as they were)
from __future__ import absolute_import, division, print_function

import argparse

parser = argparse.ArgumentParser(description="A character LSTM that writes like its text.")
parser.add_argument("--text", default=None, help="a local text file to learn (no download)")
parser.add_argument("--iterations", type=int, default=50, help="rounds of fit + generate")
parser.add_argument("--generate", type=int, default=600, help="characters per sample")
args = parser.parse_args()

import os
import pickle
import urllib.request

import stackit
from stackit.data_utils import *

path = args.text or "shakespeare_input.txt"  # port addition: --text
char_idx_file = 'char_idx.pickle'

if not os.path.isfile(path):
    urllib.request.urlretrieve("https://raw.githubusercontent.com/stackit/stackit.github.io/master/resources/shakespeare_input.txt", path)

maxlen = 25

char_idx = None
if os.path.isfile(char_idx_file):
  print('Loading previous char_idx')
  char_idx = pickle.load(open(char_idx_file, 'rb'))

X, Y, char_idx = \
    textfile_to_semi_redundant_sequences(path, seq_maxlen=maxlen, redun_step=3,
                                         pre_defined_char_idx=char_idx)

pickle.dump(char_idx, open(char_idx_file,'wb'))

g = stackit.input_data([None, maxlen, len(char_idx)])
g = stackit.lstm(g, 512, return_seq=True)
g = stackit.dropout(g, 0.5)
g = stackit.lstm(g, 512, return_seq=True)
g = stackit.dropout(g, 0.5)
g = stackit.lstm(g, 512)
g = stackit.dropout(g, 0.5)
g = stackit.fully_connected(g, len(char_idx), activation='softmax')
g = stackit.regression(g, optimizer='adam', loss='categorical_crossentropy',
                       learning_rate=0.001)

m = stackit.SequenceGenerator(g, dictionary=char_idx,
                              seq_maxlen=maxlen,
                              clip_gradients=5.0,
                              checkpoint_path='model_shakespeare')

for i in range(args.iterations):
    seed = random_sequence_from_textfile(path, maxlen)
    m.fit(X, Y, validation_set=0.1, batch_size=128,
          n_epoch=1, run_id='shakespeare')
    print("-- TESTING...")
    print("-- Test with temperature of 1.0 --")
    print(m.generate(args.generate, temperature=1.0, seq_seed=seed))
    print("-- Test with temperature of 0.5 --")
    print(m.generate(args.generate, temperature=0.5, seq_seed=seed))
