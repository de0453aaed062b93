"""Host copies of in-memory data on CPU (`stackit.engine.data.aligned`): aligned for XLA to take
in place, and, for large arrays, copied into the buffer of an earlier call once nothing uses it
any more — never into one that a live device array still reads."""

import gc

import jax
import numpy as np

import stackit
from stackit.engine import data

ROWS = (data.KEPT_MIN_BYTES // (784 * 4)) + 10  # just over the size that is kept


def _unaligned(rows: int = ROWS) -> np.ndarray:
    base = np.random.default_rng(0).random(rows * 784 + 1, dtype=np.float32)
    return base[1:].reshape(rows, 784)  # 4 bytes past an aligned start


def test_a_copy_is_aligned_equal_and_taken_in_place():
    x = _unaligned(100)
    out = data.aligned(x)
    assert out.ctypes.data % 64 == 0 and out.ctypes.data != x.ctypes.data
    np.testing.assert_array_equal(out, x)
    on_device = jax.device_put(out)
    assert on_device.unsafe_buffer_pointer() == out.ctypes.data  # no second copy


def test_a_buffer_is_reused_only_when_nothing_refers_to_it():
    # every copy is of `x` (changed in place between them): an unaligned source is always
    # copied. Addresses are read outside `assert`: pytest's rewriting keeps `a.ctypes` alive.
    x = _unaligned()
    first = data.aligned(x, keep=True)
    address = first.ctypes.data
    on_device = jax.device_put(first)
    del first
    x *= 2
    second = data.aligned(x, keep=True)  # the device array reads the first copy: elsewhere
    kept = second.ctypes.data  # the newest buffer of this shape is the one kept
    assert kept != address
    np.testing.assert_array_equal(np.asarray(on_device), x / 2)  # untouched
    del on_device, second
    gc.collect()
    x *= 2
    third = data.aligned(x, keep=True)
    reused = third.ctypes.data
    assert reused == kept  # nothing refers to it now: copied into again
    np.testing.assert_array_equal(third, x)
    view = third[:10]
    del third
    x *= 2
    fourth = data.aligned(x, keep=True)  # a view of the kept buffer still lives
    fourth_address = fourth.ctypes.data
    assert fourth_address != reused
    np.testing.assert_array_equal(view, (x / 2)[:10])
    np.testing.assert_array_equal(fourth, x)


def test_small_arrays_are_not_kept():
    before = dict(data._KEPT)
    data.aligned(_unaligned(10), keep=True)
    assert dict(data._KEPT) == before


def test_fits_called_again_train_on_the_data_of_each_call():
    # the second fit copies into the first one's buffer; the model must see the new values
    x, y = _unaligned(), np.eye(2, dtype=np.float32)[np.arange(ROWS) % 2]
    net = stackit.input_data(shape=[None, 784])
    net = stackit.regression(stackit.fully_connected(net, 2, activation="softmax"))
    model = stackit.DNN(net, seed=0)
    def loss(inputs):
        return model.evaluate(inputs, y, batch_size=4096, return_dict=True)["loss"]

    first, second, third = loss(x), loss(np.zeros_like(x)), loss(x)
    assert first == third
    np.testing.assert_allclose(second, np.log(2), rtol=1e-5)  # zero inputs: even odds
    assert abs(first - np.log(2)) > 1e-3
