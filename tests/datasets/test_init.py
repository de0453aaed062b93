"""The package surface: lazy imports, __all__, docstrings, the shipped sample."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys

import pytest

import stackit.datasets


@pytest.mark.parametrize("name", stackit.datasets.__all__)
def test_public_names_import_and_have_docstrings(name):
    obj = getattr(stackit.datasets, name)
    assert obj.__doc__ and obj.__doc__.strip()
    if hasattr(obj, "load_data"):
        assert obj.load_data.__doc__


def test_import_is_cheap():
    code = (
        "import sys, stackit.datasets, stackit.datasets.mnist;"
        "print(sorted(m for m in ('pooch', 'PIL', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_sample_is_shipped_and_small():
    ref = importlib.resources.files("stackit.datasets").joinpath("mnist_sample.npz")
    assert ref.is_file()
    assert len(ref.read_bytes()) < 2_000_000


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'imagenet'"):
        stackit.datasets.imagenet  # noqa: B018
