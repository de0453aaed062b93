"""`python -m stackit script.py`: tflearn scripts run unedited through an import hook installed
for the run only, after a static scan (`--check`) of what stackit lacks and of TensorFlow uses.

The scripts here are written for these tests in tflearn's spelling; the end-to-end ones run in
a subprocess, as a user runs them.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackit import _noop, config
from stackit.runner import aliases, cli, installed, run_script, scan_source, tflearn_aliases

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def stackit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != config.MAX_EPOCHS_ENV}
    return subprocess.run([sys.executable, "-m", "stackit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


# -- end to end (subprocesses) -----------------------------------------------------------------
TRAIN = """\
    import os
    import sys

    import tflearn
    import tflearn.datasets.mnist as mnist
    from tflearn.layers.core import input_data, fully_connected, dropout
    from tflearn.layers.estimator import regression
    from tflearn.data_utils import *

    import helper  # next to the script: sys.path[0] is the script's folder

    here = os.path.dirname(__file__)
    print("name", __name__)
    print("argv", sys.argv[1:])
    print("beside", open(os.path.join(here, "beside.txt")).read().strip())
    print("cwd", open("in_cwd.txt").read().strip())
    print("helper", helper.VALUE)
    print("mnist", callable(mnist.load_data))

    tflearn.init_graph(seed=1)
    X = np.random.rand(48, 6).astype("float32")
    Y = to_categorical(np.random.randint(0, 3, 48), 3)
    net = input_data(shape=[None, 6])
    net = fully_connected(net, 8, activation="relu")
    net = dropout(net, 0.8)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    net = regression(net, optimizer="adam", loss="categorical_crossentropy")
    model = tflearn.DNN(net)
    history = model.fit(X, Y, n_epoch=50, batch_size=16, show_metric=True)
    print("epochs run", len(history.epoch))
"""


def test_runs_a_tflearn_script_unedited_as_python_would(tmp_path):
    script = write(tmp_path / "scripts" / "train.py", TRAIN)
    write(tmp_path / "scripts" / "helper.py", "VALUE = 42\n")
    write(tmp_path / "scripts" / "beside.txt", "next to the script\n")
    write(tmp_path / "work" / "in_cwd.txt", "in the working folder\n")
    done = stackit_cli("--epochs", "1", str(script), "a", "--flag", "3", cwd=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "name __main__" in out
    assert "argv ['a', '--flag', '3']" in out
    assert "beside next to the script" in out and "cwd in the working folder" in out
    assert "helper 42" in out and "mnist True" in out
    assert "epochs run 1" in out  # fit(n_epoch=50) capped by --epochs 1
    notices = [line for line in done.stderr.splitlines() if line.startswith("stackit: running")]
    assert len(notices) == 1 and "train.py" in notices[0] and "tflearn" in notices[0]


def test_import_stackit_alone_installs_no_hook(tmp_path):
    code = ("import stackit, stackit.runner, sys\n"
            "print(stackit.runner.installed())\n"
            "import tflearn\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout.strip() == "False"
    assert "ModuleNotFoundError: No module named 'tflearn'" in done.stderr


BAD = """\
    import tflearn
    import tensorflow.compat.v1 as tf
    from tflearn.layers.core import input_data, not_a_layer
    open("ran.txt", "w").close()
    net = input_data(shape=[None, 4])
    net = tflearn.fully_connected(net, 2, no_such_argument=3)
    loss = tf.reduce_mean(net)
    tflearn.summaries.monitor_activation(net)
    trainer = tflearn.Trainer(loss)
