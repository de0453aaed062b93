"""Tests for stackit.data_utils: labels, shuffling, padding and normalization."""

import numpy as np
import pytest

import stackit.data_utils as du


def test_public_names_import_and_have_docstrings():
    for name in du.__all__:
        obj = getattr(du, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


# ----------------------------------------------------------------------------- to_categorical


def test_to_categorical_with_nb_classes():
    out = du.to_categorical([0, 2, 1], nb_classes=4)
    expected = np.array(
        [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]],
        dtype=np.float32,
    )
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_to_categorical_infers_max_plus_one_and_accepts_a_column():
    # Class 1 never appears; the width is still max + 1 = 3, so id 2 stays column 2.
    out = du.to_categorical(np.array([[2], [0]]))
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])


def test_to_categorical_accepts_whole_floats():
    np.testing.assert_array_equal(du.to_categorical([1.0, 0.0], 2), [[0, 1], [1, 0]])


def test_to_categorical_empty_with_nb_classes():
    assert du.to_categorical([], 3).shape == (0, 3)


@pytest.mark.parametrize(
    ("y", "nb", "error", "match"),
    [
        ([0, 3], 3, ValueError, r"\[0, 3\)\. Received: y\[1\]=3"),
        ([1, -1], None, ValueError, r">= 0\. Received: y\[1\]=-1"),
        ([0.5, 1.0], None, ValueError, r"whole-number.*y\[0\]=0\.5"),
        ([0.0, np.nan], 2, ValueError, r"whole-number.*y\[1\]=nan"),
        ([[0, 1], [1, 0]], 2, ValueError, r"1-D.*y\.shape=\(2, 2\)"),
        (["a", "b"], 2, TypeError, r"integer class ids.*dtype=<U1"),
        ([True, False], 2, TypeError, r"integer class ids.*dtype=bool"),
        ([0, 1], 0, ValueError, r"nb_classes must be >= 1\. Received: nb_classes=0"),
        ([0, 1], 2.0, TypeError, r"nb_classes must be an int\. Received: nb_classes=2\.0"),
        ([], None, ValueError, r"empty y.*nb_classes=None"),
    ],
)
def test_to_categorical_refuses_bad_labels(y, nb, error, match):
    with pytest.raises(error, match=match):
        du.to_categorical(y, nb)


def test_to_categorical_refuses_a_result_too_large_to_allocate():
    with pytest.raises(
        ValueError,
        match=r"1 x 1000000000001 = 1,000,000,000,001 values, more "
        r"than the 2,147,483,647.*nb_classes=1000000000001 "
        r"\(max\(y\) \+ 1\), len\(y\)=1",
    ):
        du.to_categorical([10**12])
    with pytest.raises(ValueError, match=r"Received: nb_classes=1073741824, len\(y\)=2$"):
        du.to_categorical([0, 1], 2**30)


# ----------------------------------------------------------------------------- shuffle


def test_shuffle_keeps_arrays_aligned_and_is_a_permutation():
    X = np.arange(20).reshape(10, 2)
    Y = [10 * i for i in range(10)]
    Xs, Ys = du.shuffle(X, Y, seed=1)
    assert isinstance(Ys, np.ndarray)
    np.testing.assert_array_equal(Xs[:, 0] // 2 * 10, Ys)
    np.testing.assert_array_equal(np.sort(Ys), Y)
    assert not np.array_equal(Ys, Y)  # seed 1 does not give the identity on 10 items


def test_shuffle_seed_is_repeatable_and_matches_numpy_generator():
    X = np.arange(10)
    expected = X[np.random.default_rng(7).permutation(10)]
    (a,) = du.shuffle(X, seed=7)
    (b,) = du.shuffle(X, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(b, expected)


def test_shuffle_without_seed_uses_numpy_global_state():
    X = np.arange(10)
    np.random.seed(3)
    expected = X[np.random.permutation(10)]
    np.random.seed(3)
    (out,) = du.shuffle(X)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("arrs", "kwargs", "error", "match"),
    [
        ((), {}, TypeError, r"at least one array"),
        (([1, 2], [1, 2, 3]), {}, ValueError, r"same length\. Received: lengths=\[2, 3\]"),
        ((5,), {}, ValueError, r"first axis\. Received: arrs\[0\]"),
        (([1, 2],), {"seed": "x"}, TypeError, r"seed must be.*Received: seed='x'"),
        (([1, 2],), {"seed": 1.5}, TypeError, r"Received: seed=1\.5"),
    ],
)
def test_shuffle_refuses_bad_input(arrs, kwargs, error, match):
    with pytest.raises(error, match=match):
        du.shuffle(*arrs, **kwargs)


# ----------------------------------------------------------------------------- pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6], []]


def test_pad_sequences_defaults_pad_post_to_longest():
    out = du.pad_sequences(SEQS)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[1, 2, 3], [4, 5, 0], [6, 0, 0], [0, 0, 0]])


