"""Graph models: several inputs and estimators, merges from anywhere, shared layers, sub-models
over one session, and loading by structure; checked against numpy and tflearn's own examples."""

import re

import jax
import numpy as np
import pytest

import stackit
from stackit.checkpoint import CheckpointError
from stackit.layers import Dense, Input, fully_connected, input_data, merge, regression
from stackit.layers.math_ops import log, reduce_mean


def _relu(v):
    return np.maximum(v, 0.0)


def _dense(model, tensor, x, act=lambda v: v):
    return act(x @ model.get_weights(tensor.W) + model.get_weights(tensor.b))


# -- tflearn's examples --------------------------------------------------------------------------

def test_logical_xor_from_nand_and_or_trains_as_one_model():
    """tflearn's examples/basics/logical.py, XOR part, as written (imports renamed)."""
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y_nand = [[1.], [1.], [1.], [0.]]
    Y_or = [[0.], [1.], [1.], [1.]]

    g = stackit.input_data(shape=[None, 2])
    g_nand = stackit.fully_connected(g, 32, activation='linear')
    g_nand = stackit.fully_connected(g_nand, 32, activation='linear')
    g_nand = stackit.fully_connected(g_nand, 1, activation='sigmoid')
    g_nand = stackit.regression(g_nand, optimizer='sgd', learning_rate=2.,
                                loss='binary_crossentropy')
    g_or = stackit.fully_connected(g, 32, activation='linear')
    g_or = stackit.fully_connected(g_or, 32, activation='linear')
    g_or = stackit.fully_connected(g_or, 1, activation='sigmoid')
    g_or = stackit.regression(g_or, optimizer='sgd', learning_rate=2.,
                              loss='binary_crossentropy')
    g_xor = stackit.merge([g_nand, g_or], mode='elemwise_mul')

    m = stackit.DNN(g_xor, seed=0)
    history = m.fit(X, [Y_nand, Y_or], n_epoch=400, snapshot_epoch=False, verbose=0)

    xor = m.predict(X)
    assert xor.shape == (4, 1)
    np.testing.assert_array_equal(xor[:, 0] > 0.5, [False, True, True, False])
    # each estimator's loss and their sum are reported
    names = [h.name for h in m.heads]
    assert len(names) == 2
    final = {k: v[-1] for k, v in history.history.items()}
    assert final["loss"] == pytest.approx(final[f"{names[0]}_loss"] + final[f"{names[1]}_loss"])


