"""Input pipelines: lazy arrays (h5py, dask, memmap), generators and grain loaders train the
MLP exactly as the same data held in memory, and every mistake is named before it costs."""

import threading
import time

import dask.array as da
import grain.python as grain
import h5py
import numpy as np
import pytest
from PIL import Image

import stackit
from stackit.data_utils import build_hdf5_image_dataset, image_preloader
from stackit.engine.prefetch import prefetch
from stackit.inputs import take_rows

N, FEATURES, CLASSES, BATCH = 50, 8, 3, 8  # 7 batches an epoch, the last one of 2 rows
STEPS = -(-N // BATCH)


def _model(batch_size=BATCH, **dnn_kwargs):
    stackit.reset_default_graph()
    net = stackit.input_data(shape=[None, FEATURES])
    net = stackit.fully_connected(net, 16, activation="relu")
    net = stackit.fully_connected(net, CLASSES, activation="softmax")
    net = stackit.regression(net, batch_size=batch_size, learning_rate=0.01)
    return stackit.DNN(net, seed=1, **dnn_kwargs)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((N, FEATURES)).astype(np.float32)
    return x, np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, N)]


@pytest.fixture(scope="module")
def reference(data):
    """What in-memory arrays give, per shuffle setting: (history, weights, evaluate, predict)."""
    x, y = data
    out = {}
    for shuffle in (False, True):
        model = _model()
        history = model.fit(x, y, n_epoch=2, shuffle=shuffle, validation_set=0.2, verbose=0)
        out[shuffle] = (history.history, _weights(model), model.evaluate(x, y), model.predict(x))
    return out


def _weights(model):
    return {name: model.get_weights(f"{name}/W") for name in ("FullyConnected",
                                                              "FullyConnected_1")}


def _same_weights(a, b):
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _batches(x, y, sizes=None, loop=True):
    """(X, Y) batches of `x`, `y` in order: of BATCH rows, or of `sizes`; forever with `loop`."""
    sizes = sizes or [BATCH] * STEPS
    while True:
        start = 0
        for size in sizes:
            yield x[start:start + size], y[start:start + size]
            start += size
        if not loop:
            return


# -- lazy arrays ----------------------------------------------------------------------------------

@pytest.fixture
def h5_file(tmp_path, data):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["Y"] = data
    with h5py.File(path, "r") as f:
        yield f


