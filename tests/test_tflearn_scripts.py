"""tflearn scripts run unedited through `python -m stackit`, on stand-in data, one per family of
tflearn's examples (basics, weights and variables, images, nlp), so the compatibility recorded
in docs/tflearn_compatibility.md cannot silently rot.

The scripts are written for these tests in tflearn's spelling, with the API each runnable
example uses (they are not copies of tflearn's files). Each runs in a subprocess, as a user
runs it: `python -m stackit --epochs 1 --stand-in-data script.py`, so `fit(n_epoch=1000)` runs
one epoch and the dataset loaders return a few synthetic samples (MNIST: real digits from the
sample shipped with stackit).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackit import config
from stackit.datasets import _standin

BASICS = """\
    # Linear and multiple regression, logical operators with merge, weights persistence and
    # fine-tuning, tflearn's variable helpers: the API of tflearn's examples/basics.
    import numpy as np
    import tflearn
    import tflearn.datasets.mnist as mnist
    from tflearn.layers.core import input_data, fully_connected
    from tflearn.layers.merge_ops import merge
    from tflearn.layers.estimator import regression

    tflearn.init_graph(seed=3)

    # -- linear regression with single_unit (examples/basics/linear_regression.py's API)
    X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313]
    Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65]
    input_ = tflearn.input_data(shape=[None])
    linear = tflearn.single_unit(input_)
    reg = tflearn.regression(linear, optimizer='sgd', loss='mean_square', metric='R2',
                             learning_rate=0.01)
    m = tflearn.DNN(reg)
    m.fit(X, Y, n_epoch=1000, show_metric=True, snapshot_epoch=False)
    print("line Y = " + str(m.get_weights(linear.W)) + "*X + " + str(m.get_weights(linear.b)))
    print("line predict", np.shape(m.predict([3.2, 3.3, 3.4])))

    # -- logical operators: two inputs, merged (examples/basics/logical.py's API, no TF graph)
    tflearn.reset_default_graph()
    A = [[0.], [0.], [1.], [1.]]
    B = [[0.], [1.], [0.], [1.]]
    Y_xor = [[0.], [1.], [1.], [0.]]
    in_a = input_data(shape=[None, 1], name='a')
    in_b = input_data(shape=[None, 1], name='b')
    both = merge([in_a, in_b], mode='concat', axis=1)
    g_nand = fully_connected(fully_connected(both, 8, activation='tanh'), 1,
                             activation='sigmoid')
    g_or = fully_connected(fully_connected(both, 8, activation='tanh'), 1,
                           activation='sigmoid')
    g_xor = merge([g_nand, g_or], mode='elemwise_mul')
    g_xor = regression(g_xor, optimizer='sgd', learning_rate=2., loss='mean_square',
                       name='xor')
    xor = tflearn.DNN(g_xor)
    xor.fit({'a': A, 'b': B}, {'xor': Y_xor}, n_epoch=400, snapshot_epoch=False)
    print("xor predict", np.shape(xor.predict({'a': A, 'b': B})))

    # -- weights persistence, variables, fine-tuning (weights_persistence.py, finetuning.py)
    tflearn.reset_default_graph()
    X, Y, testX, testY = mnist.load_data(one_hot=True)
    input_layer = tflearn.input_data(shape=[None, 784], name='input')
    dense1 = tflearn.fully_connected(input_layer, 32, name='dense1')
    dense2 = tflearn.fully_connected(dense1, 32, name='dense2')
    softmax = tflearn.fully_connected(dense2, 10, activation='softmax')
    net = tflearn.regression(softmax, optimizer=tflearn.ProximalAdaGrad(0.1),
                             metric=tflearn.metrics.Prediction_Counts(
                                 tflearn.metrics.Accuracy()))
    model = tflearn.DNN(net, checkpoint_path='model.tfl.ckpt')
    history = model.fit(X, Y, n_epoch=1, validation_set=(testX, testY), show_metric=True,
                        snapshot_epoch=True, run_id='model_and_weights')
    print("counts", int(np.sum(history.history['prediction_counts'][-1])) == len(X))
    model.save("model.tfl")
    model.load("model.tfl")
    print("layer by name", tflearn.get_layer_by_name('dense1') is dense1)
    dense1_vars = tflearn.variables.get_layer_variables_by_name('dense1')
    print("dense1 W", np.shape(model.get_weights(dense1_vars[0])))
    with model.session.as_default():
        b = tflearn.variables.get_value(dense1_vars[1])
        tflearn.variables.set_value(dense1_vars[1], b + 1.0)
    print("set_value", bool(np.allclose(model.get_weights(dense1.b), b + 1.0)))
    model.set_weights(dense2.W, np.zeros((32, 32), np.float32))
    print("set_weights", float(np.abs(model.get_weights(dense2.W)).sum()))
    print("all variables", len(tflearn.variables.get_all_variables()),
          len(tflearn.get_all_trainable_variable()))
    print("predict", np.shape(model.predict(testX[:3])))
    model.save("model.tfl")  # with the values set above

    tflearn.reset_default_graph()  # fine-tuning: the same features, a new output layer
    input_layer = tflearn.input_data(shape=[None, 784], name='input')
    dense1 = tflearn.fully_connected(input_layer, 32, name='dense1')
    dense2 = tflearn.fully_connected(dense1, 32, name='dense2')
    softmax = tflearn.fully_connected(dense2, 5, activation='softmax', restore=False)
    net = tflearn.regression(softmax, optimizer='adam', learning_rate=0.001)
    model = tflearn.DNN(net, checkpoint_path='model_finetuning', max_checkpoints=3)
    model.load('model.tfl')
    print("restored", bool(np.allclose(model.get_weights(dense1.b), b + 1.0)))
    Y5 = tflearn.data_utils.to_categorical(np.argmax(Y, axis=1) % 5, 5)
    model.fit(X, Y5, n_epoch=10, validation_set=0.1, shuffle=True, show_metric=True,
              batch_size=16, snapshot_step=200, snapshot_epoch=False, run_id='finetuning')
    model.save('model_finetuning')
    print("basics done")