def test_autoencoder_encoder_submodel_shares_the_trained_weights():
    """tflearn's examples/images/autoencoder.py: `DNN(encoder, session=model.session)`."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(64, 12)).astype(np.float32)
    encoder = stackit.input_data(shape=[None, 12])
    encoder = stackit.fully_connected(encoder, 8)
    hidden = encoder
    encoder = stackit.fully_connected(encoder, 3)
    decoder = stackit.fully_connected(encoder, 8)
    decoder = stackit.fully_connected(decoder, 12, activation='sigmoid')
    net = stackit.regression(decoder, optimizer='adam', learning_rate=0.01,
                             loss='mean_square', metric=None)
    model = stackit.DNN(net, seed=0)
    before = model.get_weights(hidden.W)
    model.fit(X, X, n_epoch=3, batch_size=16, verbose=0)
    assert not np.allclose(model.get_weights(hidden.W), before)

    encoding_model = stackit.DNN(encoder, session=model.session)
    encoded = encoding_model.predict([X[0]])  # a list holding one sample: a batch of one

    expected = _dense(model, encoder, _dense(model, hidden, X[:1]))
    assert encoded.shape == (1, 3)
    np.testing.assert_allclose(encoded, expected, rtol=1e-5, atol=1e-5)
    # training the full model again is seen by the sub-model (one session)
    model.fit(X, X, n_epoch=1, batch_size=16, verbose=0)
    np.testing.assert_allclose(encoding_model.predict(X[:4]),
                               _dense(model, encoder, _dense(model, hidden, X[:4])),
                               rtol=1e-5, atol=1e-5)


def test_gan_in_tflearns_structure_trains_each_part_with_its_own_optimizer():
    """tflearn's examples/images/gan.py: a scoped generator, one discriminator applied twice
    (reuse), loss tensors, trainable_vars by scope, placeholder=None, dict inputs."""
    z_dim, image_dim = 4, 6

    def generator(x, reuse=False):
        with stackit.variable_scope('Generator', reuse=reuse):
            x = stackit.fully_connected(x, 8, activation='relu')
            return stackit.fully_connected(x, image_dim, activation='sigmoid')

    def discriminator(x, reuse=False):
        with stackit.variable_scope('Discriminator', reuse=reuse):
            x = stackit.fully_connected(x, 8, activation='relu')
            return stackit.fully_connected(x, 1, activation='sigmoid')

    def build(gen_lr, disc_lr):
        gen_input = stackit.input_data(shape=[None, z_dim], name='input_noise')
        disc_input = stackit.input_data(shape=[None, image_dim], name='disc_input')
        gen_sample = generator(gen_input)
        disc_real = discriminator(disc_input)
        disc_fake = discriminator(gen_sample, reuse=True)
        disc_loss = -reduce_mean(log(disc_real) + log(1. - disc_fake))
        gen_loss = -reduce_mean(log(disc_fake))
        gen_vars = stackit.get_layer_variables_by_scope('Generator')
        gen_model = stackit.regression(gen_sample, placeholder=None, optimizer='adam',
                                       loss=gen_loss, trainable_vars=gen_vars, batch_size=16,
                                       learning_rate=gen_lr, name='target_gen', op_name='GEN')
        disc_vars = stackit.get_layer_variables_by_scope('Discriminator')
        disc_model = stackit.regression(disc_real, placeholder=None, optimizer='adam',
                                        loss=disc_loss, trainable_vars=disc_vars, batch_size=16,
                                        learning_rate=disc_lr, name='target_disc',
                                        op_name='DISC')
        del disc_model  # reached from gen_model through the shared graph, as in tflearn
        return stackit.DNN(gen_model, seed=0), gen_input, disc_input

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(48, image_dim)).astype(np.float32)
    z = rng.uniform(-1., 1., size=(48, z_dim)).astype(np.float32)

    for gen_lr, disc_lr in ((0.01, 0.0), (0.0, 0.01)):
        stackit.layers.reset_default_graph()
        gan, gen_input, disc_input = build(gen_lr, disc_lr)
        assert [h.name for h in gan.heads] == ['target_gen', 'target_disc']
        before = jax.tree.map(np.array, gan.train_state.params)
        gan.fit(X_inputs={gen_input: z, disc_input: X}, Y_targets=None, n_epoch=2, verbose=0)
        after = gan.train_state.params
        for layer in after:
            changed = not all(np.array_equal(before[layer][p], after[layer][p])
                              for p in after[layer])
            trained_scope = 'Generator/' if gen_lr else 'Discriminator/'
            assert changed == layer.startswith(trained_scope), layer
    # one discriminator: two uses, one set of parameters
    assert sum(name.startswith('Discriminator/') for name in gan.train_state.params) == 2
    sample = gan.predict([z[:1]])
    assert sample.shape == (1, image_dim)


# -- several inputs -----------------------------------------------------------------------------

def test_two_input_wide_and_deep_matches_numpy_and_trains_with_dict_inputs():
    rng = np.random.default_rng(1)
    wide_x = rng.normal(size=(40, 3)).astype(np.float32)
    deep_x = rng.normal(size=(40, 5)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(wide_x[:, 0] + deep_x[:, 0] > 0).astype(int)]

    wide = input_data(shape=[None, 3], name='wide')
    deep = input_data(shape=[None, 5], name='deep')
    hidden = fully_connected(deep, 4, activation='relu')
    joined = merge([wide, hidden], 'concat')
    out = fully_connected(joined, 2, activation='softmax')
    model = stackit.DNN(regression(out, learning_rate=0.05, batch_size=8), seed=0)

    z = np.concatenate([wide_x, _dense(model, hidden, deep_x, _relu)], axis=1)
    logits = _dense(model, out, z)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict({'wide': wide_x, 'deep': deep_x}), expected,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict([wide_x, deep_x]), expected, rtol=1e-5, atol=1e-6)

    history = model.fit({'deep': deep_x, wide: wide_x}, y, n_epoch=10, verbose=0,
                        validation_set=0.25, show_metric=True)
    assert history.history['loss'][-1] < history.history['loss'][0]
    assert 'val_acc' in history.history


def test_functional_model_equals_the_tflearn_spelling():
    rng = np.random.default_rng(2)
    a_x, b_x = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 2)).astype(
        np.float32)

    def tflearn_spelling():
        a = input_data(shape=[None, 3], name='a')
        b = input_data(shape=[None, 2], name='b')
        h = fully_connected(merge([a, b], 'concat'), 4, activation='tanh')
        return stackit.DNN([fully_connected(h, 1), fully_connected(h, 2)], seed=3)

    def keras_spelling():
        a = Input(shape=(3,), name='a')
        b = Input(shape=(2,), name='b')
        h = Dense(4, activation='tanh')(stackit.layers.Merge('concat')([a, b]))
        return stackit.Model(inputs=[a, b], outputs=[Dense(1)(h), Dense(2)(h)], seed=3)

    ours, theirs = tflearn_spelling().predict([a_x, b_x]), keras_spelling().predict([a_x, b_x])
    assert [o.shape for o in ours] == [(6, 1), (6, 2)]
    for mine, other in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, other)


def test_a_shared_layer_has_one_set_of_parameters_and_a_shared_branch_runs_once():
    left, right = Input(shape=(4,), name='left'), Input(shape=(4,), name='right')
    encode = Dense(3, activation='relu')  # a siamese encoder: one layer, two calls
    distance = merge([encode(left), -1.0 * encode(right)], 'elemwise_sum')
    model = stackit.Model(inputs=[left, right], outputs=distance, seed=0)
    assert list(model.train_state.params) == [encode.name]

    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict([x, x]), np.zeros((5, 3)), atol=1e-6)

    trunk_in = input_data(shape=[None, 4])
    trunk = fully_connected(trunk_in, 3)
    heads = [fully_connected(trunk, 2), fully_connected(trunk, 5)]
    two_heads = stackit.DNN(heads, seed=0)
    ts = two_heads.train_state
    jaxpr = jax.make_jaxpr(two_heads.steps._predict)(ts.params, ts.layer_state,
                                                     {trunk_in.name: x})
    assert str(jaxpr).count('dot_general') == 3  # the trunk once, each head once


def test_reuse_without_a_first_layer_and_two_layers_with_one_name_are_refused():
    net = input_data(shape=[None, 3])
    with pytest.raises(ValueError, match="reuse=True, but no layer named 'nowhere'"):
        fully_connected(net, 2, scope='nowhere', reuse=True)
    a = stackit.layers.Dense(2, name='twin')(net)    # Keras classes take names as they are
    b = stackit.layers.Dense(3, name='twin')(net)
    with pytest.raises(ValueError, match="Two different layers are named 'twin'.*reuse=True"):
        stackit.DNN(merge([a, b], 'concat'))


def test_a_tflearn_name_counts_on_when_taken_and_scope_names_exactly():
    """tflearn's rule: `name` is a default (`fc`, `fc_1`, ...), `scope` is exact (and with
    reuse=True names the layer to share)."""
    net = input_data(shape=[None, 3])
    a = fully_connected(net, 2, name='fc')
    b = fully_connected(a, 2, name='fc')
    c = fully_connected(b, 2, scope='shared')
    d = fully_connected(b, 2, scope='shared', reuse=True)
    assert [a.name, b.name, c.name] == ['fc', 'fc_1', 'shared'] and d.layer is c.layer
    model = stackit.DNN(merge([c, d], 'concat'))
    assert {'fc', 'fc_1', 'shared'} <= {layer.name for layer in model.net.layers}


# -- structural loading -------------------------------------------------------------------------

def _classifier(seed=0, hidden=6, bn_name=None):
    net = input_data(shape=[None, 4])
    net = fully_connected(net, hidden, activation='relu')
    net = stackit.batch_normalization(net, name=bn_name)
    net = fully_connected(net, 3, activation='softmax', name='head')
    return stackit.DNN(regression(net, batch_size=8), seed=seed)


def test_a_model_rebuilt_in_the_same_process_loads_by_structure(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 24)]
    model = _classifier()
    model.fit(x, y, n_epoch=2, verbose=0)
    path = model.save(str(tmp_path / 'clf'))

    rebuilt = _classifier(seed=7)  # same architecture, automatic names with new suffixes
    assert set(rebuilt.train_state.params) != set(model.train_state.params)
    rebuilt.load(path)
    np.testing.assert_array_equal(rebuilt.predict(x), model.predict(x))
    assert int(rebuilt.train_state.step) == int(model.train_state.step)

    other = _classifier(seed=7, hidden=5)
    with pytest.raises(CheckpointError, match=r": W is \(4, 6\) in the file, \(4, 5\) in this"):
        other.load(path)

    reloaded = stackit.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x), model.predict(x))


def test_load_model_rebuilds_a_graph_with_two_inputs_and_two_estimators(tmp_path):
    rng = np.random.default_rng(5)
    a_x, b_x = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 2)).astype(
        np.float32)
    a, b = input_data(shape=[None, 3], name='a'), input_data(shape=[None, 2], name='b')
    h = fully_connected(merge([a, b], 'concat'), 4, activation='relu')
    r1 = regression(fully_connected(h, 1), loss='mean_square', name='r1', batch_size=8)
    r2 = regression(fully_connected(h, 2, activation='softmax'), name='r2', batch_size=8)
    model = stackit.DNN([r1, r2], seed=0)
    model.fit({'a': a_x, 'b': b_x}, {'r1': a_x[:, :1], 'r2': np.eye(2)[np.arange(16) % 2]},
              n_epoch=1, verbose=0)
    path = model.save(str(tmp_path / 'two'))

    again = stackit.load_model(path)
    for mine, other in zip(again.predict([a_x, b_x]), model.predict([a_x, b_x]), strict=True):
        np.testing.assert_array_equal(mine, other)
    assert len(model.evaluate([a_x, b_x], [a_x[:, :1], np.eye(2)[np.arange(16) % 2]])) == 2


# -- tflearn idioms -----------------------------------------------------------------------------

def test_get_value_and_set_value_go_through_the_models_session():
    inp = input_data(shape=[None, 3], name='input')
    dense1 = fully_connected(inp, 4, name='dense1')
    model = stackit.DNN(regression(fully_connected(dense1, 2, activation='softmax')), seed=0)
    dense1_vars = stackit.variables.get_layer_variables_by_name('dense1')
    with model.session.as_default():
        np.testing.assert_array_equal(stackit.variables.get_value(dense1_vars[0]),
                                      model.get_weights(dense1.W))
        stackit.variables.set_value(dense1.b, np.full(4, 2.0))
    np.testing.assert_array_equal(model.get_weights(dense1_vars[1]), np.full(4, 2.0))


# -- bad input, refused before compiling ---------------------------------------------------------

def _two_input_model():
    a, b = input_data(shape=[None, 3], name='a'), input_data(shape=[None, 2], name='b')
    out = fully_connected(merge([a, b], 'concat'), 2, activation='softmax')
    return stackit.DNN(regression(out, name='target'), seed=0)


@pytest.mark.parametrize(("feed", "error", "pattern"), [
    (lambda x, y: ({'a': x[0]}, y), ValueError,
     r"X is missing \['b'\]. Expected keys: \['a', 'b'\]"),
    (lambda x, y: ({'a': x[0], 'b': x[1], 'c': x[1]}, y), ValueError, "key 'c'"),
    (lambda x, y: ({'a': x[0], 'b': x[1][:5]}, y), ValueError, "same number of samples"),
    (lambda x, y: (x, {'nope': y}), ValueError, r"key 'nope'.*Expected keys: \['target'\]"),
    (lambda x, y: (x[0], y), ValueError, r"2 inputs \(a, b\)"),
    (lambda x, y: (x, None), ValueError, r"Y is missing.*\['target'\]"),
], ids=["missing_input", "unknown_input", "lengths", "unknown_target", "bare_array", "no_y"])
def test_bad_feeds_are_refused_before_compiling(feed, error, pattern):
    model = _two_input_model()
    x = [np.zeros((6, 3), np.float32), np.zeros((6, 2), np.float32)]
    y = np.eye(2, dtype=np.float32)[np.arange(6) % 2]
    X, Y = feed(x, y)
    with pytest.raises(error, match=pattern):
        model.fit(X, Y, n_epoch=1, verbose=0)
    assert model.steps.train_chunk._cache_size() == 0


def test_bad_graphs_are_refused():
    a, other = Input(shape=(3,), name='a'), Input(shape=(3,), name='other')
    with pytest.raises(ValueError, match="depend on input 'other', which is not in inputs"):
        stackit.Model(inputs=[a], outputs=Dense(2)(merge([a, other], 'concat')))
    net = input_data(shape=[None, 3])
    r1 = regression(fully_connected(net, 2, activation='softmax'), name='same')
    r2 = regression(fully_connected(net, 2, activation='softmax'), name='same')
    with pytest.raises(ValueError, match="Two different layers are named 'same'"):
        stackit.DNN([r1, r2])

    model = stackit.DNN(fully_connected(input_data(shape=[None, 3]), 2), seed=0)
    unrelated = fully_connected(input_data(shape=[None, 3]), 2)
    with pytest.raises(ValueError, match="session= belongs to a model that does not hold"):
        stackit.DNN(unrelated, session=model.session)


def test_a_checkpoint_loads_into_the_same_graph_with_frozen_layers_for_fine_tuning(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]

    def build(freeze_body):
        net = input_data(shape=[None, 4])
        body = fully_connected(net, 6, activation='relu', trainable=not freeze_body)
        head = fully_connected(body, 3, activation='softmax')
        return stackit.DNN(regression(head, batch_size=8), seed=0), body, head

    pretrained, body, _ = build(False)
    pretrained.fit(x, y, n_epoch=2, verbose=0)
    path = pretrained.save(str(tmp_path / 'pretrained'))

    tuned, tuned_body, tuned_head = build(True)
    with pytest.warns(UserWarning, match='optimizer starts afresh'):
        tuned.load(path)
    np.testing.assert_array_equal(tuned.get_weights(tuned_body.W), pretrained.get_weights(body.W))
    assert int(tuned.train_state.step) == int(pretrained.train_state.step)
    head_before = tuned.get_weights(tuned_head.W)
    tuned.fit(x, y, n_epoch=1, verbose=0)
    np.testing.assert_array_equal(tuned.get_weights(tuned_body.W), pretrained.get_weights(body.W))
    assert not np.allclose(tuned.get_weights(tuned_head.W), head_before)


def test_the_progress_line_shows_each_estimators_loss_and_their_sum(capsys):
    net = input_data(shape=[None, 3])
    r1 = regression(fully_connected(net, 1), loss='mean_square', metric=None, name='first')
    r2 = regression(fully_connected(net, 2), loss='mean_square', metric=None, name='second')
    model = stackit.DNN([r1, r2], seed=0)
    x = np.ones((8, 3), np.float32)
    model.fit(x, {'first': np.ones((8, 1)), 'second': np.zeros((8, 2))}, n_epoch=1, verbose=2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.search(r"loss ([\d.]+) \(first ([\d.]+) \+ second ([\d.]+)\)", line)
    assert match, line
    found = [float(v) for v in match.groups()]
    assert found[0] == pytest.approx(found[1] + found[2], abs=2e-4)


def test_a_functional_model_trains_only_the_estimators_its_outputs_depend_on():
    a = Input(shape=(3,), name='a')
    h = Dense(8)(a)
    other = stackit.Model(inputs=a, outputs=Dense(1)(h))
    other.compile(loss='mean_square')
    y1 = regression(Dense(1)(h), loss='mean_square', name='y1')
    assert [head.name for head in stackit.Model(inputs=a, outputs=y1).heads] == ['y1']
    assert len(stackit.DNN(y1).heads) == 2  # tflearn's DNN trains every linked estimator
