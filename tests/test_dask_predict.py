"""Batch inference on a Dask cluster (``predict --dask``, ``predict_batch(client=...)``): the
outputs of a local run, per-file failures, workers that die, and the setup errors.

One cluster of two worker processes on 127.0.0.1 serves the module. Its scheduler gives up on
a task after 2 worker deaths instead of Dask's 4, which keeps the worker-death test short.
"""

import json
import operator
import os
import socket
import sys

import cv2
import joblib
import numpy as np
import pytest
from skimage import data
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_estimator import FacePipeline
from fer_estimator.cli import main
from fer_estimator.faces.batch import predict_batch

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

ALLOWED_FAILURES = 1  # a task is given up after ALLOWED_FAILURES + 1 worker deaths
CRASH_WIDTH = 333  # the test detector ends its worker process on images of this width


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """The commands here load no Keras model: silencing TensorFlow's logs would import it."""
    monkeypatch.setattr("fer_estimator.cli.silence_native_logs", lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           host="127.0.0.1", dashboard_address=None)
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Inputs of every kind: two folders holding a file of the same name, a PNG, a video of
    three frames and a broken JPEG."""
    root = tmp_path_factory.mktemp("photos")
    (root / "a").mkdir()
    (root / "b").mkdir()
    astronaut = data.astronaut()[:, :, ::-1]
    cv2.imwrite(str(root / "a" / "face.jpg"), astronaut)
    cv2.imwrite(str(root / "a" / "small.png"), astronaut[::2, ::2])
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    writer = cv2.VideoWriter(str(root / "a" / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (320, 320))
    for shift in range(3):
        writer.write(np.roll(cv2.resize(astronaut, (320, 320)), 20 * shift, axis=1))
    writer.release()
    cv2.imwrite(str(root / "b" / "face.jpg"), astronaut[:, ::-1])
    return root


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A joblib file of a logistic regression on flattened crops: probabilities that vary from
    face to face, loaded from its path on each worker, without Keras."""
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (70, 48, 48), dtype=np.uint8)
    flatten = FunctionTransformer(operator.methodcaller("reshape", -1, 48 * 48))
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    joblib.dump(make_pipeline(flatten, LogisticRegression(max_iter=200)).fit(
        crops, np.arange(70) % 7), path)
    return path


def _tree(folder):
    """Every file below ``folder``: relative path -> bytes."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_cluster_run_writes_what_a_local_run_writes(cluster, photos, model_file, tmp_path,
                                                      capsys):
    captured = {}
    for run, options in [("local", []), ("dask", ["--dask", cluster.scheduler_address])]:
        status = main(["predict", str(photos / "a"), str(photos / "b" / "face.jpg"),
                       "--model", str(model_file), "--trust-model",
                       "--out", str(tmp_path / run), "--json", str(tmp_path / f"{run}.json"),
                       "--csv", str(tmp_path / f"{run}.csv"), *options])
        assert status == 1, run  # the broken JPEG is skipped
        captured[run] = capsys.readouterr()
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert _tree(tmp_path / "dask") == _tree(tmp_path / "local")
    assert sorted(_tree(tmp_path / "local")) == [
        "a/clip_frame000000.jpg", "a/clip_frame000001.jpg", "a/clip_frame000002.jpg",
        "a/face.jpg", "a/small.png", "b/face.jpg"]
    images = json.loads((tmp_path / "dask.json").read_text())["images"]
    assert [(image["image"], image["frame"]) for image in images] == [
        (str(photos / "a" / "clip.avi"), frame) for frame in range(3)] + [
        (str(photos / "a" / "face.jpg"), None), (str(photos / "a" / "small.png"), None),
        (str(photos / "b" / "face.jpg"), None)]
    # The same lines, printed as the files finish.
    lines = {run: sorted(output.out.splitlines()) for run, output in captured.items()}
    assert lines["dask"] == lines["local"] and len(lines["local"]) == 6
    skipped = f"skipped {photos / 'a' / 'broken.jpg'}: not a readable image"
    assert skipped in captured["local"].err and skipped in captured["dask"].err


def _write_images(folder, widths):
    """A PNG of each width (64 pixels high), named by its position and width."""
    folder.mkdir()
    paths = []
    for number, width in enumerate(widths):
        path = folder / f"{number}-{width}.png"
        cv2.imwrite(str(path), np.full((64, width, 3), 30 * number % 256, np.uint8))
        paths.append(path)
    return paths


@pytest.fixture
def box_detector():
    """A detector finding one face in the top-left corner, which ends its worker process on an
    image CRASH_WIDTH wide, as a native library's crash would."""
    # Defined in here, it reaches the workers by value: they cannot import a test module.
    def detect(bgr):
        if bgr.shape[1] == CRASH_WIDTH:
            os._exit(1)
        return np.array([[4, 4, 40, 40]])
    return detect


def _dummy_model():
    return DummyClassifier().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))