"""

IMAGES = """\
    # A convnet with local response normalization, a residual network with in-model
    # preprocessing and augmentation, an autoencoder with an encoder sub-model: the API of
    # tflearn's examples/images.
    import numpy as np
    import tflearn
    from tflearn.layers.core import input_data, dropout, fully_connected
    from tflearn.layers.conv import conv_2d, max_pool_2d
    from tflearn.layers.normalization import local_response_normalization
    from tflearn.layers.estimator import regression
    import tflearn.datasets.mnist as mnist
    from tflearn.datasets import cifar10

    X, Y, testX, testY = mnist.load_data(one_hot=True)
    X = X.reshape([-1, 28, 28, 1])
    testX = testX.reshape([-1, 28, 28, 1])
    network = input_data(shape=[None, 28, 28, 1], name='input')
    network = conv_2d(network, 8, 3, activation='relu', regularizer="L2")
    network = max_pool_2d(network, 2)
    network = local_response_normalization(network)
    network = conv_2d(network, 8, 3, activation='relu', regularizer="L2")
    network = max_pool_2d(network, 2)
    network = local_response_normalization(network)
    network = fully_connected(network, 16, activation='tanh')
    network = dropout(network, 0.8)
    network = fully_connected(network, 10, activation='softmax')
    network = regression(network, optimizer='adam', learning_rate=0.01,
                         loss='categorical_crossentropy', name='target')
    model = tflearn.DNN(network, tensorboard_verbose=0)
    model.fit({'input': X}, {'target': Y}, n_epoch=20,
              validation_set=({'input': testX}, {'target': testY}),
              snapshot_step=100, show_metric=True, run_id='convnet_mnist')
    print("convnet evaluate", len(model.evaluate(testX, testY)))

    (CX, CY), (CtestX, CtestY) = cifar10.load_data()
    CY = tflearn.data_utils.to_categorical(CY, 10)
    CtestY = tflearn.data_utils.to_categorical(CtestY, 10)
    img_prep = tflearn.ImagePreprocessing()
    img_prep.add_featurewise_zero_center(per_channel=True)
    img_aug = tflearn.ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_crop([32, 32], padding=4)
    net = tflearn.input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep,
                             data_augmentation=img_aug)
    net = tflearn.conv_2d(net, 8, 3, regularizer='L2', weight_decay=0.0001)
    net = tflearn.residual_block(net, 1, 8)
    net = tflearn.residual_block(net, 1, 16, downsample=True)
    net = tflearn.batch_normalization(net)
    net = tflearn.activation(net, 'relu')
    net = tflearn.global_avg_pool(net)
    net = tflearn.fully_connected(net, 10, activation='softmax')
    mom = tflearn.Momentum(0.1, lr_decay=0.1, decay_step=32000, staircase=True)
    net = tflearn.regression(net, optimizer=mom, loss='categorical_crossentropy')
    model = tflearn.DNN(net, checkpoint_path='model_resnet_cifar10', max_checkpoints=1,
                        tensorboard_verbose=0, clip_gradients=0.)
    model.fit(CX, CY, n_epoch=200, validation_set=(CtestX, CtestY), snapshot_epoch=False,
              snapshot_step=500, show_metric=True, batch_size=16, shuffle=True,
              run_id='resnet_cifar10')
    print("resnet predict", np.shape(model.predict(CtestX[:2])))

    X = X.reshape([-1, 784])
    testX = testX.reshape([-1, 784])
    encoder = tflearn.input_data(shape=[None, 784])
    encoder = tflearn.fully_connected(encoder, 64)
    encoder = tflearn.fully_connected(encoder, 16)
    decoder = tflearn.fully_connected(encoder, 64)
    decoder = tflearn.fully_connected(decoder, 784, activation='sigmoid')
    net = tflearn.regression(decoder, optimizer='adam', learning_rate=0.001,
                             loss='mean_square', metric=None)
    model = tflearn.DNN(net, tensorboard_verbose=0)
    model.fit(X, X, n_epoch=20, validation_set=(testX, testX), run_id="auto_encoder",
              batch_size=256)
    encoding_model = tflearn.DNN(encoder, session=model.session)
    print("encoded", np.shape(encoding_model.predict([X[0]])))
    print("images done")
