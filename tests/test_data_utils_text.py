"""Text utilities: semi-redundant character sequences, random seeds, VocabularyProcessor."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest

import stackit.data_utils as du
from stackit.data_utils import CategoricalVocabulary, VocabularyProcessor

# ----------------------------------------------------------------------------- char sequences


def _reference(string, seq_maxlen, redun_step, char_idx):
    """tflearn's loop, one character at a time."""
    starts = list(range(0, len(string) - seq_maxlen, redun_step))
    X = np.zeros((len(starts), seq_maxlen, len(char_idx)), dtype=bool)
    Y = np.zeros((len(starts), len(char_idx)), dtype=bool)
    for i, s in enumerate(starts):
        for t, char in enumerate(string[s : s + seq_maxlen]):
            X[i, t, char_idx[char]] = True
        Y[i, char_idx[string[s + seq_maxlen]]] = True
    return X, Y


def test_semi_redundant_sequences_by_hand():
    X, Y, char_idx = du.string_to_semi_redundant_sequences("abcabd", seq_maxlen=3, redun_step=2)
    assert char_idx == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert X.dtype == bool and Y.dtype == bool
    assert X.shape == (2, 3, 4) and Y.shape == (2, 4)
    np.testing.assert_array_equal(X.argmax(-1), [[0, 1, 2], [2, 0, 1]])  # 'abc', 'cab'
    np.testing.assert_array_equal(Y.argmax(-1), [0, 3])  # next: 'a', 'd'
    assert X.sum() == 6 and Y.sum() == 2  # exactly one hot per position


@pytest.mark.parametrize(("seq_maxlen", "redun_step"), [(1, 1), (5, 3), (7, 2), (40, 9), (99, 1)])
def test_semi_redundant_sequences_match_a_loop(seq_maxlen, redun_step):
    text = "".join(np.random.default_rng(seq_maxlen).choice(list("ab cd\nEé"), 100))
    X, Y, char_idx = du.string_to_semi_redundant_sequences(text, seq_maxlen, redun_step)
    assert char_idx == {c: i for i, c in enumerate(sorted(set(text)))}
    ref_X, ref_Y = _reference(text, seq_maxlen, redun_step, char_idx)
    np.testing.assert_array_equal(X, ref_X)
    np.testing.assert_array_equal(Y, ref_Y)


def test_semi_redundant_sequences_with_a_given_char_idx():
    char_idx = {"z": 0, "b": 1, "a": 2}
    X, Y, out = du.string_to_semi_redundant_sequences(
        "abab", seq_maxlen=2, redun_step=1, char_idx=char_idx
    )
    assert out is char_idx
    assert X.shape == (2, 2, 3)
    np.testing.assert_array_equal(X.argmax(-1), [[2, 1], [1, 2]])
    np.testing.assert_array_equal(Y.argmax(-1), [2, 1])


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("",), ValueError, r"must not be empty\. Received: string=''"),
        ((b"abc",), TypeError, r"decode bytes first"),
        ((["a", "b"],), TypeError, r"must be a str\. Received: string of type list"),
        (("abc", 3), ValueError, r"longer than seq_maxlen.*len\(string\)=3, seq_maxlen=3"),
        (("abc", 0), ValueError, r"seq_maxlen must be >= 1\. Received: seq_maxlen=0"),
        (("abc", 1.5), TypeError, r"Received: seq_maxlen=1\.5"),
        (("abcd", 2, 0), ValueError, r"redun_step must be >= 1\. Received: redun_step=0"),
        (("abcd", 2, -3), ValueError, r"Received: redun_step=-3"),
        (("abcd", 2, 1, {"a": 0, "b": 1}), ValueError, r"no id for 2 character\(s\).*'cd'"),
        (("ab", 1, 1, {"a": 0, "b": 2}), ValueError, r"\[0, 2\)\. Received: char_idx\['b'\]=2"),
        (("ab", 1, 1, ["a", "b"]), TypeError, r"char_idx must be a dict"),
    ],
)
def test_semi_redundant_sequences_refuse_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        du.string_to_semi_redundant_sequences(*args)


