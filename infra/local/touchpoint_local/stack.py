"""The local stack: a moto server on loopback, the resources of template.yaml created in it, and the
template's HTTP API routes served in-process by the real handlers."""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .functions import LocalFunction
from .gateway import Gateway, LocalRoute, make_server
from .provision import provision
from .streams import StreamPump
from .template import StackModel, read_stack

REGION = "us-east-1"
LOCAL_PARAMETERS = {"LogLevel": "WARNING"}  # keep the console readable; --param LogLevel=INFO to see logs


def project_root(start: Path | None = None) -> Path:
    """The folder holding template.yaml: the current one or a parent, else this checkout's root."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "template.yaml").is_file():
        return checkout
    raise FileNotFoundError("template.yaml not found: run touchpoint from the project folder")


def load_local_secrets(root: Path) -> dict[str, Any]:
    return json.loads((root / "infra" / "local" / "secrets.json").read_text("utf-8"))


class LocalStack:
    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 3000,
                 preset: str | None = None, parameters: dict[str, str] | None = None, pool_size: int = 4,
                 access_log: Callable[[str], None] | None = None, aws_port: int = 0,
                 pump_interval: float = 1.0, embedded: bool = False, dynamodb: str = "moto",
                 dynamodb_endpoint: str | None = None) -> None:
        """``dynamodb``: "moto" (embedded with the other services) or "local" (start DynamoDB Local in
        memory); ``dynamodb_endpoint``: a DynamoDB already running (DynamoDB Local in Docker or as a jar)."""
        if dynamodb not in ("moto", "local"):
            raise ValueError(f"dynamodb must be moto or local, not {dynamodb!r}")
        self.root = root or project_root()
        self.host, self.port = host, port
        self.secrets = load_local_secrets(self.root)
        overrides = {**LOCAL_PARAMETERS, **(parameters or {})}
        if preset:
            overrides["CatalogPreset"] = preset
        # On an endpoint someone else runs, tables of an earlier stack may be there: name this stack's
        # resources afresh, as each CloudFormation stack does, so it starts empty and clobbers nothing.
        stack_name = f"touchpoint-local-{secrets.token_hex(3)}" if dynamodb_endpoint else "touchpoint-local"
        self.model: StackModel = read_stack(self.root / "template.yaml", overrides, region=REGION,
                                            stack_name=stack_name)
        self.dynamodb_backend = "endpoint" if dynamodb_endpoint else dynamodb
        self.dynamodb_endpoint = (dynamodb_endpoint or "").rstrip("/")
        self._dynamodb_local: Any = None
        self.pool_size = pool_size
        self.aws_port = aws_port
        self.pump_interval = pump_interval
        self.embedded = embedded
        self.pumps: list[StreamPump] = []
        self.access_log = access_log
        self.resources: dict[str, str] = {}
        self.functions: dict[str, LocalFunction] = {}
        self._moto: Any = None
        self._mock: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.aws_endpoint = ""
        self._events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._pump_gate = threading.Lock()  # one background round at a time; pause_pump waits for it
        self._pump_paused = False

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> LocalStack:
        import logging

        from moto.server import ThreadedMotoServer

        from . import moto_speedups

        if self.dynamodb_backend == "local":  # first: a missing Java or jar stops the start before anything runs
            from .dynamodb_local import DynamoDBLocal

            self._dynamodb_local = DynamoDBLocal().start()
            self.dynamodb_endpoint = self._dynamodb_local.endpoint
        elif self.dynamodb_backend == "endpoint":
            from .dynamodb_local import check_endpoint

            check_endpoint(self.dynamodb_endpoint)
        moto_speedups.apply()
        if self.embedded:
            # `touchpoint demo`: moto patched into this process's boto3, no AWS HTTP hop at all.
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()
            self.aws_endpoint = "embedded"
        else:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
            self._moto.start()
            moto_host, moto_port = self._moto.get_host_and_port()
            self.aws_endpoint = f"http://{moto_host}:{moto_port}"
        self._configure_environment()
        import boto3

        session = boto3.session.Session(region_name=REGION)
        self.resources = provision(self.model, session, self.secrets, self.model.parameters.get("SenderAddress"))
        for logical_id, spec in self.model.functions.items():
            function = LocalFunction(spec, self.model.physical_names[logical_id], REGION, self.pool_size,
                                     serialize=self.dynamodb_backend == "moto")
            function.warm()
            self.functions[logical_id] = function
        self.pumps = self._stream_pumps(session)
        self.gateway = Gateway(self.model.routes, self.functions, self.secrets["admin_api_key"], self._local_routes())
        self._server = make_server(self.gateway, self.host, self.port, access_log=self.access_log)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="touchpoint-gateway", daemon=True)
        self._thread.start()
        if self.pump_interval:
            threading.Thread(target=self._pump_forever, name="touchpoint-stream-pump", daemon=True).start()
        return self

    def _stream_pumps(self, session: Any) -> list[StreamPump]:
        """One pump per DynamoDB event source of the template's functions."""
        pumps = []
        for logical_id, spec in self.model.functions.items():
            for source in spec.stream_sources:
                stream = source["Stream"]
                table_logical_id = stream["Fn::GetAtt"][0] if isinstance(stream["Fn::GetAtt"], list) \
                    else stream["Fn::GetAtt"].split(".")[0]
                table = session.client("dynamodb").describe_table(TableName=self.resources[table_logical_id])
                pumps.append(StreamPump(
                    function=self.functions[logical_id], stream_arn=table["Table"]["LatestStreamArn"],
                    session=session, batch_size=int(source.get("BatchSize", 100)),
                    batching_window=float(source.get("MaximumBatchingWindowInSeconds", 0)),
                    max_retries=int(source.get("MaximumRetryAttempts", 5)),
                    report_failures="ReportBatchItemFailures" in (source.get("FunctionResponseTypes") or []),
                    bisect_on_error=bool(source.get("BisectBatchOnFunctionError", False)),
                ))
        return pumps

    def drain(self) -> int:
        """Pump every pending stream record through its function, until nothing is pending (the
        aggregator's own writes make new records, e.g. alerts)."""
        total = 0
        for _ in range(50):
            delivered = sum(pump.drain() for pump in self.pumps)
            total += delivered
            if not delivered:
                return total
        return total

    def _pump_forever(self) -> None:
        while self._server is not None:
            with self._pump_gate:
                if not self._pump_paused:
                    try:
                        for pump in self.pumps:
                            pump.poll()  # full batches now, smaller ones once their batching window has passed
                    except Exception as exc:  # keep pumping; the next drain retries from the same place
                        print(f"stream pump: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            time.sleep(self.pump_interval)

    def pause_pump(self, paused: bool) -> dict[str, Any]:
        """Hold the background pump (after the round under way) or let it go again, so a test can
        count the table's items with nothing writing behind its back. ``/_local/drain`` still works."""
        with self._pump_gate:
            self._pump_paused = paused
        return {"paused": paused}

    def _pump_route(self, query: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            paused = json.loads(body or b"{}").get("paused")
        except (ValueError, AttributeError):
            paused = None
        if not isinstance(paused, bool):
            error = {"error": {"code": "invalid_request", "message": 'Send {"paused": true} or {"paused": false}',
                               "field": "paused"}}
            return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(self.pause_pump(paused)).encode()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()
            self._dynamodb_local = None
        if self.dynamodb_endpoint:
            for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
                os.environ.pop(variable, None)  # later clients of this process (tests) go to moto again

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def table_names(self) -> list[str]:
        return [name for lid, name in self.resources.items()
                if self.model.resources[lid]["Type"] == "AWS::DynamoDB::Table"]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _configure_environment(self) -> None:
        """Point every AWS client of this process (the handlers') at moto, with throwaway credentials,
        and give the handlers the environment the template declares for them."""
        if self.embedded:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        os.environ.update({
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105 - moto accepts any credentials
            "POWERTOOLS_METRICS_NAMESPACE": "TouchpointLocal",
            "POWERTOOLS_TRACE_DISABLED": "true",
        })
        os.environ.pop("AWS_PROFILE", None)
        for variable in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
            # botocore's service-specific endpoints: DynamoDB and its stream go there, the rest to moto.
            if self.dynamodb_endpoint:
                os.environ[variable] = self.dynamodb_endpoint
            else:
                os.environ.pop(variable, None)
        merged: dict[str, str] = {}
        for spec in self.model.functions.values():
            for key, value in spec.environment.items():
                if key == "AWS_ENDPOINT_URL":
                    continue  # the template leaves it empty for AWS; here it is the moto server
                if key in merged and merged[key] != value and key != "POWERTOOLS_SERVICE_NAME":
                    # One process hosts every function, so their environments must agree.
                    print(f"warning: {key} differs between functions; using {merged[key]!r}", file=sys.stderr)
                    continue
                merged.setdefault(key, value)
        os.environ.update(merged)

    # ---------------------------------------------------------------------------- /_local routes
    def info(self) -> dict[str, Any]:
        return {"aws_endpoint": self.aws_endpoint, "region": REGION, "resources": dict(self.resources),
                "dynamodb": self.dynamodb_backend, "dynamodb_endpoint": self.dynamodb_endpoint or self.aws_endpoint,
                "reporting_timezone": self.model.parameters.get("ReportingTimezone", "UTC"),
                "functions": {lid: f.name for lid, f in self.functions.items()},
                "routes": [r.route_key for r in self.model.routes],
                "streams": [{"function": p.function.spec.logical_id, "stream_arn": p.stream_arn,
                             "delivered": p.delivered, "parked_batches": len(p.parked)} for p in self.pumps]}

    def _run_scorecard_route(self, query: str, headers: dict[str, str],
                             body: bytes) -> tuple[int, dict[str, str], bytes]:
        from touchpoint.periods import is_period

        reply = {"Content-Type": "application/json"}
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None
        period = request.get("period") if isinstance(request, dict) else None
        if not isinstance(request, dict) or (period is not None and not is_period(str(period))):
            message = 'Send {"period": "2026-W47"} or {"period": "2026-11"}'
            error = {"error": {"code": "invalid_period", "message": message, "field": "period"}}
            return 422, reply, json.dumps(error).encode()
        self.drain()  # the scheduled run would see a caught-up aggregator on AWS; make that true here
        try:
            result = self.run_schedule({k: v for k, v in request.items() if k == "period"})
        except Exception as exc:
            error = {"error": {"code": "scorecard_failed", "message": f"{type(exc).__name__}: {exc}", "field": None}}
            return 500, reply, json.dumps(error).encode()
        return 200, reply, json.dumps(result).encode()

    def published_events(self) -> list[dict[str, Any]]:
        """Every event published to the template's event buses so far (from the local tap queues)."""
        import boto3

        from .provision import tap_queue_name

        sqs = boto3.session.Session(region_name=REGION).client("sqs")
        with self._events_lock:
            for logical_id, resource in self.model.resources.items():
                if resource["Type"] != "AWS::Events::EventBus" or logical_id not in self.resources:
                    continue
                url = sqs.get_queue_url(QueueName=tap_queue_name(self.resources[logical_id]))["QueueUrl"]
                while True:
                    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                    if not messages:
                        break
                    for message in messages:
                        self._events.append(json.loads(message["Body"]))
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return list(self._events)

    def outbox(self) -> list[dict[str, Any]]:
        """The emails moto's SES accepted, oldest first (moto runs in this process)."""
        from email import message_from_string, policy

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        messages = []
        for sent in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
            raw = getattr(sent, "raw_data", None)
            parsed = message_from_string(raw, policy=policy.default) if raw else None
            messages.append({
                # moto lists the To header's addresses again after Destination; list each once.
                "message_id": sent.id, "source": sent.source, "destinations": list(dict.fromkeys(sent.destinations)),
                "subject": str(parsed["Subject"]) if parsed else getattr(sent, "subject", None),
                "raw": raw,
            })
        return messages

    def run_schedule(self, overrides: dict[str, Any]) -> Any:
        """Invoke the function that has a schedule in the template, with the schedule's own Input
        (what EventBridge Scheduler would deliver) plus ``overrides`` such as {"period": "2026-W47"}."""
        for logical_id, spec in self.model.functions.items():
            for schedule in spec.schedules:
                payload = json.loads(schedule.get("Input") or "{}")
                return self.functions[logical_id].invoke({**payload, **overrides})
        raise LookupError("no function in template.yaml has a schedule")

    def _local_routes(self) -> dict[tuple[str, str], LocalRoute]:
        def json_reply(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
            return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

        return {
            ("GET", "/_local/info"): lambda query, headers, body: json_reply(self.info()),
            ("GET", "/_local/events"): lambda query, headers, body: json_reply(self.published_events()),
            ("POST", "/_local/drain"): lambda query, headers, body: json_reply({"records": self.drain()}),
            ("POST", "/_local/pump"): self._pump_route,
            ("GET", "/_local/outbox"): lambda query, headers, body: json_reply(self.outbox()),
            ("POST", "/_local/run/scorecard"): self._run_scorecard_route,
        }