"""

NLP = """\
    # Word ids from IMDB padded into an embedding and an LSTM, a bidirectional LSTM, and a
    # character generator: the API of tflearn's examples/nlp.
    import tflearn
    from tflearn.data_utils import *
    from tflearn.datasets import imdb
    from tflearn.layers.recurrent import bidirectional_rnn, BasicLSTMCell

    train, test, _ = imdb.load_data(path='imdb.pkl', n_words=1000, valid_portion=0.1)
    trainX, trainY = train
    testX, testY = test
    trainX = pad_sequences(trainX, maxlen=20, value=0.)
    testX = pad_sequences(testX, maxlen=20, value=0.)
    trainY = to_categorical(trainY)
    testY = to_categorical(testY)
    net = tflearn.input_data([None, 20])
    net = tflearn.embedding(net, input_dim=1000, output_dim=16)
    net = tflearn.lstm(net, 16, dropout=0.8)
    net = tflearn.fully_connected(net, 2, activation='softmax')
    net = tflearn.regression(net, optimizer='adam', learning_rate=0.001,
                             loss='categorical_crossentropy')
    model = tflearn.DNN(net, tensorboard_verbose=0)
    model.fit(trainX, trainY, validation_set=(testX, testY), show_metric=True, batch_size=32)
    print("lstm predict", np.shape(model.predict(testX[:2])))

    net = tflearn.input_data(shape=[None, 20])
    net = tflearn.embedding(net, input_dim=1000, output_dim=8)
    net = bidirectional_rnn(net, BasicLSTMCell(8), BasicLSTMCell(8))
    net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 2, activation='softmax')
    net = tflearn.regression(net, optimizer='adam', loss='categorical_crossentropy')
    model = tflearn.DNN(net, clip_gradients=0., tensorboard_verbose=2)
    model.fit(trainX, trainY, validation_set=0.1, show_metric=True, batch_size=64)
    print("bidirectional predict", np.shape(model.predict(testX[:2])))

    text = ("the river runs north to the lake and the city\\n"
            "the wind falls over the green hills of spring\\n") * 4
    maxlen = 12
    X, Y, char_idx = string_to_semi_redundant_sequences(text, seq_maxlen=maxlen, redun_step=3)
    g = tflearn.input_data(shape=[None, maxlen, len(char_idx)])
    g = tflearn.lstm(g, 32, return_seq=True)
    g = tflearn.dropout(g, 0.5)
    g = tflearn.lstm(g, 32)
    g = tflearn.dropout(g, 0.5)
    g = tflearn.fully_connected(g, len(char_idx), activation='softmax')
    g = tflearn.regression(g, optimizer='adam', loss='categorical_crossentropy',
                           learning_rate=0.001)
    m = tflearn.SequenceGenerator(g, dictionary=char_idx, seq_maxlen=maxlen,
                                  clip_gradients=5.0, checkpoint_path='model_text')
    for i in range(2):
        seed = random_sequence_from_string(text, maxlen)
        m.fit(X, Y, validation_set=0.1, batch_size=128, n_epoch=1, run_id='text')
        generated = m.generate(20, temperature=1.0, seq_seed=seed)
        print("generated", len(generated) >= 20, set(generated) <= set(text))
    print("nlp done")