def test_textfile_to_semi_redundant_sequences(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("AbAb é", encoding="utf-8")
    X, Y, char_idx = du.textfile_to_semi_redundant_sequences(
        path, seq_maxlen=2, redun_step=1, to_lower_case=True
    )
    assert char_idx == {" ": 0, "a": 1, "b": 2, "é": 3}
    ref_X, ref_Y = _reference("abab é", 2, 1, char_idx)
    np.testing.assert_array_equal(X, ref_X)
    np.testing.assert_array_equal(Y, ref_Y)
    given = {" ": 0, "A": 1, "b": 2, "é": 3}
    _, _, out = du.textfile_to_semi_redundant_sequences(str(path), 2, 1, pre_defined_char_idx=given)
    assert out is given


def test_text_files_missing_or_not_utf8(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"Received: path='.*nope\.txt'"):
        du.textfile_to_semi_redundant_sequences(missing)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        du.random_sequence_from_textfile(missing, 3)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        du.textfile_to_semi_redundant_sequences(latin, seq_maxlen=2)


def test_random_sequence_from_string_range_and_seed():
    text = "0123456789"
    random.seed(5)
    first = du.random_sequence_from_string(text, 4)
    random.seed(5)
    assert du.random_sequence_from_string(text, 4) == first
    seen = {du.random_sequence_from_string(text, 4) for _ in range(400)}
    # Starts 0..5 (tflearn: the window is always followed by a character).
    assert seen == {text[s : s + 4] for s in range(6)}
    assert du.random_sequence_from_string("abc", 2) == "ab"


def test_random_sequence_from_textfile(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello world", encoding="utf-8")
    seq = du.random_sequence_from_textfile(path, 5)
    assert len(seq) == 5 and seq in "hello world"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("abc", 3), ValueError, r"longer than seq_maxlen"),
        (("", 1), ValueError, r"must not be empty"),
        (("abc", 0), ValueError, r"Received: seq_maxlen=0"),
        ((None, 1), TypeError, r"must be a str"),
    ],
)
def test_random_sequence_refuses_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        du.random_sequence_from_string(*args)


def test_chars_to_dictionary():
    assert du.chars_to_dictionary("hello") == {"e": 0, "h": 1, "l": 2, "o": 3}


# ----------------------------------------------------------------------------- vocabulary

DOCS = ["the cat sat", "the dog sat on the mat", "a cat"]


def _rows(it):
    return np.array(list(it))


def test_ids_follow_first_sight_and_pad_with_zero():
    vp = VocabularyProcessor(max_document_length=5)
    X = _rows(vp.fit_transform(DOCS))
    assert X.dtype == np.int64
    # the 1, cat 2, sat 3, dog 4, on 5, mat 6, a 7; row 2 is cut at 5 words.
    np.testing.assert_array_equal(X, [[1, 2, 3, 0, 0], [1, 4, 3, 5, 1], [7, 2, 0, 0, 0]])
    assert len(vp.vocabulary_) == 8
    np.testing.assert_array_equal(
        _rows(vp.transform(["the bird sat", ""])), [[1, 0, 3, 0, 0], [0, 0, 0, 0, 0]]
    )
    assert list(vp.reverse([[1, 0, 3, 0, 0]])) == ["the <UNK> sat <UNK> <UNK>"]
    assert len(vp.vocabulary_) == 8  # transform never adds words


def test_min_frequency_keeps_words_seen_more_often_by_frequency_then_alphabet():
    docs = ["b a c", "a b d", "a e e"]  # a 3, b 2, e 2, c 1, d 1
    vp = VocabularyProcessor(3, min_frequency=1).fit(docs)
    assert [vp.vocabulary_.reverse(i) for i in range(len(vp.vocabulary_))] == [
        "<UNK>",
        "a",
        "b",
        "e",
    ]
    np.testing.assert_array_equal(_rows(vp.transform(docs)), [[2, 1, 0], [1, 2, 0], [1, 3, 3]])
    vp2 = VocabularyProcessor(3, min_frequency=2).fit(docs)
    assert len(vp2.vocabulary_) == 2  # only 'a' (3 > 2)


def test_default_tokenizer_is_tensorflows():
    vp = VocabularyProcessor(20)
    vp.fit(["HTMLParser don't well-known CamelCase, 3.5 café!"])
    words = list(vp.reverse([range(1, len(vp.vocabulary_))]))[0].split()
    assert words == ["HTML", "Parser", "don't", "well-known", "Camel", "Case", "3", "5", "café"]


def test_custom_tokenizer_fn_follows_the_iterator_contract():
    def by_comma(documents):
        for doc in documents:
            yield doc.split(",")

    vp = VocabularyProcessor(3, tokenizer_fn=by_comma)
    np.testing.assert_array_equal(
        _rows(vp.fit_transform(["x,y", "y,z,x,w"])), [[1, 2, 0], [2, 3, 1]]
    )


def test_fit_freezes_and_fit_transform_reads_a_generator_once():
    vp = VocabularyProcessor(2)
    X = _rows(vp.fit_transform(doc for doc in ["a b", "b c"]))
    np.testing.assert_array_equal(X, [[1, 2], [2, 3]])
    vp.fit(["d e"])
    assert len(vp.vocabulary_) == 4  # frozen: 'd' and 'e' were not added
    np.testing.assert_array_equal(_rows(vp.transform(["d a"])), [[0, 1]])


