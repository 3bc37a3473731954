"""Running a batch's per-input work on a Dask cluster, each worker process holding one loaded
copy of the :class:`~fer_estimator.faces.FacePipeline` (:class:`PipelineOnWorkers`).

The pipeline reaches the workers once, as a worker plugin: the scheduler hands it to every
worker, those that join later included, and each warms it up (loads the model, builds the
detector) before its first task; the tasks carry only their input. Results come back as they
finish. A worker that dies has its task run again elsewhere; a task whose workers keep dying
(more than the scheduler's ``distributed.scheduler.allowed-failures``, 3 by default) comes back
as :class:`WorkersDied`, without stopping the others. Nothing is retried on other errors: the
work reports its inputs' own failures itself, and anything else is a bug that would recur.

Needs Dask's distributed scheduler: ``pip install "fer-estimator[dask]"``.
"""

import threading
import time
import uuid
from concurrent.futures import CancelledError

try:
    from distributed import Client, KilledWorker, WorkerPlugin, as_completed, get_worker
except ImportError as error:
    raise ImportError('running on a Dask cluster needs Dask\'s distributed scheduler: pip '
                      'install "fer-estimator[dask]"') from error

from ..runtime import set_session_threads

# Seconds between asking the scheduler how many worker threads there are (workers come and go).
THREADS_REFRESH_S = 1.0
# Seconds to wait for a scheduler to answer before saying that none is there.
CONNECT_TIMEOUT_S = 10


class WorkersDied(Exception):
    """Every Dask worker that ran a task died while running it (Dask's ``KilledWorker``): the
    input most likely crashes the process (a native library's fault, or too much memory)."""


def connect(address, *, timeout=None):
    """A :class:`distributed.Client` of the scheduler at ``address`` (``tcp://host:8786``).

    It is not made Dask's default client: close it (or use it in a ``with`` block) when done.
    ``timeout`` (seconds) defaults to :data:`CONNECT_TIMEOUT_S`.

    Raises
    ------
    ValueError
        ``address`` is not an address (no port, an unknown scheme).
    OSError
        No scheduler answered at ``address`` within ``timeout`` seconds.
    """
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except ValueError as error:
        raise ValueError(f"{address!r} is not a Dask scheduler address such as "
                         f"tcp://host:8786 ({error})") from None
    except OSError as error:
        raise OSError(f"no Dask scheduler answered at {address} within {timeout} s "
                      f"({error})") from None


class PipelineOnWorkers:
    """A pipeline loaded once in each worker process of a Dask cluster, in a ``with`` block.

    ``with PipelineOnWorkers(client, pipeline) as workers:`` hands the pipeline to every
    worker (and to those that join later), each warming it up before its first task;
    :meth:`map` then runs work on it. Leaving the block cancels the tasks still running and
    takes the pipeline off the workers.

    Parameters
    ----------
    client : distributed.Client
    pipeline : FacePipeline
        Pickled once (a model given as a path is small, and loaded from that path on each
        worker). A worker runs its tasks one at a time (a pipeline's OpenCV detector is not
        safe to share between threads): start workers with one thread each, and as many
        processes as cores.

    Raises
    ------
    ValueError
        On entering: a worker could not warm the pipeline up (its model or detector file
        missing there, a model that cannot classify face crops...).
    """

    def __init__(self, client, pipeline):
        self.client = client
        self._plugin = _PipelinePlugin(pipeline)
        self._running = {}  # future -> the index of its item
        self._thread_count, self._threads_asked_at = 1, -THREADS_REFRESH_S

    def __enter__(self):
        try:
            self.client.register_plugin(self._plugin)
        except Exception as error:
            raise ValueError(f"a Dask worker could not load the face pipeline: "
                             f"{type(error).__name__}: {error}") from error
        return self

    def __exit__(self, *exception):
        self.client.cancel(list(self._running))
        self._running.clear()
        self.client.unregister_worker_plugin(self._plugin.name)

    def map(self, work, items, *args):
        """Run ``work(pipeline, item, *args)`` for every item on the workers; yield
        ``(index, result, None)``, or ``(index, None, WorkersDied)``, as each task finishes.

        Parameters
        ----------
        work : callable
            A module-level function (the workers import it by name); what it raises, other
            than its worker dying, stops the run and is raised here.
        items : sequence
            The inputs, one task each, sent as they are: a path must name the same file on
            the workers (a shared filesystem).
        *args
            Passed to every call of ``work``.

        Raises
        ------
        ConnectionError
            The scheduler dropped the run (it stopped, or the connection to it was lost).

        Notes
        -----
        At most one task per worker thread is submitted at a time, the next one as each
        finishes: a worker that dies then takes only the task it was running with it (Dask
        counts a death against every task a worker holds), and finished results do not pile
        up on the cluster.
        """
        pending = iter(enumerate(items))
        finished = as_completed(loop=self.client.loop)
        self._submit(work, args, pending, finished)
        for future in finished:
            index = self._running.pop(future)
            try:
                result, lost = future.result(), None
            except KilledWorker as error:
                result, lost = None, WorkersDied(
                    f"{error.allowed_failures + 1} Dask workers died while reading it (the "
                    f"last: {error.last_worker.address}); their logs say why")
            except CancelledError as error:
                raise ConnectionError(
                    f"the Dask scheduler {self.client.scheduler.address} dropped the run "
                    f"({type(error).__name__}: {error})") from error
            self._submit(work, args, pending, finished)
            yield index, result, lost

    def _submit(self, work, args, pending, finished):
        """Submit tasks of ``pending`` until one per worker thread is running."""
        while len(self._running) < self._threads():
            index, item = next(pending, (None, None))
            if index is None:
                return
            future = self.client.submit(_run_task, self._plugin.name, work, item, *args,
                                        key=f"{self._plugin.name}-{index}")
            self._running[future] = index
            finished.add(future)


    def _threads(self):
        """The cluster's worker threads, asked of the scheduler at most once a second (a
        synchronous call: once per finished file would pace a run of small photos)."""
        now = time.monotonic()
        if now - self._threads_asked_at >= THREADS_REFRESH_S:
            self._thread_count = max(sum(self.client.nthreads().values()), 1)
            self._threads_asked_at = now
        return self._thread_count


def _run_task(plugin_name, work, item, *args):
    """On a worker: ``work`` on this process's copy of the pipeline."""
    worker = get_worker()
    plugin = worker.plugins[plugin_name]
    if plugin.failure is not None:
        # A setup error (exit status 2 on the command line), not this input's.
        raise OSError(f"the Dask worker {worker.address} could not load the model: "
                      f"{type(plugin.failure).__name__}: {plugin.failure}") from plugin.failure
    with plugin.lock:
        return work(plugin.pipeline, item, *args)


class _PipelinePlugin(WorkerPlugin):
    """One warmed-up copy of a pipeline in each worker process, for the length of one run."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        # One name per run: a later run, whatever its pipeline, never finds a stale model.
        self.name = f"fer-estimator-pipeline-{uuid.uuid4().hex}"

    def setup(self, worker):
        # Made here, on the worker: a lock cannot be pickled.
        self.lock = threading.Lock()
        self.failure = None
        # onnxruntime takes every core by default: as many threads as this worker has instead.
        set_session_threads(worker.state.nthreads)
        try:
            self.pipeline.warm_up()
        except Exception as error:
            # Dask keeps a plugin whose setup failed: a worker that joined later and cannot
            # load the model must stop the run (see _run_task), not skip every file it gets.
            self.failure = error
            raise
