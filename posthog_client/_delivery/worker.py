"""``Pipeline``: the ``Delivery`` clients use. A queue, a retry policy, a backend, one worker.

Modelled on OpenTelemetry's BatchProcessor: a daemon thread named ``posthog_client.worker``,
started by the first ``submit`` or ``flush`` (never at import, never at exit), sleeps on a wake
``Event`` and sends when ``flush_at`` events wait or ``flush_interval_s`` has passed.

**The gate.** After a failed attempt no attempt is made before ``_not_before``: the backoff or
the server's ``Retry-After`` (``RetryPolicy.retry_delay``). After ``max_retries`` failed retries
the batch stays queued and sending pauses for a cool-down (60 s, doubling up to 30 min) with one
probe after each (decision A10). The gate holds whoever drives the send: the worker, ``flush``
(which waits for it within its timeout, or returns at once when the gate outlasts the timeout)
and ``sync_mode`` callers. Only ``shutdown`` cuts a wait short: then the events stay on disk for
the next run. ``flush`` and ``shutdown`` are bounded by their timeout, also when the server
hangs: the worker is a daemon and is waited for with a bounded join. With ``threaded=False``
(``sync_mode``) every ``submit`` delivers on the caller's thread before returning.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .._config import Options
from .._fork_safety import fork_flag
from .._log import logger, warn_once
from .backend import Backend
from .contract import FlushResult
from .queue import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Counters, EventQueue
from .report import Reporter
from .retry import MAX_PAUSE_S, BatchOutcome, RetryPolicy

if TYPE_CHECKING:
    from .._events.encoding import SharedProperties

__all__ = ["Pipeline"]

COOLDOWN_MIN_S: Final = 60.0
COOLDOWN_MAX_S: Final = MAX_PAUSE_S
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
        self._policy = RetryPolicy(options.max_retries, backoff_s=backoff_s)
        error_dir = options.project_dir if options.persist else None  # for `status`
        self._reporter = Reporter(options.on_error, counters, error_dir)
        self._send = self._reporter.observe(backend)  # backend.send, logged at DEBUG
        self._init_runtime()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=functools.partial(_call_alive, ref))

    def _init_runtime(self) -> None:
        # Reads 0 in a forked child, also one forked without Python's hooks (uwsgi, C
        # extensions), for a fifth of what os.getpid() costs on each submit.
        self._same_process = fork_flag()
        self._same_process[0] = 1
        # Events a per-event answer finished behind one that waits: the queue forgets only a
        # batch's leading finished events, so these are skipped until the prefix reaches them.
        self._finished_ahead: set[bytes] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()  # set by shutdown: the one thing that cuts a wait short
        self._progress = threading.Condition(threading.Lock())
        self._send_lock = threading.Lock()  # one delivery loop at a time (sync mode callers)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._worker_ended = False
        self._stopping = False
        self._deadline: float | None = None  # shutdown's
        self._flushers = 0  # flush calls waiting for the worker
        self._finished = 0  # events delivered or dropped after being queued
        self._not_before = 0.0  # the gate (time.monotonic())
        self._failures = 0  # consecutive failed attempts
        self._paused = False
        self._cooldown_s = COOLDOWN_MIN_S
        self._logged_errors: set[str] = set()
        self._until_check = 1  # submits before the next look at the queue's length

    # -- caller side ---------------------------------------------------------------------------

    def submit(self, event: bytes, shared: SharedProperties | None = None) -> bool:
        # The event comes from encoding.encode_event: compact JSON never holds a raw newline,
        # so it cannot break the queue's line framing (and a reader skips any line that is not
        # a whole event).
        if not self._same_process[0]:
            self._after_fork_in_child()
        size = len(event) if shared is None else len(event) + len(shared.members) + 1
        if size > MAX_EVENT_BYTES:
            self._counters.drop("oversize")
            warn_once("oversize", "event of %d bytes dropped: over %d", size, MAX_EVENT_BYTES)
            return False
        if self._stopping:
            self._counters.drop("shutdown")
            return False
        if not self._queue.put(event, shared):
            return False
        if not self._threaded:
            self._deliver_inline(time.monotonic() + self._flush_timeout_s)
        elif self._thread is None:
            self._start_worker()
        else:
            # Counting the queue costs more than the rest of submit: count it only when it may
            # have reached flush_at (a lost decrement between threads only delays the check).
            left = self._until_check - 1
            self._until_check = left
            if left <= 0:
                self._check_wake()
        return True

    def _check_wake(self) -> None:
        """Wake the worker if ``flush_at`` events wait; plan the next check."""
        pending = self._queue.pending()
        if pending < self._flush_at:
            self._until_check = self._flush_at - pending
            return
        self._until_check = self._flush_at  # during an outage, not on every event
        if not self._wake.is_set() and time.monotonic() >= self._not_before:
            self._wake.set()

    def flush(self, timeout_s: float | None) -> FlushResult:
        """Deliver everything queued in the storage, earlier runs' events included."""
        if not self._same_process[0]:
            self._after_fork_in_child()
        if self._stopping:
            return FlushResult(pending=self._queue.pending())
        self._queue.maintain(rescan=True)
        if self._queue.pending() == 0:
            return FlushResult()
        timeout = self._flush_timeout_s if timeout_s is None else timeout_s
        return self._drain(time.monotonic() + max(timeout, 0.0), stop=False)

    def shutdown(self, timeout_s: float | None) -> FlushResult:
        if not self._same_process[0]:
            self._after_fork_in_child()
        with self._progress:
            if self._stopping:  # idempotent
                return FlushResult(pending=self._queue.pending())
            self._stopping = True
        timeout = self._shutdown_timeout_s if timeout_s is None else timeout_s
        self._deadline = deadline = time.monotonic() + max(timeout, 0.0)
        self._stop.set()
        if self._thread is not None:
            return self._drain(deadline, stop=True)  # the worker closes up when it ends
        pending = not self._threaded and self._queue.pending()  # sync mode delivers here
        result = self._drain(deadline, stop=True) if pending else FlushResult()
        self._close_resources()
        return result

    def purge(self) -> int:
        if not self._same_process[0]:
            self._after_fork_in_child()
        self._finished_ahead = set()
        purged = self._queue.purge()
        self._counters.add("purged", purged)
        return purged

    def stats(self) -> dict[str, int]:
        return {**self._counters.snapshot(), "pending": self._queue.pending()}

    def _drain(self, deadline: float, *, stop: bool) -> FlushResult:
        sent, dropped = self._counters.get("sent"), self._counters.dropped()
        if not self._threaded:
            self._deliver_inline(deadline)
        else:
            self._wait_for_worker(deadline, stop)
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
            self._flushers += 1
            target = self._finished + self._queue.pending()
        self._wake.set()
        try:
            with self._progress:
                self._progress.wait_for(
                    lambda: (
                        self._finished >= target
                        or self._queue.pending() == 0  # also counts lines skipped or trimmed
                        or self._not_before > deadline  # the gate outlasts the caller's budget
                        or self._worker_ended
                    ),
                    timeout=max(deadline - time.monotonic(), 0.0),
                )
        finally:
            with self._progress:
                self._flushers -= 1
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
        self._cycle(due=False)  # adopt what earlier runs left behind
        while True:
            gate = self._not_before - time.monotonic()
            if gate > 0 and not self._stopping:  # a wake only makes it look at the gate again
                self._wake.wait(min(gate, self._interval_s))  # housekeeping meanwhile
                self._wake.clear()
                due = time.monotonic() >= self._not_before
            else:
                woken = self._wake.wait(self._interval_s)
                self._wake.clear()
                due = not woken or self._flushers > 0
            stopping = self._stopping
            self._cycle(due=due or stopping)
            if stopping:
                break
        try:
            self._close_resources()
        except Exception as exc:
            self._log_error(exc)
        finally:
            with self._progress:
                self._worker_ended = True  # waiters must not wait for it any more
                self._progress.notify_all()

    def _cycle(self, *, due: bool) -> None:
        """Housekeeping, then deliver if due or if ``flush_at`` events wait."""
        try:
            self._queue.maintain()
            if due or self._queue.pending() >= self._flush_at:
                with self._send_lock:
                    self._pump(self._deadline if self._stopping else None)
            self._reporter.recorded(None, self._queue.pending())  # drops while nothing is sent
        except Exception as exc:  # the worker must survive anything; say so once per kind
            self._log_error(exc)
        with self._progress:
            self._progress.notify_all()

    def _deliver_inline(self, deadline: float) -> None:
        if not self._send_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            return  # another caller is delivering; our event is queued behind its batch
        try:
            self._queue.maintain()
            self._pump(deadline if self._deadline is None else min(deadline, self._deadline))
        except Exception as exc:
            self._log_error(exc)
        finally:
            self._send_lock.release()

    def _pump(self, deadline: float | None) -> None:
        """Send batches until the queue is empty, the gate closes past ``deadline`` (None: the
        worker, which waits for the gate in its own loop), or time is up."""
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if now < self._not_before:
                if deadline is None or self._not_before > deadline or self._stopping:
                    return
                if self._stop.wait(self._not_before - now):
                    return
                continue
            batch = self._queue.next_batch(self._max_batch, MAX_BATCH_BYTES)
            if batch is None:
                return
            events, ahead = batch.events, self._finished_ahead
            todo = [i for i, event in enumerate(events) if event not in ahead]
            outcome = self._policy.attempt(self._send, [events[i] for i in todo])
            finished = [event in ahead for event in events]
            for position, index in enumerate(todo):
                finished[index] = outcome.finished[position]
            prefix = finished.index(False) if False in finished else len(events)
            self._queue.ack(batch, prefix)
            self._finished_ahead = {events[i] for i in range(prefix, len(events)) if finished[i]}
            self._record(outcome)

    def _record(self, outcome: BatchOutcome) -> None:
        self._counters.add("sent", outcome.sent)
        for reason, count in outcome.dropped.items():
            self._counters.drop(reason, count)
            warn_once(f"dropped-{reason}", "%d events dropped: %s", count, outcome.rejection)
        wait = 0.0
        paused_s: float | None = None
        if outcome.failure is None:
            if self._paused:
                logger.info("sending resumed")
            self._failures, self._paused, self._cooldown_s = 0, False, COOLDOWN_MIN_S
        else:
            self._failures += 1
            if self._failures <= self._policy.max_retries:
                wait = self._policy.retry_delay(self._failures, outcome.retry_after_s)
                self._counters.add("retried")
            else:
                wait = min(max(self._cooldown_s, outcome.retry_after_s or 0.0), MAX_PAUSE_S)
                if not self._paused:
                    logger.warning(
                        "sending paused for %.0f s after %d failed attempts: %s; %d events "
                        "stay queued",
                        wait,
                        self._failures,
                        outcome.failure,
                        self._queue.pending(),
                    )
                self._paused = True
                paused_s = wait
                self._failures = self._policy.max_retries  # after the pause: one probe
                self._cooldown_s = min(self._cooldown_s * 2, COOLDOWN_MAX_S)
        with self._progress:
            self._not_before = time.monotonic() + wait
            self._finished += outcome.done
            self._progress.notify_all()
        self._reporter.recorded(outcome, self._queue.pending(), paused_s)

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
        self._init_runtime()