def test_pad_sequences_pre_pre():
    out = du.pad_sequences(SEQS, maxlen=2, padding="pre", truncating="pre")
    np.testing.assert_array_equal(out, [[2, 3], [4, 5], [0, 6], [0, 0]])


def test_pad_sequences_post_post_with_value_and_dtype():
    out = du.pad_sequences(SEQS, maxlen=2, dtype="float32", value=-1.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2], [4, 5], [6, -1.5], [-1.5, -1.5]])


def test_pad_sequences_longer_maxlen_and_arrays():
    out = du.pad_sequences([np.array([7, 8])], maxlen=4, padding="pre")
    np.testing.assert_array_equal(out, [[0, 0, 7, 8]])


def test_pad_sequences_pre_truncation_keeps_a_short_sequence_whole():
    # Regression: a sequence 1 shorter than maxlen used to keep only its last value.
    out = du.pad_sequences([[8, 9, 10], [1, 2, 3, 4, 5]], maxlen=4, truncating="pre")
    np.testing.assert_array_equal(out, [[8, 9, 10, 0], [2, 3, 4, 5]])


def test_pad_sequences_zero_maxlen_and_no_sequences():
    assert du.pad_sequences(SEQS, maxlen=0).shape == (4, 0)
    assert du.pad_sequences([]).shape == (0, 0)


def _tflearn_pad(sequences, maxlen, dtype, padding, truncating, value):
    """tflearn's pad_sequences rule, written out element by element."""
    maxlen = max(len(s) for s in sequences) if maxlen is None else maxlen
    out = np.full((len(sequences), maxlen), value).astype(dtype)
    for i, seq in enumerate(sequences):
        kept = list(seq)[-maxlen:] if truncating == "pre" else list(seq)[:maxlen]
        offset = maxlen - len(kept) if padding == "pre" else 0
        for j, v in enumerate(kept):
            out[i, offset + j] = v
    return out


def test_pad_sequences_signature_and_defaults_are_tflearns():
    import inspect

    params = inspect.signature(du.pad_sequences).parameters
    assert list(params) == ["sequences", "maxlen", "dtype", "padding", "truncating", "value"]
    defaults = [p.default for p in params.values()][1:]
    assert defaults == [None, "int32", "post", "post", 0.0]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 2, 3, 6])
@pytest.mark.parametrize(("dtype", "value"), [("int32", 0.0), ("float32", -1.5), ("int64", 7)])
def test_pad_sequences_matches_tflearns_rule(padding, truncating, maxlen, dtype, value):
    seqs = [[1, 2, 3, 4], [5], [], [6, 7], np.array([8, 9, 10])]
    out = du.pad_sequences(seqs, maxlen, dtype, padding, truncating, value)
    expected = _tflearn_pad(seqs, maxlen, dtype, padding, truncating, value)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"padding": "middle"}, ValueError, r"'pre' or 'post'\. Received: padding='middle'"),
        ({"truncating": "both"}, ValueError, r"Received: truncating='both'"),
        ({"maxlen": -1}, ValueError, r"maxlen must be >= 0\. Received: maxlen=-1"),
        ({"maxlen": 2.5}, TypeError, r"Received: maxlen=2\.5"),
    ],
)
def test_pad_sequences_refuses_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        du.pad_sequences(SEQS, **kwargs)


@pytest.mark.parametrize(
    ("seqs", "error", "match"),
    [
        ([[1], 5], TypeError, r"Received: sequences\[1\]=5"),
        (["abc"], TypeError, r"Received: sequences\[0\]='abc'"),
        ([[[1, 2]]], ValueError, r"1-D\. Received: sequences\[0\]\.shape=\(1, 2\)"),
    ],
)
def test_pad_sequences_refuses_bad_sequences(seqs, error, match):
    with pytest.raises(error, match=match):
        du.pad_sequences(seqs)


