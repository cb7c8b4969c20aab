"""A warm pool of template clones, made ahead by a background thread.

``CREATE DATABASE ... TEMPLATE`` and ``DROP DATABASE`` cost tens of milliseconds (more on a
busy or slow disk). :class:`ClonePool` keeps ``size`` fresh clones of a template ready, made by
one daemon thread on its own maintenance connection, so a test takes one in microseconds and
hands its used database back to be dropped by the same thread; the idea is IntegreSQL's.

Guarantees:

- every clone is created from the template by the pool and handed out at most once; a name is
  never reused (``<prefix>_<n>`` with a counter), and a returned database only ever goes to the
  drop queue, so no test gets a database another test used;
- :meth:`ClonePool.close` stops the thread and drops every clone the pool made and did not see
  dropped: ready ones, returned ones, and ones handed out and never returned (a test that was
  interrupted). Pools still open when the interpreter exits (``KeyboardInterrupt`` at top level,
  ``sys.exit``) are closed by an ``atexit`` hook, registered when the first pool starts (not at
  import). A process killed by a signal leaves its clones behind: they are ordinary databases
  named ``<prefix>_<n>``.

PostgreSQL 18's ``CREATE DATABASE ... STRATEGY`` is passed through (``WAL_LOG``, the default,
or ``FILE_COPY``); docs/isolation-snapshot.md says which one seedkit uses and why.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from collections import deque

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from seedkit.errors import IsolationError
from seedkit.stores.postgres import normalize_url, with_database
from seedkit.stores.postgres_admin import PostgresAdmin, check_database_name
from seedkit.stores.safety import check_destructive

__all__ = ["ClonePool"]

_OPEN: weakref.WeakSet[ClonePool] = weakref.WeakSet()
_HOOKED = False
_POLL_S = 0.5  # how often a waiting caller wakes up (keeps it interruptible on every platform)


def _close_open_pools() -> None:
    """The ``atexit`` hook: close every pool still open (each drops its clones)."""
    for pool in list(_OPEN):
        with contextlib.suppress(Exception):  # at exit, close the others whatever one raised
            pool.close()


class ClonePool:
    """``size`` ready clones of ``template`` named ``<prefix>_<n>``, made ahead in the background.

    Args:
        server_url: the server's maintenance database URL (CREATE/DROP DATABASE run there).
        template: the template database to clone (nothing may be connected to it).
        prefix: clone names are ``<prefix>_<n>``, n = 1, 2, ... (checked: letters, digits, ``_``).
        size: how many clones to keep ready (at least 1).
        clone_strategy: ``CREATE DATABASE``'s ``STRATEGY`` (``WAL_LOG`` or ``FILE_COPY``), or None
            for the server's default.
        allow_unsafe: lift the safety guard for the drops.

    Raises:
        IsolationError: a bad name or size (at construction), or, from :meth:`take`, the error that
            stopped the background thread (e.g. the template is missing or in use).
        UnsafeTargetError: the safety guard refuses to drop clones on this server (at construction).
    """

    def __init__(
        self,
        server_url: str,
        template: str,
        prefix: str,
        *,
        size: int = 2,
        clone_strategy: str | None = None,
        allow_unsafe: bool = False,
    ) -> None:
        if size < 1:
            raise IsolationError(f"a clone pool needs a size of at least 1, got {size}")
        if clone_strategy is not None and clone_strategy.upper() not in {"WAL_LOG", "FILE_COPY"}:
            raise IsolationError(f"clone strategy must be WAL_LOG or FILE_COPY, got {clone_strategy!r}")
        self.server_url = normalize_url(server_url)
        self.template = check_database_name(template)
        self.prefix = check_database_name(prefix)
        self.size = size
        self.clone_strategy = clone_strategy.upper() if clone_strategy else None
        self.allow_unsafe = allow_unsafe
        check_destructive(
            with_database(self.server_url, self.prefix),
            action="drop test clones on",
            allow_unsafe=allow_unsafe,
        )
        self._lock = threading.Condition()
        self._ready: deque[str] = deque()
        self._to_drop: deque[str] = deque()
        self._out: set[str] = set()  # handed out, not returned yet
        self._busy = False  # the thread is creating or dropping a database
        self._count = 0
        self._stopping = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    # -- the caller's side -------------------------------------------------------------------
    def start(self) -> ClonePool:
        """Start the background thread (once); returns the pool."""
        global _HOOKED
        with self._lock:
            if self._thread is not None or self._stopping:
                return self
            self._thread = threading.Thread(
                target=self._run, name=f"seedkit-clones-{self.prefix}", daemon=True
            )
            _OPEN.add(self)
            if not _HOOKED:
                atexit.register(_close_open_pools)
                _HOOKED = True
        self._thread.start()
        return self

    def take(self) -> str:
        """The name of a fresh clone, never handed out before; waits while none is ready.

        Raises:
            IsolationError: the pool is closed, or the background thread failed (its message).
        """
        self.start()
        with self._lock:
            while not self._ready:
                self._raise_if_broken()
                self._lock.wait(_POLL_S)
            name = self._ready[0]
            self._out.add(name)  # before it leaves the ready queue: an interrupt here loses nothing
            self._ready.popleft()
            self._lock.notify_all()  # room for one more
            return name

    def give_back(self, name: str) -> None:
        """Return a clone :meth:`take` handed out; the background thread drops it.

        Raises:
            IsolationError: ``name`` is not a clone this pool handed out (or it was returned already).
        """
        with self._lock:
            if name not in self._out:
                raise IsolationError(
                    f"database {name!r} was not handed out by the clone pool {self.prefix!r}"
                )
            self._out.discard(name)
            if not self._closed:  # the thread, or close(), drops it
                self._to_drop.append(name)
                self._lock.notify_all()
                return
        with PostgresAdmin.connect(self.server_url) as admin:  # returned after close()
            admin.drop(name, allow_unsafe=self.allow_unsafe)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until ``size`` clones are ready and every returned one is dropped; False on timeout."""
        self.start()
        with self._lock:
            return self._lock.wait_for(
                lambda: (
                    self._error is not None
                    or (len(self._ready) >= self.size and not self._to_drop and not self._busy)
                ),
                timeout,
            ) and (self._error is None)

    @property
    def ready(self) -> int:
        """How many clones are ready now."""
        with self._lock:
            return len(self._ready)

    def close(self) -> None:
        """Stop the thread and drop every clone this pool made that is not dropped yet (idempotent)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._closed = True
            leftover = [*self._ready, *self._to_drop, *sorted(self._out)]
            self._ready.clear()
            self._to_drop.clear()
            self._out.clear()
        _OPEN.discard(self)
        if leftover:
            with PostgresAdmin.connect(self.server_url) as admin:
                for name in leftover:
                    admin.drop(name, allow_unsafe=self.allow_unsafe)

    # -- the background thread ---------------------------------------------------------------
    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise IsolationError(f"the clone pool {self.prefix!r} stopped: {self._error}") from self._error
        if self._stopping:
            raise IsolationError(f"the clone pool {self.prefix!r} is closed")

    def _next_job(self) -> tuple[str, str] | None:
        """Wait for work: ("create", name) while the pool is short, else ("drop", name); None to stop."""
        with self._lock:
            while True:
                if self._stopping:
                    return None
                if len(self._ready) < self.size:  # a test may be waiting: creating comes first
                    self._count += 1
                    self._busy = True
                    return "create", f"{self.prefix}_{self._count}"
                if self._to_drop:
                    self._busy = True
                    return "drop", self._to_drop[0]
                self._lock.notify_all()  # idle: wake wait_idle()
                self._lock.wait(_POLL_S)

    def _run(self) -> None:
        engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                admin = PostgresAdmin(conn, self.server_url)
                while (job := self._next_job()) is not None:
                    action, name = job
                    if action == "create":
                        try:
                            admin.create(
                                check_database_name(name),
                                template=self.template,
                                strategy=self.clone_strategy,
                            )
                        finally:
                            with self._lock:
                                self._busy = False
                        with self._lock:
                            self._ready.append(name)
                            self._lock.notify_all()
                    else:
                        try:
                            admin.drop(name, allow_unsafe=self.allow_unsafe)
                        finally:
                            with self._lock:
                                self._busy = False
                                self._lock.notify_all()
                        with self._lock:  # only now: a drop that failed is retried by close()
                            self._to_drop.popleft()
        except BaseException as exc:  # reported to the test that takes the next clone
            with self._lock:
                self._error = exc
                self._busy = False
                self._lock.notify_all()
        finally:
            engine.dispose()
