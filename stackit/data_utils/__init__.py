"""Data utilities: labels, sequences, text, normalization, image folders and CSV files.

tflearn's `tflearn.data_utils` vocabulary, on numpy and Pillow (Pillow is imported on first
use of an image function; h5py, optional, on first use of `build_hdf5_image_dataset`). See
`docs/data_utils.md`.
"""

from stackit.data_utils._arrays import (
    featurewise_std_normalization,
    featurewise_zero_center,
    pad_sequences,
    samplewise_std_normalization,
    samplewise_zero_center,
    shuffle,
    to_categorical,
)
from stackit.data_utils._categorical_vocabulary import CategoricalVocabulary
from stackit.data_utils._csv import load_csv
from stackit.data_utils._hdf5 import build_hdf5_image_dataset
from stackit.data_utils._images import (
    build_image_dataset_from_dir,
    convert_color,
    load_image,
    pil_to_nparray,
    resize_image,
)
from stackit.data_utils._preloader import (
    ImagePreloader,
    LabelPreloader,
    Preloader,
    image_preloader,
)
from stackit.data_utils._text import (
    chars_to_dictionary,
    random_sequence_from_string,
    random_sequence_from_textfile,
    string_to_semi_redundant_sequences,
    textfile_to_semi_redundant_sequences,
)
from stackit.data_utils._vocabulary import VocabularyProcessor

__all__ = [
    "to_categorical",
    "shuffle",
    "pad_sequences",
    "featurewise_zero_center",
    "featurewise_std_normalization",
    "samplewise_zero_center",
    "samplewise_std_normalization",
    "load_image",
    "resize_image",
    "convert_color",
    "pil_to_nparray",
    "build_image_dataset_from_dir",
    "build_hdf5_image_dataset",
    "image_preloader",
    "Preloader",
    "ImagePreloader",
    "LabelPreloader",
    "load_csv",
    "string_to_semi_redundant_sequences",
    "textfile_to_semi_redundant_sequences",
    "chars_to_dictionary",
    "random_sequence_from_string",
    "random_sequence_from_textfile",
    "VocabularyProcessor",
    "CategoricalVocabulary",
]
