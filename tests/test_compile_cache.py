"""The persistent compilation cache: on by default in a user cache folder, the user's own
choice respected, off with STACKIT_COMPILATION_CACHE=0. Each case runs in a fresh interpreter
(the test session has its own cache folder, set before stackit is imported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_TRAIN = """
import jax, numpy as np, stackit
net = stackit.regression(stackit.fully_connected(stackit.input_data([None, 3]), 2,
                                                 activation='softmax'))
stackit.DNN(net, seed=0).fit(np.ones((8, 3), np.float32), np.eye(2)[[0, 1] * 4], n_epoch=1,
                             verbose=0)
print('CACHE', jax.config.jax_compilation_cache_dir)
"""


def _run(tmp_path: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("JAX_COMPILATION_CACHE_DIR", "STACKIT_COMPILATION_CACHE")}
    done = subprocess.run([sys.executable, "-c", _TRAIN], env=dict(clean, **env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout.split("CACHE ", 1)[1].strip()


def test_compiled_steps_are_cached_in_the_user_cache_folder(tmp_path):
    folder = tmp_path / "xdg" / "stackit" / "jax"
    assert _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg")) == str(folder)
    assert any(folder.iterdir())        # the train step was written for the next run


def test_the_users_folder_is_respected_and_zero_turns_the_cache_off(tmp_path):
    mine = tmp_path / "mine"
    assert _run(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine)) == str(mine)
    assert _run(tmp_path, STACKIT_COMPILATION_CACHE=str(tmp_path / "other")) == str(
        tmp_path / "other")
    assert _run(tmp_path, STACKIT_COMPILATION_CACHE="0",
                XDG_CACHE_HOME=str(tmp_path / "xdg")) == "None"
    assert not (tmp_path / "xdg").exists()
