"""Tests for stackit.data_utils image functions, on real PNG/JPEG files written with Pillow."""

import os

import numpy as np
import pytest
from PIL import Image

import stackit.data_utils as du

RED = (200, 100, 50)
BLUE = (10, 20, 30)


def make_image(path, size=(4, 3), color=RED, mode="RGB"):
    """Writes a solid-colour image of `size` = (width, height); the format follows the suffix."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, color).save(path)
    return str(path)


def make_tree(root, spec):
    """`spec`: {class_name: [(file_name, color), ...]} -> solid 4x3 RGB images on disk."""
    for cls, files in spec.items():
        os.makedirs(root / cls, exist_ok=True)
        for name, color in files:
            make_image(root / cls / name, color=color)
    return root


# ----------------------------------------------------------------------------- single images


def test_load_image_decodes_png(tmp_path):
    path = make_image(tmp_path / "a.png", size=(5, 2), color=BLUE)
    img = du.load_image(path)
    assert img.size == (5, 2) and img.mode == "RGB"
    assert img.getpixel((4, 1)) == BLUE


def test_load_image_refuses_bad_input(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match=r"could not decode the image file .*broken\.png"):
        du.load_image(bad)
    truncated = tmp_path / "truncated.jpg"
    make_image(truncated, size=(64, 64))
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"truncated\.jpg"):
        du.load_image(truncated)
    with pytest.raises(FileNotFoundError, match=r"Received: in_image=.*missing\.png"):
        du.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match=r"local files only.*Received: in_image='https://x/y"):
        du.load_image("https://x/y.jpg")
    with pytest.raises(TypeError, match=r"file path\. Received: in_image=int"):
        du.load_image(3)


def test_resize_image_sets_width_and_height_and_saves(tmp_path):
    img = du.load_image(make_image(tmp_path / "a.png", size=(8, 6)))
    out_path = tmp_path / "small.png"
    small = du.resize_image(img, 3, 2, out_image=out_path)
    assert small.size == (3, 2)
    with Image.open(out_path) as saved:
        assert saved.size == (3, 2)
    assert img.size == (8, 6)


def test_resize_image_refuses_bad_input():
    img = Image.new("RGB", (4, 4))
    with pytest.raises(
        ValueError, match=r"new_width must be a positive int\. Received: new_width=0"
    ):
        du.resize_image(img, 0, 3)
    with pytest.raises(ValueError, match=r"Received: new_height=2\.5"):
        du.resize_image(img, 3, 2.5)
    with pytest.raises(TypeError, match=r"PIL\.Image\.Image.*Received: in_image=ndarray"):
        du.resize_image(np.zeros((4, 4)), 2, 2)


def test_convert_color_to_grayscale_uses_itu_r_601_weights():
    img = du.convert_color(Image.new("RGB", (2, 2), RED), "L")
    # L = R * 299/1000 + G * 587/1000 + B * 114/1000 = 59.8 + 58.7 + 5.7 = 124.2
    assert img.mode == "L" and img.getpixel((0, 0)) == 124


def test_convert_color_refuses_bad_input():
    with pytest.raises(ValueError, match=r"from mode 'RGB' to 'XYZ'.*Received: mode='XYZ'"):
        du.convert_color(Image.new("RGB", (2, 2)), "XYZ")
    with pytest.raises(TypeError, match=r"Received: in_image=list"):
        du.convert_color([1, 2], "L")


def test_pil_to_nparray_is_height_width_channels_float32():
    img = Image.new("RGB", (3, 2))
    img.putpixel((2, 0), (1, 2, 3))  # x=2, y=0 -> row 0, column 2
    arr = du.pil_to_nparray(img)
    expected = np.zeros((2, 3, 3), dtype=np.float32)
    expected[0, 2] = [1, 2, 3]
    assert arr.dtype == np.float32 and arr.flags.writeable
    np.testing.assert_array_equal(arr, expected)
    assert du.pil_to_nparray(Image.new("L", (3, 2), 9)).shape == (2, 3)
    with pytest.raises(TypeError, match=r"Received: pil_image=ndarray"):
        du.pil_to_nparray(expected)


# ----------------------------------------------------------------------------- image folders


def test_build_image_dataset_from_dir_classes_follow_sorted_folders(tmp_path):
    root = make_tree(
        tmp_path / "data",
        {"cats": [("2.png", RED), ("1.png", RED)], "ants": [("x.png", BLUE)]},
    )
    X, Y = du.build_image_dataset_from_dir(root)
    assert X.dtype == np.float32 and X.shape == (3, 3, 4, 3)
    assert Y.dtype == np.int32
    np.testing.assert_array_equal(Y, [0, 1, 1])  # 'ants' < 'cats'
    np.testing.assert_allclose(X[0], np.broadcast_to(np.array(BLUE) / 255, (3, 4, 3)), atol=1e-7)
    np.testing.assert_allclose(X[1], np.broadcast_to(np.array(RED) / 255, (3, 4, 3)), atol=1e-7)
    assert X.min() >= 0.0 and X.max() <= 1.0


def test_build_image_dataset_from_dir_resize_gray_and_jpeg(tmp_path):
    root = tmp_path / "data"
    make_image(root / "a" / "big.jpg", size=(9, 7), color=RED)
    make_image(root / "b" / "small.JPG", size=(2, 2), color=RED)
    X, Y = du.build_image_dataset_from_dir(root, resize=(5, 4), convert_gray=True)
    assert X.shape == (2, 4, 5, 1)  # resize is (width, height)
    # JPEG and resampling may move a solid colour by a couple of levels.
    np.testing.assert_allclose(X, 124.2 / 255, atol=3 / 255)
    np.testing.assert_array_equal(Y, [0, 1])


def test_build_image_dataset_from_dir_converts_modes_to_rgb(tmp_path):
    root = tmp_path / "data"
    make_image(root / "a" / "gray.png", mode="L", color=77)
    make_image(root / "a" / "rgba.png", mode="RGBA", color=(1, 2, 3, 4))
    X, _ = du.build_image_dataset_from_dir(root)
    assert X.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(X[0, 0, 0], np.array([77, 77, 77]) / 255, atol=1e-7)
    np.testing.assert_allclose(X[1, 0, 0], np.array([1, 2, 3]) / 255, atol=1e-7)


def test_build_image_dataset_from_dir_filetypes_and_hidden_files(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("keep.PNG", RED), ("skip.jpg", BLUE)]})
    (root / "a" / ".DS_Store").write_bytes(b"junk")
    (root / "a" / "notes.txt").write_text("not an image")
    X, _ = du.build_image_dataset_from_dir(root, filetypes=["png"])
    assert X.shape[0] == 1
    np.testing.assert_allclose(X[0, 0, 0], np.array(RED) / 255, atol=1e-7)
    X2, _ = du.build_image_dataset_from_dir(root, filetypes=".jpg")
    np.testing.assert_allclose(X2[0, 0, 0], np.array(BLUE) / 255, atol=3 / 255)


def test_build_image_dataset_from_dir_categorical_counts_every_class_folder(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("1.png", RED)], "b": [("1.png", BLUE)], "z": []})
    _, Y = du.build_image_dataset_from_dir(root, categorical_Y=True)
    np.testing.assert_array_equal(Y, [[1, 0, 0], [0, 1, 0]])  # 3 folders -> 3 columns


def test_build_image_dataset_from_dir_shuffle_keeps_pairs(tmp_path):
    colors = {"a": BLUE, "b": RED}
    spec = {c: [(f"{i}.png", col) for i in range(6)] for c, col in colors.items()}
    root = make_tree(tmp_path / "d", spec)
    np.random.seed(0)
    X, Y = du.build_image_dataset_from_dir(root, shuffle_data=True)
    assert sorted(Y.tolist()) == [0] * 6 + [1] * 6
    assert Y.tolist() != sorted(Y.tolist())
    for x, y in zip(X, Y, strict=True):
        expected = np.array(colors["ab"[y]]) / 255
        np.testing.assert_allclose(x[0, 0], expected, atol=1e-7)


def test_build_image_dataset_from_dir_caches_as_npz(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("1.png", RED)], "b": [("1.png", BLUE)]})
    cache = tmp_path / "flowers.cache"  # no .npz suffix: the exact name is used
    X, Y = du.build_image_dataset_from_dir(root, dataset_file=cache, resize=(2, 2))
    assert sorted(os.listdir(tmp_path)) == ["d", "flowers.cache"]
    with np.load(cache, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["X"], X)
        np.testing.assert_array_equal(data["Y"], Y)
    # The same settings read the cache: the images are no longer needed.
    for cls in ("a", "b"):
        os.remove(root / cls / "1.png")
    X2, Y2 = du.build_image_dataset_from_dir(root, dataset_file=cache, resize=(2, 2))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(Y2, Y)
    # Other settings rebuild it (and here find no image any more).
    with pytest.raises(ValueError, match=r"found no image"):
        du.build_image_dataset_from_dir(root, dataset_file=cache, resize=(3, 3))


def test_build_image_dataset_from_dir_rebuilds_cache_for_new_settings(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("1.png", RED)]})
    cache = tmp_path / "c.npz"
    du.build_image_dataset_from_dir(root, dataset_file=cache, resize=(2, 2))
    X, _ = du.build_image_dataset_from_dir(root, dataset_file=cache, resize=(5, 1))
    assert X.shape == (1, 1, 5, 3)
    with np.load(cache, allow_pickle=False) as data:
        assert data["X"].shape == (1, 1, 5, 3)


def test_build_image_dataset_from_dir_refuses_a_corrupt_cache(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("1.png", RED)]})
    cache = tmp_path / "c.npz"
    cache.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"not a readable stackit image dataset.*c\.npz"):
        du.build_image_dataset_from_dir(root, dataset_file=cache)
    assert cache.read_bytes() == b"garbage"  # never overwritten silently
    good = tmp_path / "good.npz"
    du.build_image_dataset_from_dir(root, dataset_file=good)
    cache.write_bytes(good.read_bytes()[:-40])  # a cut-off write
    with pytest.raises(ValueError, match=r"not a readable stackit image dataset"):
        du.build_image_dataset_from_dir(root, dataset_file=cache)


def test_build_image_dataset_from_dir_refuses_bad_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"one sub-folder per class.*Received: directory=.*empty"):
        du.build_image_dataset_from_dir(tmp_path / "empty")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"found no image file in the class sub-folders \['a'\]"):
        du.build_image_dataset_from_dir(tmp_path / "noimg")
    with pytest.raises(ValueError, match=r"existing directory\. Received: directory=.*nope"):
        du.build_image_dataset_from_dir(tmp_path / "nope")


def test_build_image_dataset_from_dir_names_an_undecodable_file(tmp_path):
    root = make_tree(tmp_path / "d", {"a": [("ok.png", RED)]})
    (root / "a" / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match=r"could not decode the image file .*bad\.jpg"):
        du.build_image_dataset_from_dir(root)


def test_build_image_dataset_from_dir_refuses_mixed_sizes_without_resize(tmp_path):
    root = tmp_path / "d"
    make_image(root / "a" / "1.png", size=(4, 3))
    make_image(root / "a" / "2.png", size=(5, 3))
    with pytest.raises(ValueError, match=r"same size unless resize.*2\.png.*Received: resize=None"):
        du.build_image_dataset_from_dir(root)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"resize": (0, 3)}, ValueError, r"positive ints\. Received: resize=\(0, 3\)"),
        ({"resize": 32}, ValueError, r"\(width, height\).*Received: resize=32"),
        ({"filetypes": 5}, TypeError, r"file extensions.*Received: filetypes=5"),
    ],
)
def test_build_image_dataset_from_dir_refuses_bad_arguments(tmp_path, kwargs, error, match):
    root = make_tree(tmp_path / "d", {"a": [("1.png", RED)]})
    with pytest.raises(error, match=match):
        du.build_image_dataset_from_dir(root, **kwargs)
