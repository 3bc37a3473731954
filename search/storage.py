"""Where a study lives: an embedded SQLite file by default, any Optuna RDB URL otherwise."""

import importlib.util
import time
import urllib.parse
import warnings
from pathlib import Path

import numpy as np

from fer_estimator._extras import requires_install
from fer_estimator._redact import redact_urls

with requires_install("fer_estimator.search"):
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

from .options import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MAX_RETRY, default_storage_url


class StorageUnavailableError(ConnectionError):
    """The study storage cannot be opened (server unreachable, bad URL, missing driver); an
    ``OSError``, as the command line reports it (exit status 2)."""


_SCHEMA_RACE_ATTEMPTS = 5


def describe_storage(url):
    """Return ``url`` with any password hidden, for logs and reports.

    ``url`` may also be an Optuna storage object: an ``RDBStorage`` is described by its URL,
    another by its class name.
    """
    if isinstance(url, optuna.storages.BaseStorage):
        if not isinstance(getattr(url, "url", None), str):
            return f"a storage object ({type(url).__name__})"
        url = url.url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy can parse (a bad port...): hide it all the same
        return redact_urls(str(url))


def _with_installed_driver(url):
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; fall back to psycopg2 when only
    # that driver is installed, so the URL people usually write just works.
    parsed = make_url(url)
    if (parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None
            and importlib.util.find_spec("psycopg2") is not None):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _engine_kwargs(url):
    backend = url.get_backend_name()
    if backend == "sqlite":
        # Several worker processes share the file: wait for the lock instead of failing.
        return {"connect_args": {"timeout": 60}}
    if backend == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {"pool_pre_ping": True}


def heartbeat_interval_of(storage):
    """The heartbeat interval (seconds) of an opened ``storage``; None when it has none.

    Only a storage with heartbeats finds a dead worker's trial and fails it: without them, a
    trial left RUNNING stays so forever, and nobody must wait for it to finish.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage

    Returns
    -------
    int or None
    """
    get_interval = getattr(storage, "get_heartbeat_interval", None)  # optuna's BaseHeartbeat
    return get_interval() if callable(get_interval) else None


def _check_heartbeat_options(heartbeat_interval, grace_period, max_retry):
    # Optuna checks the first two only once the database is open, and its ValueError would
    # then read as a storage that cannot be opened.
    for name, value, minimum, kind in (("heartbeat_interval", heartbeat_interval, 1, "positive"),
                                       ("grace_period", grace_period, 1, "positive"),
                                       ("max_retry", max_retry, 0, "non-negative")):
        if value is None:
            continue
        if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                or value < minimum):
            raise ValueError(f"{name} must be None or a {kind} int, got {value!r}")


def _sqlite_file(url):
    """The file a SQLite URL opens, or None (in memory, or read-only: nothing to create).

    With ``?uri=true`` the database is a SQLite URI (``file:studies/x.db?mode=rwc``) whose
    path is its path part, not the whole string: a folder named ``file:`` must not appear.
    """
    database = url.database
    if database in (None, "", ":memory:"):
        return None
    if str(url.query.get("uri", "")).lower() not in ("true", "1"):
        return Path(database)
    uri = urllib.parse.urlsplit(database)
    modes = urllib.parse.parse_qs(uri.query).get("mode", []) + [
        str(mode) for mode in np.atleast_1d(url.query.get("mode", []))]
    path = urllib.parse.unquote(uri.path)
    if not path or path == ":memory:" or {"ro", "memory"} & set(modes):
        return None
    return Path(path)


def open_storage(storage=None, *, heartbeat_interval=DEFAULT_HEARTBEAT_INTERVAL,
                 grace_period=None, max_retry=DEFAULT_MAX_RETRY):
    """Open (and check) the storage of a study.

    Parameters
    ----------
    storage : str, optuna.storages.BaseStorage or None, default=None
        None: the embedded SQLite file of :func:`default_storage_url`. A str: any
        SQLAlchemy URL Optuna accepts (``sqlite:///path.db``,
        ``postgresql://user:password@host:5432/db``, ``mysql+pymysql://...``). A storage
        object is returned unchanged, with its own heartbeat settings: the three below,
        when not at their defaults, are ignored with a ``UserWarning``.
    heartbeat_interval : int or None, default=60
        Seconds between heartbeats of a running trial. A trial whose worker stopped
        beating for ``grace_period`` seconds is marked FAIL by the next worker and
        retried. None disables heartbeats (a killed worker's trial then stays RUNNING).
    grace_period : int or None, default=None
        Seconds without heartbeat before a trial counts as dead; None means
        ``2 * heartbeat_interval``.
    max_retry : int or None, default=2
        How often a dead worker's trial is retried (with the same parameters); None
        retries forever.

    Returns
    -------
    optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        A heartbeat option is out of range (checked before the database is touched).
    StorageUnavailableError
        The database cannot be reached or created; raised before any training starts.
    """
    _check_heartbeat_options(heartbeat_interval, grace_period, max_retry)
    if isinstance(storage, optuna.storages.BaseStorage):
        given = {name: value for name, value, default in (
            ("heartbeat_interval", heartbeat_interval, DEFAULT_HEARTBEAT_INTERVAL),
            ("grace_period", grace_period, None),
            ("max_retry", max_retry, DEFAULT_MAX_RETRY)) if value != default}
        if given:
            interval = heartbeat_interval_of(storage)
            warnings.warn(
                f"{' and '.join(f'{name}={value!r}' for name, value in given.items())} "
                f"{'is' if len(given) == 1 else 'are'} ignored: the storage is an Optuna "
                f"storage object, whose own settings apply (heartbeats "
                f"{'off' if interval is None else f'every {interval} s'}); pass a URL, or set "
                f"them on the storage (optuna.storages.RDBStorage(url, heartbeat_interval=..., "
                f"heartbeat_stale_trial_callback=...))", UserWarning, stacklevel=2)
        return storage
    url = default_storage_url() if storage is None else storage
    if not isinstance(url, str):
        raise TypeError(f"storage must be None, a URL string or an Optuna storage, got {url!r}")
    try:
        parsed = _with_installed_driver(url)
    except Exception as error:
        raise StorageUnavailableError(
            f"{describe_storage(url)!r} is not a storage URL ({redact_urls(error)}); write e.g. "
            f"sqlite:///studies/fer.db or postgresql://user:password@host:5432/dbname") from None
    database_file = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    if database_file is not None:
        database_file.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(_SCHEMA_RACE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                # Heartbeats have been "experimental" since Optuna 2.9; the warning is noise.
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(
                    parsed.render_as_string(hide_password=False),
                    engine_kwargs=_engine_kwargs(parsed),
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=max_retry),
                )
        except Exception as error:
            # Workers started together on a new database race to create its tables and stamp
            # its schema version: the losers see "already exists" or a duplicate key; by the
            # time they retry, the tables are there.
            racing = isinstance(error, DBAPIError) and any(
                sign in str(error) for sign in ("already exists", "duplicate key",
                                                "UNIQUE constraint failed"))
            if racing and attempt + 1 < _SCHEMA_RACE_ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise StorageUnavailableError(
                f"cannot open the Optuna storage {describe_storage(url)}: "
                f"{type(error).__name__}: {redact_urls(str(error).splitlines()[0])}") from error