@pytest.mark.parametrize("kind", ["h5py", "dask", "memmap"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_lazy_arrays_train_as_the_same_arrays_in_memory(kind, shuffle, data, reference,
                                                        h5_file, tmp_path):
    x, y = data
    if kind == "h5py":
        lazy_x, lazy_y = h5_file["X"], h5_file["Y"]  # refuses unsorted or repeated indices
    elif kind == "dask":
        lazy_x, lazy_y = da.from_array(x, chunks=7), da.from_array(y, chunks=7)
    else:
        lazy_x = np.memmap(tmp_path / "x.bin", np.float64, "w+", shape=x.shape)
        lazy_x[:] = x  # float64 on disk: narrowed to float32 on the host, as arrays are
        lazy_y = y
    model = _model()
    history = model.fit(lazy_x, lazy_y, n_epoch=2, shuffle=shuffle, validation_set=0.2,
                        verbose=0)
    want_history, want_weights, want_eval, want_predict = reference[shuffle]
    assert history.history == want_history  # same permutation, same batches, same order
    _same_weights(_weights(model), want_weights)
    assert model.evaluate(lazy_x, lazy_y) == want_eval
    np.testing.assert_allclose(model.predict(lazy_x), want_predict, rtol=1e-6)


def test_take_rows_reads_sorted_unique_rows_once_and_reorders():
    reads = []

    class Strict:  # h5py's rule: increasing indices only
        shape = (10, 2)

        def __len__(self):
            return 10

        def __getitem__(self, index):
            reads.append(index)
            if isinstance(index, np.ndarray):
                assert np.all(np.diff(index) > 0)
            return np.arange(20).reshape(10, 2)[index]

    rows = take_rows(Strict(), np.array([7, 2, 2, 9, 0]))
    np.testing.assert_array_equal(rows[:, 0], [14, 4, 4, 18, 0])
    assert len(reads) == 1
    take_rows(Strict(), np.array([5, 3, 4]))  # contiguous: one slice
    assert reads[-1] == slice(3, 6)


def test_prefetch_keeps_order_runs_one_ahead_and_raises_where_it_failed():
    made = []

    def make(i):
        made.append((i, threading.current_thread() is threading.main_thread()))
        if i == 3:
            raise ValueError("bad item 3")
        return i * 10

    results = prefetch(make, range(5))
    assert next(results) == 0
    deadline = time.monotonic() + 5
    while len(made) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.02)
    assert [i for i, _ in made] == [0, 1]  # the next one, not more
    assert not any(main for _, main in made)
    assert next(results) == 10 and next(results) == 20
    with pytest.raises(ValueError, match="bad item 3"):
        next(results)


# -- generators and grain -------------------------------------------------------------------------

def test_a_generator_trains_evaluates_and_predicts_as_arrays(data, reference):
    x, y = data
    model = _model()
    val = (x[-10:], y[-10:])
    history = model.fit(_batches(x[:40], y[:40], [BATCH] * 5), steps_per_epoch=5, n_epoch=2,
                        validation_set=val, verbose=0)
    arrays = _model()
    want = arrays.fit(x[:40], y[:40], n_epoch=2, shuffle=False, validation_set=val, verbose=0)
    assert history.history == want.history
    _same_weights(_weights(model), _weights(arrays))
    # evaluate / predict: steps given, or all a finite generator yields (last batch short)
    assert model.evaluate(_batches(x, y), steps=STEPS) == arrays.evaluate(x, y)
    assert model.evaluate(_batches(x, y, loop=False)) == arrays.evaluate(x, y)
    np.testing.assert_allclose(model.predict(_batches(x, y, loop=False)), arrays.predict(x),
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict(iter([x[:30], x[30:]])), arrays.predict(x),
                               rtol=1e-6)
    assert reference  # the module's arrays were trained with the same seed


def test_uneven_batches_are_padded_and_masked(data):
    """Batches of 8, 5, 8, 3 rows: one compiled shape, each step as `fit_batch` on its rows."""
    x, y = data
    sizes = [8, 5, 8, 3]
    streamed = _model()
    streamed.fit(_batches(x, y, sizes), steps_per_epoch=4, n_epoch=1, verbose=0)
    assert streamed.steps.train_chunk._cache_size() == 1
    stepped = _model()
    start = 0
    for size in sizes:
        stepped.fit_batch(x[start:start + size], y[start:start + size])
        start += size
    for name, value in _weights(stepped).items():
        np.testing.assert_allclose(_weights(streamed)[name], value, rtol=1e-5, atol=1e-6)


def test_a_grain_dataloader_trains_as_arrays(data):
    x, y = data

    class Source:
        def __len__(self):
            return N

        def __getitem__(self, i):
            return x[i], y[i]

    loader = grain.DataLoader(
        data_source=Source(), worker_count=0,
        sampler=grain.IndexSampler(N, shuffle=False, num_epochs=1, seed=0,
                                   shard_options=grain.NoSharding()),
        operations=[grain.Batch(batch_size=BATCH, drop_remainder=False)])
    model = _model()
    # one epoch per iteration of the loader: each epoch iterates it again
    history = model.fit(loader, steps_per_epoch=STEPS, n_epoch=2, verbose=0)
    arrays = _model()
    want = arrays.fit(x, y, n_epoch=2, shuffle=False, verbose=0)
    assert history.history == want.history
    _same_weights(_weights(model), _weights(arrays))
    assert model.evaluate(loader) == arrays.evaluate(x, y)


def test_a_keras_model_is_built_from_the_first_batch(data):
    x, y = data
    model = stackit.Sequential([stackit.layers.Dense(4, activation="relu"),
                                stackit.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(_batches(x, y), steps_per_epoch=2, epochs=1, verbose=0)
    assert model.predict(x[:3]).shape == (3, CLASSES)


def test_resume_with_a_generator_goes_on_from_an_epoch_end(data, tmp_path):
    x, y = data
    whole = _model()
    whole.fit(_batches(x, y), steps_per_epoch=STEPS, n_epoch=2, verbose=0)
    prefix = str(tmp_path / "ckpt" / "run")
    first = _model(checkpoint_path=prefix)
    first.fit(_batches(x, y), steps_per_epoch=STEPS, n_epoch=2, verbose=0,
              callbacks=_StopAfterEpoch(1))
    resumed = _model(checkpoint_path=prefix)
    resumed.fit(_batches(x, y), steps_per_epoch=STEPS, n_epoch=2, verbose=0, resume=True)
    assert resumed.epoch == 2
    _same_weights(_weights(resumed), _weights(whole))

    # a snapshot from inside an epoch: refused, with what to do instead
    mid = _model(checkpoint_path=str(tmp_path / "mid" / "run"))
    mid.fit(_batches(x, y), steps_per_epoch=40, n_epoch=1, verbose=0, snapshot_epoch=False,
            snapshot_step=20, callbacks=_StopAt(20))  # 40 steps: two dispatches of 20
    again = _model(checkpoint_path=str(tmp_path / "mid" / "run"))
    with pytest.raises(ValueError, match="end of an epoch.*after 20 step"):
        again.fit(_batches(x, y), steps_per_epoch=STEPS, n_epoch=1, verbose=0, resume=True)


class _StopAfterEpoch(stackit.callbacks.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        if state.epoch >= self.epoch:
            state.stop_training = True


class _StopAt(stackit.callbacks.Callback):
    """Stops at the first refresh after `step` steps."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, state):
        if state.step >= self.step:
            state.stop_training = True


# -- mistakes -------------------------------------------------------------------------------------

def test_bad_batches_are_named(data):
    x, y = data
    wrong_shape = _batches(x, y, loop=False)
    model = _model()

    def third_wrong():
        for i, (bx, by) in enumerate(wrong_shape):
            yield (bx[:, :5] if i == 2 else bx), by

    with pytest.raises(ValueError, match=r"Batch 3 of epoch 1 \(of this fit\) from the "
                                         r"generator: input_data .*Received: X.shape=\(8, 5\)"):
        model.fit(third_wrong(), steps_per_epoch=STEPS, verbose=0)

    def mismatch():
        yield x[:8], y[:8]
        yield x[:8], y[:6]

    with pytest.raises(ValueError, match=r"Batch 2 of epoch 1 .*same number of samples"):
        _model().fit(mismatch(), steps_per_epoch=2, verbose=0)

    first_wrong = _model()
    with pytest.raises(ValueError, match=r"Batch 1 from the iterator: input_data"):
        first_wrong.fit(iter([(x[:8, :5], y[:8])]), steps_per_epoch=1, verbose=0)
    assert first_wrong.steps.train_chunk._cache_size() == 0  # refused before compiling

    with pytest.raises(ValueError, match=r"ended after 4 batch\(es\) of epoch 2 \(of this "
                                         r"fit\), but steps_per_epoch=5"):
        _model().fit(_batches(x, y, [5] * 9, loop=False), steps_per_epoch=5, n_epoch=3,
                     verbose=0)
    with pytest.raises(ValueError, match="Batch 2 .* has 12 rows, more than the batch size "
                                         "of 8 .* fit\\(batch_size="):
        _model().fit(_batches(x, y, [8, 12]), steps_per_epoch=2, verbose=0)
    with pytest.raises(TypeError, match=r"Batch 1 .*\(X, Y\) pair.*Received: ndarray"):
        _model().fit(iter([x]), steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "needs steps_per_epoch=N.*has no len"),
    ({"steps_per_epoch": 2, "shuffle": True}, "shuffle inside the generator"),
    ({"steps_per_epoch": 2, "validation_set": 0.1}, "validation_set=\\(X_val, Y_val\\)"),
    ({"steps_per_epoch": 2, "Y_targets": np.zeros(3)}, "Y_targets must be None"),
    ({"steps_per_epoch": 2, "sample_weight": np.ones(3)}, "sample_weight must be None"),
])
def test_arguments_that_do_not_go_with_a_generator(data, kwargs, match):
    x, y = data
    with pytest.raises(ValueError, match=match):
        _model().fit(_batches(x, y), verbose=0, **kwargs)


def test_steps_with_arrays_and_an_empty_generator(data):
    x, y = data
    with pytest.raises(ValueError, match="steps_per_epoch applies when X is a generator"):
        _model().fit(x, y, steps_per_epoch=3, verbose=0)
    with pytest.raises(ValueError, match="yielded no batch"):
        _model().fit(iter([]), steps_per_epoch=3, verbose=0)


# -- build_hdf5_image_dataset ---------------------------------------------------------------------

@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for label, ext in enumerate(["png", "jpg"]):
        (root / f"class_{label}").mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((5, 7, 3)) * 120 + label * 120).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"class_{label}" / f"{i}.{ext}")
    return root


@pytest.mark.parametrize("mode", ["folder", "file"])
def test_build_hdf5_image_dataset_streams_through_fit(image_folder, tmp_path, mode):
    target = image_folder
    if mode == "file":
        target = tmp_path / "list.txt"
        lines = [f"class_{c}/{i}.{ext} {c}" for c, ext in enumerate(["png", "jpg"])
                 for i in range(6)]
        target.write_text("\n".join(lines) + "\n")
    out = build_hdf5_image_dataset(str(target), image_shape=(4, 3), mode=mode,
                                   output_path=str(tmp_path / "out" / "set.h5"),
                                   image_base_path=str(image_folder) if mode == "file" else "",
                                   chunks=mode == "file")
    X_pre, Y_pre = image_preloader(str(target), image_shape=(4, 3), mode=mode,
                                   image_base_path=str(image_folder) if mode == "file" else "")
    with h5py.File(out, "r") as h5:
        X, Y = h5["X"], h5["Y"]
        assert X.shape == (12, 3, 4, 3) and Y.shape == (12, 2)
        np.testing.assert_array_equal(X[:], np.asarray(X_pre))
        np.testing.assert_array_equal(Y[:], np.asarray(Y_pre))

        def conv_model():
            stackit.reset_default_graph()
            net = stackit.input_data(shape=[None, 3, 4, 3])
            net = stackit.fully_connected(net, 2, activation="softmax")
            return stackit.DNN(stackit.regression(net, batch_size=5), seed=0)

        streamed, arrays = conv_model(), conv_model()
        streamed.fit(X, Y, n_epoch=2, shuffle=True, verbose=0)
        arrays.fit(X[:], Y[:], n_epoch=2, shuffle=True, verbose=0)
        np.testing.assert_array_equal(streamed.get_weights("FullyConnected/W"),
                                      arrays.get_weights("FullyConnected/W"))


def test_build_hdf5_image_dataset_options(image_folder, tmp_path):
    out = build_hdf5_image_dataset(image_folder, (4, 3), str(tmp_path / "g.h5"), mode="folder",
                                   categorical_labels=False, grayscale=True, normalize=False,
                                   files_extension=[".png"])
    with h5py.File(out, "r") as h5:
        assert h5["X"].shape == (6, 3, 4, 1) and h5["X"][:].max() > 1
        np.testing.assert_array_equal(h5["Y"][:], np.zeros(6, np.int32))
    with pytest.raises(ValueError, match="mode must be"):
        build_hdf5_image_dataset(image_folder, (4, 3), str(tmp_path / "x.h5"), mode="dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.h5", "images"]  # no temp file
