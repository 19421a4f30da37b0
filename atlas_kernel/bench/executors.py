"""Where benchmark jobs run, all behind `concurrent.futures.Executor`:

  local   worker processes (`ProcessPoolExecutor`, spawn start method so no llama.cpp or
          sandbox state is forked); each runs `initializer` once - it loads its own model - and
          dies with its parent, so a killed run leaves no orphans decoding.
  ray     one Ray actor per model replica (`num_gpus` per actor when the cluster has GPUs);
          jobs go to idle actors, results come back as ordinary futures. Uses a running Ray
          (`ray.init` done by the caller) or starts a local one and shuts it down at the end.
  inline  one thread in the calling process, for a model object already in memory (the Python
          API with `model=<Model>`, and tests with `ScriptedModel`).

`submit(fn, *args)` runs `fn(*args)` in a process where the initializer has run; the harness
submits `worker.run_job`. Results stream back to the caller, which alone writes the log.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable

from atlas_kernel.errors import AtlasError, MissingDependencyError

EXECUTORS = ("local", "ray", "inline")


def local_executor(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)


class InlineExecutor(ThreadPoolExecutor):
    """One worker thread in this process; the initializer runs in it before the first job."""

    def __init__(self, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()):
        super().__init__(max_workers=1, thread_name_prefix="atlas-bench", initializer=initializer, initargs=initargs)


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "The Ray executor (--executor ray)", "pip install ray  (or: pip install 'atlas_kernel[ray]')") from None
    return ray


class _RayReplica:
    """Actor body: holds one model replica, runs jobs one at a time."""

    def __init__(self, initializer: Callable[..., None], initargs: tuple[Any, ...]):
        initializer(*initargs)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def ready(self) -> int:
        return os.getpid()


class RayExecutor(Executor):
    """Ray actors behind the Executor interface; results delivered as `concurrent.futures.Future`s."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = (), *,
                 ray_init: dict[str, Any] | None = None, num_gpus: float | None = None):
        ray = _ray()
        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            # a private local cluster: no dashboard, quiet logs; it is shut down with this executor
            kw = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            kw.update(ray_init or {})
            ray.init(**kw)
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        if num_gpus is None:
            num_gpus = min(1.0, gpus / workers) if gpus > 0 else 0.0
        self.num_gpus = num_gpus
        self.workers = workers
        # more replicas than CPUs would leave actors unschedulable (and the start below waiting forever)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        actor_cls = ray.remote(num_cpus=min(1.0, cpus / workers), num_gpus=num_gpus or 0, max_restarts=0)(_RayReplica)
        self._actors = [actor_cls.remote(initializer, initargs) for _ in range(workers)]
        try:  # surface a failed model load now, as one error, instead of once per job
            ray.get([a.ready.remote() for a in self._actors])
        except Exception as exc:  # noqa: BLE001 - any actor start failure
            for a in self._actors:
                ray.kill(a)
            if self._owns_ray:
                ray.shutdown()
            cause = _unwrap(exc)
            if isinstance(cause, AtlasError):
                raise cause from None
            raise AtlasError(f"Ray workers could not start: {str(exc).strip().splitlines()[-1]}") from None
        self._idle: collections.deque = collections.deque(self._actors)
        self._queue: collections.deque = collections.deque()  # (future, fn, args) waiting for an idle actor
        self._running: dict[Any, tuple[Future, Any]] = {}  # object ref -> (future, actor)
        self._lock = threading.Condition()
        self._shutdown = False
        self._pump = threading.Thread(target=self._loop, name="atlas-ray-pump", daemon=True)
        self._pump.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if kwargs:
            raise TypeError("RayExecutor.submit takes positional arguments only")
        fut: Future = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            self._queue.append((fut, fn, args))
            self._dispatch()
            self._lock.notify_all()
        return fut

    def _dispatch(self) -> None:  # under the lock
        while self._idle and self._queue:
            fut, fn, args = self._queue.popleft()
            if not fut.set_running_or_notify_cancel():
                continue
            actor = self._idle.popleft()
            self._running[actor.call.remote(fn, *args)] = (fut, actor)

    def _loop(self) -> None:
        ray = self._ray
        while True:
            with self._lock:
                while not self._running and not self._shutdown:
                    self._lock.wait(0.5)
                if self._shutdown and not self._running:
                    return
                refs = list(self._running)
            try:
                done, _ = ray.wait(refs, num_returns=1, timeout=0.5)
            except Exception as exc:  # noqa: BLE001 - Ray went away (shut down while interrupted)
                with self._lock:
                    for fut, _ in self._running.values():
                        if not fut.done():
                            fut.set_exception(RuntimeError(f"Ray stopped: {exc}"))
                    self._running.clear()
                return
            for ref in done:
                with self._lock:
                    fut, actor = self._running.pop(ref)
                alive = True
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # the replica died (killed, out of memory)
                    alive = False
                    fut.set_exception(exc)
                except Exception as exc:  # noqa: BLE001 - the job's own error goes to its future
                    fut.set_exception(_unwrap(exc))
                else:
                    fut.set_result(result)
                with self._lock:
                    if alive:
                        self._idle.append(actor)
                    else:
                        self._actors.remove(actor)
                        if not self._actors:  # nothing left to run the queue: fail it instead of hanging
                            while self._queue:
                                self._queue.popleft()[0].set_exception(RuntimeError("every Ray worker died"))
                    self._dispatch()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[0].cancel()
            self._shutdown = True
            self._lock.notify_all()
        if wait:
            while True:
                with self._lock:
                    if not self._queue and not self._running:
                        break
                self._pump.join(timeout=0.2)
        for fut, _, _ in list(self._queue):
            fut.cancel()
        self._queue.clear()
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - already dead
                pass
        self._actors.clear()
        if self._owns_ray:
            self._ray.shutdown()


def _unwrap(exc: BaseException) -> BaseException:
    """Ray wraps a task's exception; hand back the original when Ray kept it."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def make_executor(kind: str, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> Executor:
    if workers < 1:
        raise AtlasError(f"--workers must be at least 1, got {workers}")
    if kind == "local":
        return local_executor(workers, initializer, initargs)
    if kind == "ray":
        return RayExecutor(workers, initializer, initargs)
    if kind == "inline":
        if workers != 1:
            raise AtlasError("the in-process executor runs one worker (a model object is not shared between threads)")
        return InlineExecutor(initializer, initargs)
    raise AtlasError(f"unknown executor {kind!r} — use local (worker processes) or ray")