def _results(pipeline, sources, tmp_path, name, **options):
    """The JSON of a batch run, its count of skipped inputs and the messages it logged."""
    messages = []
    skipped = predict_batch(pipeline, sources, json_path=tmp_path / f"{name}.json",
                            log=messages.append, show=lambda line: None, **options)
    return json.loads((tmp_path / f"{name}.json").read_text()), skipped, messages


def test_a_file_that_kills_its_workers_is_skipped_and_no_other_is_lost(client, tmp_path,
                                                                      box_detector):
    crash, *good = _write_images(tmp_path / "in", [CRASH_WIDTH, 64, 80, 96, 112])
    pipeline = FacePipeline(_dummy_model(), detector=box_detector)
    on_cluster, skipped, messages = _results(pipeline, [crash, *good], tmp_path, "dask",
                                             client=client)
    assert skipped == 1 and len(messages) == 1
    assert messages[0].startswith(f"skipped {crash}: {ALLOWED_FAILURES + 1} Dask workers died "
                                  f"while reading it (the last: tcp://127.0.0.1:")
    local, _, _ = _results(pipeline, good, tmp_path, "local")
    assert on_cluster == local and len(local["images"]) == len(good)
    client.wait_for_workers(2, timeout=60)  # the nannies restart the dead workers


def test_each_worker_loads_the_pipeline_once(client, tmp_path, box_detector):
    loads = tmp_path / "loads.txt"

    # Defined in here, it reaches the workers by value; each unpickling is a load.
    class RecordedLoads(DummyClassifier):
        def __setstate__(self, state):
            with open(loads, "a") as file:
                file.write(f"{os.getpid()}\n")
            super().__setstate__(state)

    model = RecordedLoads().fit(np.zeros((7, 48, 48), np.uint8), list(range(7)))
    sources = _write_images(tmp_path / "in", [48 + 8 * number for number in range(8)])
    on_cluster, skipped, _ = _results(FacePipeline(model, detector=box_detector), sources,
                                      tmp_path, "dask", client=client)
    assert skipped == 0 and len(on_cluster["images"]) == len(sources)
    workers = client.run(os.getpid)
    assert sorted(loads.read_text().split()) == sorted(str(pid) for pid in workers.values())


def test_ctrl_c_saves_what_finished_and_leaves_the_cluster_clean(client, tmp_path,
                                                                 box_detector):
    sources = _write_images(tmp_path / "in", [64, 80, 96, 112])
    shown = []

    def interrupt_at_the_second(line):
        shown.append(line)
        if len(shown) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_batch(FacePipeline(_dummy_model(), detector=box_detector), sources,
                      client=client, json_path=tmp_path / "r.json", show=interrupt_at_the_second)
    assert len(json.loads((tmp_path / "r.json").read_text())["images"]) == 2
    plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert not [name for names in plugins.values() for name in names
                if name.startswith("fer-estimator")]


def test_without_dask_the_option_names_the_extra_to_install(tmp_path, capsys, monkeypatch):
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    monkeypatch.delitem(sys.modules, "fer_estimator.faces.distributed", raising=False)
    assert main(["predict", str(photo), "--dask", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "fer-estimator[dask]"' in err


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("address, options, message", [
    ("tcp://127.0.0.1:{port}", [], "no Dask scheduler answered at tcp://127.0.0.1:{port} "
                                   "within 1 s"),
    ("scheduler-without-port", [], "'scheduler-without-port' is not a Dask scheduler address"),
    ("tcp://127.0.0.1:{port}", ["--demo"], "--demo runs on this machine, not on Dask workers"),
], ids=["unreachable", "malformed", "demo"])
def test_a_wrong_address_stops_before_the_model_loads(address, options, message, tmp_path,
                                                      capsys, monkeypatch):
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setattr("fer_estimator.faces.distributed.CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(FacePipeline, "warm_up", _never_called)
    port = _free_port()
    assert main(["predict", str(photo), *options,
                 "--dask", address.format(port=port)]) == 2
    err = capsys.readouterr().err
    assert message.format(port=port) in err and err.count("\n") == 1


def _never_called(*args, **kwargs):
    raise AssertionError("the model was loaded")


def test_a_worker_that_could_not_load_the_model_stops_the_run(monkeypatch):
    from types import SimpleNamespace

    from fer_estimator.faces import distributed

    class Broken:
        def warm_up(self):
            raise FileNotFoundError("no model file at /models/x.fer.zip")

    plugin = distributed._PipelinePlugin(Broken())
    worker = SimpleNamespace(address="tcp://10.0.0.9:4000", plugins={plugin.name: plugin},
                             state=SimpleNamespace(nthreads=1))
    monkeypatch.setattr(distributed, "set_session_threads", lambda threads: None)
    with pytest.raises(FileNotFoundError):
        plugin.setup(worker)
    # Dask keeps the plugin of a worker that joined later: its tasks must not run.
    monkeypatch.setattr(distributed, "get_worker", lambda: worker)
    with pytest.raises(OSError, match=r"tcp://10\.0\.0\.9:4000 could not load the model: "
                                      r"FileNotFoundError: no model file"):
        distributed._run_task(plugin.name, lambda pipeline, item: "ran", "photo.jpg")