# ----------------------------------------------------------------------------- normalization


def test_featurewise_zero_center_computes_and_returns_mean():
    X = np.array([[1.0, 2.0], [3.0, 6.0]])
    out, mean = du.featurewise_zero_center(X)
    np.testing.assert_array_equal(mean, [2.0, 4.0])
    np.testing.assert_array_equal(out, [[-1.0, -2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.0, 6.0]])  # input untouched


def test_featurewise_zero_center_with_given_mean_returns_array_only():
    out = du.featurewise_zero_center([[5, 5], [7, 9]], mean=np.array([1.0, 2.0]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [[4.0, 3.0], [6.0, 7.0]])


def test_featurewise_zero_center_converts_integers_to_float32():
    out, mean = du.featurewise_zero_center(np.array([[0], [3]], dtype=np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[-1.5], [1.5]])


def test_featurewise_std_normalization_computes_std_and_guards_constant_features():
    # Column 0: values 0 and 4 -> std 2. Column 1 is constant -> std 0, replaced by 1.
    X = np.array([[0.0, 5.0], [4.0, 5.0]])
    out, std = du.featurewise_std_normalization(X)
    np.testing.assert_array_equal(std, [2.0, 1.0])
    np.testing.assert_array_equal(out, [[0.0, 5.0], [2.0, 5.0]])


def test_featurewise_std_normalization_with_given_std():
    out = du.featurewise_std_normalization([[2.0, 9.0]], std=[2.0, 3.0])
    np.testing.assert_array_equal(out, [[1.0, 3.0]])


@pytest.mark.parametrize(
    ("fn", "arg"),
    [(du.featurewise_zero_center, "mean"), (du.featurewise_std_normalization, "std")],
)
def test_featurewise_statistics_of_the_wrong_shape_are_refused(fn, arg):
    X = np.ones((5, 3, 2))
    with pytest.raises(
        ValueError,
        match=rf"{arg} must be a scalar or an array of one sample's shape \(3, 2\).*X of shape "
        rf"\(5, 3, 2\)\. Received: {arg}\.shape=\(3,\)",
    ):
        fn(X, np.ones(3))
    with pytest.raises(TypeError, match=rf"{arg} must hold numbers"):
        fn(X, "zero")
    for fits in (2.0, np.ones((3, 2)), np.ones((1, 3, 2)), np.ones(2)):  # broadcast to X
        assert fn(X, fits).shape == X.shape


@pytest.mark.parametrize("std", [[1.0, 0.0], [-1.0, 1.0], [np.inf, 1.0]])
def test_featurewise_std_normalization_refuses_bad_std(std):
    with pytest.raises(ValueError, match=r"finite and > 0.*Received: std="):
        du.featurewise_std_normalization([[1.0, 2.0]], std=std)


def test_samplewise_zero_center_uses_each_sample_mean():
    out = du.samplewise_zero_center([[1.0, 3.0], [0.0, 10.0]])
    np.testing.assert_array_equal(out, [[-1.0, 1.0], [-5.0, 5.0]])
    # A (height, width) sample: the mean is over all its values, (1 + 2 + 3 + 6) / 4 = 3.
    out3 = du.samplewise_zero_center(np.array([[[1.0, 2.0], [3.0, 6.0]]]))
    np.testing.assert_array_equal(out3, [[[-2.0, -1.0], [0.0, 3.0]]])


def test_samplewise_std_normalization_uses_each_sample_std():
    # std of [1, 3] is 1; std of [0, 10] is 5; a constant sample is left as is.
    out = du.samplewise_std_normalization(np.array([[1.0, 3.0], [0.0, 10.0], [4.0, 4.0]]))
    np.testing.assert_array_equal(out, [[1.0, 3.0], [0.0, 2.0], [4.0, 4.0]])


@pytest.mark.parametrize(
    "fn",
    [
        du.featurewise_zero_center,
        du.featurewise_std_normalization,
        du.samplewise_zero_center,
        du.samplewise_std_normalization,
    ],
)
def test_normalizers_refuse_empty_and_non_numeric(fn):
    with pytest.raises(ValueError, match=r"non-empty batch.*Received: X\.shape=\(0, 2\)"):
        fn(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"Received: X\.shape=\(\)"):
        fn(3.0)
    with pytest.raises(TypeError, match=r"must hold numbers\. Received: X\.dtype=<U1"):
        fn([["a", "b"]])