def test_a_given_frozen_vocabulary_is_used_as_is():
    vocab = CategoricalVocabulary()
    for word in ["hello", "world"]:
        vocab.add(word)
    vocab.freeze()
    vp = VocabularyProcessor(3, vocabulary=vocab)
    assert vp.vocabulary_ is vocab
    np.testing.assert_array_equal(_rows(vp.transform(["world hello there"])), [[2, 1, 0]])


def test_categorical_vocabulary():
    vocab = CategoricalVocabulary(unknown_token="?")
    assert vocab.get("x") == 1 and vocab.get("y") == 2 and vocab.get("x") == 1
    for token, count in [("x", 1), ("y", 5), ("z", 5), ("w", 9)]:
        vocab.add(token, count)
    vocab.trim(min_frequency=1, max_frequency=9)  # w (9) too frequent, x (1) too rare
    assert [vocab.reverse(i) for i in range(len(vocab))] == ["?", "y", "z"]
    vocab.freeze()
    assert vocab.get("new") == 0 and vocab.frozen and len(vocab) == 3
    with pytest.raises(ValueError, match=r"ids 0 to 2\)\. Received: class_id=3"):
        vocab.reverse(3)
    with pytest.raises(ValueError, match="Received: class_id=-1"):
        vocab.reverse(-1)
    with pytest.raises(ValueError, match="support_reverse=False"):
        CategoricalVocabulary(support_reverse=False).reverse(0)


def test_save_restore_round_trip_is_json(tmp_path):
    vp = VocabularyProcessor(4, min_frequency=0).fit(DOCS + ["Ünïcode words"])
    path = tmp_path / "vocab.json"
    vp.save(path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format"] == "stackit.VocabularyProcessor"
    assert payload["vocabulary"]["tokens"][:3] == ["the", "cat", "sat"]
    back = VocabularyProcessor.restore(path)
    assert back.max_document_length == 4 and back.vocabulary_.frozen
    docs = ["the mat Ünïcode", "zebra"]
    np.testing.assert_array_equal(_rows(back.transform(docs)), _rows(vp.transform(docs)))
    assert list(back.reverse([[1, 2]])) == ["the cat"]
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left


def test_restore_with_a_custom_tokenizer(tmp_path):
    def by_space(documents):
        for doc in documents:
            yield doc.split(" ")

    VocabularyProcessor(2, tokenizer_fn=by_space).fit(["a-b c"]).save(tmp_path / "v.json")
    bare = VocabularyProcessor.restore(tmp_path / "v.json")
    assert list(bare.reverse([[1, 2]])) == ["a-b c"]  # reverse needs no tokenizer
    with pytest.raises(ValueError, match=r"restore\(filename, tokenizer_fn=my_tokenizer\)"):
        list(bare.transform(["a-b"]))
    full = VocabularyProcessor.restore(tmp_path / "v.json", tokenizer_fn=by_space)
    np.testing.assert_array_equal(_rows(full.transform(["c a-b"])), [[2, 1]])


def test_restore_refuses_a_pickle_without_loading_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "vocab.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="not a file written by VocabularyProcessor.save"):
        VocabularyProcessor.restore(tmp_path / "vocab.pkl")
    assert not marker.exists()
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not loaded"):
        VocabularyProcessor.restore(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError, match="Received: filename="):
        VocabularyProcessor.restore(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_document_length": 0}, ValueError, r"Received: max_document_length=0"),
        ({"max_document_length": "5"}, TypeError, r"Received: max_document_length='5'"),
        ({"max_document_length": 3, "min_frequency": -1}, ValueError, r"min_frequency=-1"),
        ({"max_document_length": 3, "vocabulary": {"a": 1}}, TypeError, r"CategoricalVocab"),
        ({"max_document_length": 3, "tokenizer_fn": "split"}, TypeError, r"tokenizer_fn='split'"),
    ],
)
def test_vocabulary_processor_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        VocabularyProcessor(**kwargs)


def test_vocabulary_processor_refuses_bad_documents():
    vp = VocabularyProcessor(3)
    with pytest.raises(ValueError, match=r"call fit\(\) or fit_transform\(\) first"):
        vp.transform(["a"])
    with pytest.raises(TypeError, match=r"wrap a single document as \[doc\]"):
        vp.fit("one document")
    with pytest.raises(TypeError, match=r"Received: raw_documents\[1\] of type int"):
        vp.fit(["a", 3])
    with pytest.raises(TypeError, match="iterable of documents"):
        vp.fit(42)
    vp.fit(["a b"])
    with pytest.raises(ValueError, match=r"id 9 is not in the vocabulary"):
        list(vp.reverse([[9]]))