"""


def test_check_reports_every_gap_with_lines_and_the_run_stops(tmp_path):
    script = write(tmp_path / "bad.py", BAD)
    done = stackit_cli("--check", str(script), cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "line 3: tflearn.layers.core.not_a_layer" in out
    assert "line 6: tflearn.fully_connected(no_such_argument=)" in out
    assert "line 9: tflearn.Trainer" in out
    assert "line 2: import tensorflow.compat.v1 as tf" in out
    assert "line 7: loss = tf.reduce_mean(net)" in out
    assert "monitor_activation" not in out  # served, as a no-op
    assert not (tmp_path / "ran.txt").exists()

    done = stackit_cli(str(script), cwd=tmp_path)
    assert done.returncode == 1
    assert "line 3: tflearn.layers.core.not_a_layer" in done.stderr
    assert "not running" in done.stderr and "--force" in done.stderr
    assert not (tmp_path / "ran.txt").exists()


# -- the command line, in this process ---------------------------------------------------------
def test_check_of_a_clean_script_exits_0(tmp_path, capsys):
    script = write(tmp_path / "ok.py", "import tflearn\nnet = tflearn.input_data([None, 3])\n")
    assert cli.module_main(["--check", str(script)]) == 0
    assert "clean" in capsys.readouterr().out


def test_force_runs_despite_findings_and_exit_codes_pass_through(tmp_path, capsys):
    script = write(tmp_path / "f.py", """\
        import sys
        import tflearn
        if len(sys.argv) > 5:
            tflearn.not_there()
        sys.exit(int(sys.argv[1]))
    """)
    assert cli.module_main([str(script), "0"]) == 1  # refused: tflearn.not_there
    assert cli.module_main(["--force", str(script), "3"]) == 3
    assert cli.main(["run", "--force", str(script), "0"]) == 0  # the console script's spelling
    assert cli.main(["not-run"]) == 2
    assert cli.module_main([str(tmp_path / "missing.py")]) == 2
    assert "no script at" in capsys.readouterr().err


def test_an_uncaught_error_prints_the_traceback_from_the_script(tmp_path, capsys):
    script = write(tmp_path / "boom.py", "import tflearn\n\n\nraise ValueError('boom')\n")
    argv, path = list(sys.argv), list(sys.path)
    assert run_script(script, notice=False) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "ValueError: boom" in err
    assert f'"{script}", line 4' in err and "runpy" not in err
    assert (sys.argv, sys.path) == (argv, path) and not installed()


# -- the import hook ---------------------------------------------------------------------------
def test_hook_serves_stackit_modules_themselves_and_goes_away():
    import stackit.layers.core

    spec = stackit.layers.core.__spec__
    with tflearn_aliases():
        assert installed()
        import tflearn
        import tflearn.layers.core
        from tflearn.layers.core import fully_connected
        from tflearn.models.dnn import DNN

        assert tflearn.layers.core is stackit.layers.core
        assert stackit.layers.core.__spec__ is spec  # the alias does not rename the module
        assert fully_connected is stackit.fully_connected and DNN is stackit.DNN
        assert tflearn.objectives is stackit.losses
        assert tflearn.init_graph is stackit.init_graph
        star: dict = {}
        exec("from tflearn.data_utils import *", star)  # noqa: S102 - the script's statement
        assert star["np"].zeros(2).shape == (2,)  # tflearn's data_utils star also gave `np`
        assert star["to_categorical"] is stackit.data_utils.to_categorical
        with pytest.raises(ModuleNotFoundError, match="KMeans and RandomForest"):
            import tflearn.estimators  # noqa: F401
        assert tflearn.get_layer_by_name is stackit.get_layer_by_name  # re-exported
        with pytest.raises(AttributeError, match="tflearn.get_training_mode"):
            tflearn.get_training_mode()
    assert not installed()
    assert not [name for name in sys.modules if aliases.is_tflearn(name)]
    assert importlib.util.find_spec("tflearn") is None


def test_noops_log_once(caplog, monkeypatch):
    monkeypatch.setattr(_noop, "_SAID", set())
    with tflearn_aliases(), caplog.at_level(logging.WARNING, logger="stackit"):
        import tflearn

        tflearn.is_training(True)
        tflearn.is_training(False)
        tflearn.config.init_training_mode()
        tflearn.summaries.monitor_activation(None)
        tflearn.helpers.summarizer.summarize_activations([])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4 and all("does nothing" in m for m in messages)
    assert sum("tflearn.is_training()" in m for m in messages) == 1


def test_every_remapped_module_has_an_alias_module_parent():
    # The import system sets a child module on its parent: that must not write into stackit.
    for name in aliases.MODULES:
        parent = name.rpartition(".")[0]
        assert not parent or parent in aliases.EXTRAS or parent in aliases.REEXPORTS, name


# -- the scan ----------------------------------------------------------------------------------
def kinds_and_names(source: str) -> list[tuple[str, int, str]]:
    return [(f.kind, f.line, f.name) for f in scan_source(textwrap.dedent(source)).findings]


def test_scan_checks_methods_of_tflearn_objects_and_their_arguments():
    found = kinds_and_names("""\
        import tflearn
        net = tflearn.input_data(shape=[None, 4])
        model = tflearn.DNN(net, tensorboard_verbose=0)
        model.fit(net, net, n_epoch=2, snapshot_step=10, not_an_arg=1)
        model.session.as_default()
        model.trainer.training_state
        model.extra = 1
        tflearn.input_data([None, 4], 'float32', None, None, None, None, 'Input', 7)
    """)
    assert ("argument", 4, "model.fit(not_an_arg=)") in found
    assert ("missing", 6, "model.trainer") in found
    assert [f for f in found if f[1] in (5, 7)] == []
    assert [f for f in found if f[1] == 8 and "positional" in f[2]]


def test_scan_star_imports_functions_and_python2():
    found = kinds_and_names("""\
        from tflearn.data_utils import *
        X = np.zeros(3)
        Y = to_categorical(X, nb_classes=3)
        undefined_helper(X)
        net = tflearn_input(tf.float32)
        def f(model):
            return model.anything
    """)
    assert ("missing", 4, "undefined_helper") in found
    assert ("tensorflow", 5, "tf.float32") in found
    assert not [f for f in found if f[1] in (2, 3, 6, 7)]
    assert kinds_and_names("print 'hello'\n")[0][:2] == ("syntax", 1)


def test_scan_names_missing_modules_with_the_reason():
    report = scan_source("import tflearn\nfrom tflearn.estimators import KMeans\n"
                         "from tensorflow import keras\n")
    assert [(f.kind, f.line) for f in report.findings] == [("missing", 2), ("tensorflow", 3)]
    assert "KMeans and RandomForest" in report.findings[0].hint
    text = report.format()
    assert "line 2: tflearn.estimators" in text and "line 3: from tensorflow import keras" in text


# -- the epoch cap -----------------------------------------------------------------------------
def test_epoch_cap_and_the_environment_variable(monkeypatch):
    monkeypatch.delenv(config.MAX_EPOCHS_ENV, raising=False)
    assert config.capped_epochs(50) == 50
    with config.epoch_cap(2):
        assert config.capped_epochs(50) == 2 and config.capped_epochs(1) == 1
    monkeypatch.setenv(config.MAX_EPOCHS_ENV, "3")
    assert config.capped_epochs(50) == 3
    monkeypatch.setenv(config.MAX_EPOCHS_ENV, "three")
    with pytest.raises(ValueError, match="STACKIT_MAX_EPOCHS"):
        config.capped_epochs(50)
    with pytest.raises(ValueError, match="positive int"):
        with config.epoch_cap(0):
            pass


# -- the new tflearn module paths and the examples table ---------------------------------------
@pytest.mark.parametrize("name", ["stackit.summaries", "stackit.helpers",
                                  "stackit.helpers.summarizer", "stackit.runner"])
def test_new_module_paths_export_documented_names(name):
    module = importlib.import_module(name)
    for name in module.__all__:
        assert getattr(module, name).__doc__, name


def test_examples_table_tool(tmp_path, capsys):
    write(tmp_path / "examples" / "a" / "ok.py", "import tflearn\ntflearn.input_data([None, 2])\n")
    write(tmp_path / "examples" / "b.py", "import tensorflow as tf\ntf.constant(1)\n")
    spec = importlib.util.spec_from_file_location("run_tflearn_examples",
                                                  TOOLS / "run_tflearn_examples.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(tmp_path), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| a/ok.py | clean |  |" in out
    assert "| b.py | tensorflow | TensorFlow on 2 lines |" in out


def test_examples_tool_run_statuses(tmp_path):
    spec = importlib.util.spec_from_file_location("run_tflearn_examples",
                                                  TOOLS / "run_tflearn_examples.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    report = scan_source("import tensorflow as tf\nimport tflearn\n"
                         "x = tf.reduce_mean(tflearn.input_data([None, 2]))\n"
                         "t = tflearn.TrainOp(x)\n")
    state, reason = tool.not_run_status(report)
    assert state == "needs TensorFlow and a missing API"
    assert "`tflearn.TrainOp`" in reason and "`tf.reduce_mean`" in reason
    ok = tool.Run(0, 12.3, "x.py:3: UserWarning: ... returns STAND-IN DATA ...", "")
    assert tool.run_status("a.py", ok) == ("runs on stand-in data",
                                          "12 s in all, each fit capped at 1 epoch")
    assert tool.run_status("a.py", tool.Run(0, 2.0, "", ""))[0] == "runs"
    assert tool.run_status("a.py", tool.Run(None, 300.0, "", "Epoch 1/1 | step 3 |\n")) == \
        ("too slow here", "stopped at the 300 s limit after 1 epoch of training, on CPU")
    missing = "NameError: name 'your_dataset' is not defined"
    assert tool.run_status("basics/finetuning.py", tool.Run(1, 3.0, missing, ""))[0] == \
        "needs your data"
    assert tool.run_status("basics/finetuning.py", tool.Run(1, 3.0, "Other: x", "")) == \
        ("fails", "Other: x")  # not the known cause: reported as it is
    assert tool.run_status("a.py", tool.Run(1, 3.0, "Traceback\nValueError: bad", "")) == \
        ("fails", "ValueError: bad")
