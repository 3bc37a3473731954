"""Layers that import what they use, and one way to register a subcommand.

``fer_estimator.faces`` and ``fer_estimator.serve`` load no Keras until a Keras model is read;
every subcommand is one entry of ``fer_estimator.cli.COMMANDS``; ``cli`` and ``search/cli``
do not import each other both ways.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fer_estimator.cli import COMMANDS, build_parser
from fer_estimator.cli_options import Command, as_command_line

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KERAS = ("keras", "tensorflow", "jax", "torch")


def test_the_face_and_serve_layers_load_no_keras_around_a_scikit_learn_model():
    # One interpreter for both checks: each start imports scikit-learn, OpenCV and pandas.
    code = f"""
import sys
loaded = lambda: sorted(name for name in {KERAS!r} if name in sys.modules)
import fer_estimator.faces
from fer_estimator.faces import FacePipeline, batch, detectors, media
import fer_estimator.serve, fer_estimator.serve.images, fer_estimator.serve.model
print("imports", loaded())

import numpy as np
from skimage.data import astronaut
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

crops = np.random.default_rng(0).integers(0, 256, (14, 48, 48), dtype=np.uint8)
flat = FunctionTransformer(lambda X: X.reshape(len(X), -1) / 255.0)
model = make_pipeline(flat, LogisticRegression(max_iter=20)).fit(crops, np.arange(14) % 7)
[faces] = FacePipeline(model).warm_up().predict(astronaut(), rgb=True)
assert len(faces) == 1, faces
print("pipeline", loaded())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=300, cwd=PROJECT_ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["imports []", "pipeline []"], result.stdout


def test_every_subcommand_is_one_command_entry():
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    assert list(subcommands) == [command.name for command in COMMANDS]
    assert len({command.name for command in COMMANDS}) == len(COMMANDS)
    for command in COMMANDS:
        assert isinstance(command, Command)
        assert subcommands[command.name].get_default("run") is command.run


def _imports(path):
    """The modules a source file imports, anywhere in it (functions too), as dotted names."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.update(f"{base}.{alias.name}" if not node.module else base
                         for alias in node.names)
    return names


def test_search_cli_does_not_import_the_command_line():
    imported = _imports(PROJECT_ROOT / "search" / "cli.py")
    assert not {name for name in imported if name in ("fer_estimator.cli", "..cli")}, imported
    assert "fer_estimator.cli_options" in imported


def test_serve_commands_do_not_import_the_command_line():
    imported = _imports(PROJECT_ROOT / "fer_estimator" / "serve" / "commands.py")
    assert "..cli" not in imported and "fer_estimator.cli" not in imported


def test_library_messages_name_parameters_and_the_cli_names_its_options():
    assert as_command_line("out=x.jpg names a file") == "--out x.jpg names a file"
    assert (as_command_line("raise the limit with max_pixels= if you trust it")
            == "raise the limit with --max-pixels if you trust it")
    assert as_command_line("layout=3 stays") == "layout=3 stays"


@pytest.mark.parametrize("module", ["faces/batch.py", "faces/media.py", "faces/pipeline.py",
                                    "faces/detectors.py", "serve/model.py", "serve/images.py"])
def test_library_error_messages_name_no_command_line_option(module):
    tree = ast.parse((PROJECT_ROOT / "fer_estimator" / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            text = ast.unparse(node.exc)
            assert " --" not in text and "'--" not in text and '"--' not in text, text


def test_the_scripts_spell_the_shared_options_as_the_command_line_does():
    options = {}
    for path in [*PROJECT_ROOT.glob("scripts/*.py"), *PROJECT_ROOT.glob("fer_estimator/**/*.py"),
                 *PROJECT_ROOT.glob("search/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"):
                        options.setdefault(arg.value, set()).add(path.name)
    # One spelling of the consent to unpickle a model, everywhere.
    assert [option for option in options if option.startswith("--trust")] == ["--trust-model"]
    assert "make_ensemble.py" not in options["--trust-model"]  # it uses cli_options' option
    assert "add_trust_model_option" in (PROJECT_ROOT / "scripts" / "make_ensemble.py").read_text()