"""


def run_tflearn_script(tmp_path: Path, source: str, samples: int = 32
                       ) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if k != config.MAX_EPOCHS_ENV}
    env[_standin.SAMPLES_ENV] = str(samples)
    done = subprocess.run([sys.executable, "-m", "stackit", "--epochs", "1", "--stand-in-data",
                           str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def test_basics_regression_logical_weights_and_variables(tmp_path):
    done = run_tflearn_script(tmp_path, BASICS)
    out = done.stdout
    assert "line Y = " in out and "line predict (3,)" in out
    assert "xor predict (4, 1)" in out
    assert "counts True" in out  # Prediction_Counts kept the per-class counts of the epoch
    assert "layer by name True" in out and "dense1 W (784, 32)" in out
    assert "set_value True" in out and "set_weights 0.0" in out
    assert "all variables 6 6" in out and "predict (3, 10)" in out
    assert "restored True" in out and "basics done" in out
    assert (tmp_path / "model.tfl.npz").is_file() and (tmp_path / "model_finetuning.npz").is_file()
    assert "STAND-IN DATA" in done.stderr and "mnist.load_data" in done.stderr


def test_images_convnet_resnet_and_autoencoder(tmp_path):
    done = run_tflearn_script(tmp_path, IMAGES, samples=16)
    out = done.stdout
    assert "convnet evaluate 1" in out
    assert "resnet predict (2, 10)" in out
    assert "encoded (1, 16)" in out and "images done" in out
    assert "cifar10.load_data returns STAND-IN DATA" in done.stderr


def test_nlp_lstm_bidirectional_and_generator(tmp_path):
    done = run_tflearn_script(tmp_path, NLP)
    out = done.stdout
    assert "lstm predict (2, 2)" in out and "bidirectional predict (2, 2)" in out
    assert out.count("generated True True") == 2 and "nlp done" in out
    assert "imdb.load_data returns STAND-IN DATA" in done.stderr


@pytest.mark.parametrize("source", [BASICS, IMAGES, NLP], ids=["basics", "images", "nlp"])
def test_scripts_are_clean_for_the_scan(source):
    from stackit.runner import scan_source

    report = scan_source(textwrap.dedent(source))
    assert report.clean, report.format()
