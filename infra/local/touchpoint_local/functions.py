"""Load the handlers named in template.yaml and call them the way Lambda does: each loaded copy of a
module is one execution environment and serves one event at a time; a small pool gives concurrency."""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .template import FunctionSpec


def load_module(path: Path, name: str) -> ModuleType:
    """``path`` imported as a new module called ``name``: a fresh copy with its own globals, as one
    Lambda execution environment has (a cold start). It is registered in ``sys.modules`` while it
    lives, and dropped again when importing it fails."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# Powertools' HTTP resolvers keep the request being handled in class attributes (BaseRouter.current_event
# and .lambda_context), which every copy of every handler module shares in this one process; on AWS each
# execution environment is its own process. Keeping those two attributes per thread gives each
# invocation its own, as separate processes would, so invocations can run concurrently.
_per_thread = threading.local()
_routers_isolated = False


def isolate_powertools_routers() -> None:
    global _routers_isolated
    if _routers_isolated:
        return
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    def per_thread(name: str) -> property:
        def get(_owner: object) -> Any:
            try:
                return getattr(_per_thread, name)
            except AttributeError:
                raise AttributeError(name) from None

        def set_(_owner: object, value: Any) -> None:
            setattr(_per_thread, name, value)

        return property(get, set_)

    names = ("current_event", "lambda_context")
    for name in names:  # read through an instance (self.current_event)
        setattr(BaseRouter, name, per_thread(name))
    # ... and through the class (BaseRouter.current_event = ...): a metaclass property catches those.
    metaclass = type("PerThreadRouterMeta", (type(BaseRouter),), {name: per_thread(name) for name in names})
    BaseRouter.__class__ = metaclass
    _routers_isolated = True


# On moto the local stack still runs one invocation at a time: moto's services are not thread-safe
# beyond DynamoDB's request lock. DynamoDB Local, like DynamoDB, takes concurrent requests.
_INVOCATION_LOCK = threading.Lock()


class LocalFunction:
    def __init__(self, spec: FunctionSpec, physical_name: str, region: str, pool_size: int = 4,
                 serialize: bool = True) -> None:
        isolate_powertools_routers()
        self.spec = spec
        self.serialize = serialize
        self.name = physical_name
        self.arn = f"arn:aws:lambda:{region}:123456789012:function:{physical_name}"
        self._pool: queue.Queue[Any] = queue.Queue()
        self._pool_size = pool_size
        self._loaded = 0

    def _load(self) -> Any:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        module = load_module(path, f"_touchpoint_local_{self.spec.logical_id}_{self._loaded}")
        self._loaded += 1
        return getattr(module, attribute)

    def warm(self) -> None:
        """Load one environment now, so import errors surface at start-up."""
        self._pool.put(self._load())

    def invoke(self, event: dict[str, Any]) -> Any:
        try:
            handler = self._pool.get_nowait()
        except queue.Empty:
            handler = self._load() if self._loaded < self._pool_size else self._pool.get()
        try:
            context = LambdaContext(self.name, self.spec.memory, self.arn, str(uuid.uuid4()), self.spec.timeout)
            if not self.serialize:
                return handler(event, context)
            with _INVOCATION_LOCK:
                return handler(event, context)
        finally:
            self._pool.put(handler)
