"""``Pipeline``: the ``Delivery`` clients use. A queue, a retry policy, a backend, one worker.

Modelled on OpenTelemetry's BatchProcessor: a daemon thread named ``posthog_client.worker``,
started by the first ``submit`` (never at import, never at exit), sleeps on a wake ``Event`` and
sends when ``flush_at`` events wait or ``flush_interval_s`` has passed. ``flush`` and ``shutdown``
are bounded by their timeout, also when the server hangs: the worker is a daemon and is waited
for with a bounded join. After ``max_retries`` failed attempts the batch stays queued and sending
pauses for a cool-down (60 s, doubling up to 30 min) (decision A10); at shutdown each batch
gets one more attempt and no retry. With ``threaded=False``
(``sync_mode``) every ``submit`` delivers on the caller's thread before returning.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Final

from .._config import Options
from .._log import logger, warn_once
from .backend import Backend
from .contract import FlushResult
from .queue import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Counters, EventQueue
from .report import Reporter
from .retry import BatchOutcome, RetryPolicy

__all__ = ["Pipeline"]

COOLDOWN_MIN_S: Final = 60.0
COOLDOWN_MAX_S: Final = 30 * 60.0
THREAD_NAME: Final = "posthog_client.worker"


def _call_alive(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is not None:
        method()


class Pipeline:
    """Queue → batches → ``RetryPolicy`` → ``Backend``; see the module docstring."""

    def __init__(
        self,
        options: Options,
        queue: EventQueue,
        backend: Backend,
        counters: Counters,
        *,
        threaded: bool = True,
        backoff_s: float = 1.0,
    ) -> None:
        self._queue = queue
        self._backend = backend
        self._counters = counters
        self._threaded = threaded
        self._flush_at = options.flush_at
        self._interval_s = options.flush_interval_s
        self._max_batch = options.max_batch_size
        self._flush_timeout_s = options.timeout_s
        self._shutdown_timeout_s = options.shutdown_timeout_s
        self._policy = RetryPolicy(options.max_retries, self._retry_deadline, backoff_s=backoff_s)
        error_dir = options.project_dir if options.persist else None  # for `status`
        self._reporter = Reporter(options.on_error, counters, error_dir)
        self._send = self._reporter.observe(backend)  # backend.send, logged at DEBUG
        self._init_runtime()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=functools.partial(_call_alive, ref))

    def _init_runtime(self) -> None:
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._progress = threading.Condition(threading.Lock())
        self._send_lock = threading.Lock()  # one delivery loop at a time (sync mode callers)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deadline: float | None = None  # set while a flush/shutdown waits
        self._waiters = 0
        self._flush_requests = self._flush_served = 0
        self._finished = 0  # events delivered or dropped after being queued
        self._paused_until = 0.0
        self._cooldown_s = COOLDOWN_MIN_S
        self._logged_errors: set[str] = set()

    # -- caller side ---------------------------------------------------------------------------

    def submit(self, event: bytes) -> bool:
        if self._pid != os.getpid():  # forked without Python's hooks (uwsgi, C extensions)
            self._after_fork_in_child()
        if len(event) > MAX_EVENT_BYTES:
            self._counters.drop("oversize")
            warn_once("oversize", "event of %d bytes dropped: over %d", len(event), MAX_EVENT_BYTES)
            return False
        if self._stopping:
            self._counters.drop("shutdown")
            return False
        if b"\n" in event:  # lines frame the queue; outside strings a newline is just whitespace
            event = event.replace(b"\n", b" ")
        if not self._queue.put(event):
            return False
        if not self._threaded:
            self._deliver_inline(time.monotonic() + self._flush_timeout_s, force=False)
        elif self._thread is None:
            self._start_worker()
        elif (
            self._queue.pending() >= self._flush_at
            and not self._paused_until
            and not self._wake.is_set()
        ):
            self._wake.set()
        return True

    def flush(self, timeout_s: float | None) -> FlushResult:
        if self._pid != os.getpid():
            self._after_fork_in_child()
        if self._queue.pending() == 0 and not self._stopping:
            self._queue.maintain()  # before anything was captured: adopt earlier runs' events
        if self._queue.pending() == 0 or self._stopping:
            return FlushResult(pending=self._queue.pending())
        return self._drain(self._flush_timeout_s if timeout_s is None else timeout_s, stop=False)

    def shutdown(self, timeout_s: float | None) -> FlushResult:
        if self._pid != os.getpid():
            self._after_fork_in_child()
        with self._progress:
            if self._stopping:  # idempotent
                return FlushResult(pending=self._queue.pending())
            self._stopping = True
        timeout = self._shutdown_timeout_s if timeout_s is None else timeout_s
        if self._thread is not None:
            return self._drain(timeout, stop=True)  # the worker closes up when it ends
        pending = not self._threaded and self._queue.pending()  # sync mode delivers here
        result = self._drain(timeout, stop=True) if pending else FlushResult()
        self._close_resources()
        return result

    def purge(self) -> int:
        if self._pid != os.getpid():
            self._after_fork_in_child()
        purged = self._queue.purge()
        self._counters.add("purged", purged)
        return purged

    def stats(self) -> dict[str, int]:
        return {**self._counters.snapshot(), "pending": self._queue.pending()}

    def _drain(self, timeout_s: float, *, stop: bool) -> FlushResult:
        sent, dropped = self._counters.get("sent"), self._counters.dropped()
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._progress:
            self._waiters += 1
            self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)
        try:
            if not self._threaded:
                self._deliver_inline(deadline, force=not stop)
            else:
                self._wait_for_worker(deadline, stop)
        finally:
            with self._progress:
                self._waiters -= 1
                if not self._waiters and not stop:
                    self._deadline = None
        return FlushResult(
            sent=self._counters.get("sent") - sent,
            pending=self._queue.pending(),
            dropped=self._counters.dropped() - dropped,
        )

    def _wait_for_worker(self, deadline: float, stop: bool) -> None:
        if self._thread is None and not stop:  # never start a thread at exit (3.12 forbids it)
            self._start_worker()
        thread = self._thread
        if thread is None:  # could not start (interpreter exiting): events stay queued
            return
        with self._progress:
            self._flush_requests += 1
            request = self._flush_requests
            target = self._finished + self._queue.pending()
        self._policy.interrupt()
        self._wake.set()
        with self._progress:
            self._progress.wait_for(
                lambda: self._flush_served >= request or self._finished >= target,
                timeout=max(deadline - time.monotonic(), 0.0),
            )
        if stop:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:  # "can't create new thread at interpreter shutdown"
                warn_once("no-worker", "cannot start the delivery worker (%s): events wait", exc)
                return
            self._thread = thread

    # -- delivery ------------------------------------------------------------------------------

    def _run(self) -> None:
        self._cycle(force=False, due=False)  # adopt what earlier runs left behind
        while True:
            timed_out = not self._wake.wait(self._interval_s)
            self._wake.clear()
            with self._progress:
                request, stopping = self._flush_requests, self._stopping
            forced = stopping or request != self._flush_served
            self._cycle(forced, due=timed_out or forced)
            with self._progress:
                self._flush_served = request
                self._progress.notify_all()
            if stopping:
                break
        try:
            self._close_resources()
        except Exception as exc:
            self._log_error(exc)

    def _cycle(self, force: bool, *, due: bool) -> None:
        """Housekeeping, then deliver if due or if ``flush_at`` events wait."""
        try:
            self._queue.maintain()
            if due or self._queue.pending() >= self._flush_at:
                self._pump(force)
            self._reporter.recorded(None, self._queue.pending())  # drops while nothing is sent
        except Exception as exc:  # the worker must survive anything; say so once per kind
            self._log_error(exc)

    def _deliver_inline(self, deadline: float, *, force: bool) -> None:
        if not self._send_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            return  # another caller is delivering; our event is queued behind its batch
        try:
            self._deadline = deadline if self._deadline is None else self._deadline
            self._queue.maintain()
            self._pump_locked(force)
        except Exception as exc:
            self._log_error(exc)
        finally:
            if not self._waiters:
                self._deadline = None
            self._send_lock.release()

    def _pump(self, force: bool) -> None:
        with self._send_lock:
            self._pump_locked(force)

    def _pump_locked(self, force: bool) -> None:
        """Send batches until the queue is empty, sending is paused, or time is up."""
        while True:
            now = time.monotonic()
            deadline = self._deadline
            if (not force and now < self._paused_until) or (
                deadline is not None and now >= deadline
            ):
                return
            batch = self._queue.next_batch(self._max_batch, MAX_BATCH_BYTES)
            if batch is None:
                return
            outcome = self._policy.deliver(self._send, batch.events)
            self._queue.ack(batch, outcome.done)
            self._record(outcome)
            if outcome.done < len(batch.events):
                return
            force = False  # one forced attempt is enough to see whether the server is back

    def _retry_deadline(self) -> float | None:
        # Shutting down, a failed attempt is not retried: the events wait on disk for the next
        # run, and exit stays fast with the network down.
        return 0.0 if self._stopping else self._deadline

    def _record(self, outcome: BatchOutcome) -> None:
        self._counters.add("sent", outcome.sent)
        self._counters.add("retried", outcome.retries)
        for reason, count in outcome.dropped.items():
            self._counters.drop(reason, count)
            warn_once(f"dropped-{reason}", "%d events dropped: %s", count, outcome.rejection)
        if outcome.sent and self._paused_until:
            logger.info("sending resumed")
            self._paused_until, self._cooldown_s = 0.0, COOLDOWN_MIN_S
        if outcome.pause_s is not None:
            pause = max(self._cooldown_s, outcome.pause_s)
            if not self._paused_until:
                logger.warning(
                    "sending paused for %.0f s: %s; %d events stay queued",
                    pause,
                    outcome.failure,
                    self._queue.pending(),
                )
            self._paused_until = time.monotonic() + pause
            self._cooldown_s = min(self._cooldown_s * 2, COOLDOWN_MAX_S)
        with self._progress:
            self._finished += outcome.done
            self._progress.notify_all()
        self._reporter.recorded(outcome, self._queue.pending())

    def _log_error(self, exc: Exception) -> None:
        kind = type(exc).__name__
        if kind not in self._logged_errors:
            self._logged_errors.add(kind)
            logger.error("posthog_client delivery error", exc_info=exc)

    def _close_resources(self) -> None:
        try:
            self._queue.close()
        finally:
            self._backend.close()

    def _after_fork_in_child(self) -> None:
        # No logging here: a logging lock may be held by a thread that does not exist any more.
        self._queue.reset_after_fork()
        self._counters.reset()
        self._policy.reset_after_fork()
        self._init_runtime()
