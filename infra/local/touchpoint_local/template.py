"""Read template.yaml the way CloudFormation would, just enough for the local stack: parameters with
their defaults, Globals merged into functions, and the intrinsic functions the template uses
(Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::If is not used)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref X) into their long form ({"Ref": X})."""


def _tag_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text("utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class HttpRoute:
    function: str
    method: str
    path: str
    iam_auth: bool
    pattern: re.Pattern[str] = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.path):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    routes: list[HttpRoute]
    stream_sources: list[dict[str, Any]]
    schedules: list[dict[str, Any]]


@dataclass
class StackModel:
    root: Path
    parameters: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    physical_names: dict[str, str]
    functions: dict[str, FunctionSpec]

    @property
    def routes(self) -> list[HttpRoute]:
        return [route for fn in self.functions.values() for route in fn.routes]


def _physical_name(stack_name: str, logical_id: str, resource: dict[str, Any]) -> str:
    kind = resource["Type"]
    if kind == "AWS::S3::Bucket":
        return f"{stack_name}-{logical_id}".lower()
    if kind == "AWS::SecretsManager::Secret":
        return f"{stack_name}/{logical_id}"
    return f"{stack_name}-{logical_id}"


class Resolver:
    """Evaluates intrinsic functions against parameter values and local physical names."""

    def __init__(self, parameters: dict[str, Any], physical: dict[str, str], region: str, stack: str) -> None:
        self.parameters = parameters
        self.physical = physical
        self.pseudo = {
            "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None,
        }
        self.types: dict[str, str] = {}

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.physical:
            # Locally a resource's name stands for its id everywhere (a secret's name is a valid id).
            return self.physical[name]
        raise KeyError(f"template refers to unknown name {name!r}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        name = self.physical[logical_id]
        kind = self.types.get(logical_id, "")
        region, account = self.pseudo["AWS::Region"], ACCOUNT_ID
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            return arn if attribute == "Arn" else f"{arn}/stream/local"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{account}:{name}" if attribute == "Arn" else name
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{region}:{account}:event-bus/{name}"
        return f"arn:aws:local:{region}:{account}:{logical_id}/{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(self.resolve(i)) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def read_stack(template_path: Path, overrides: dict[str, str] | None = None, region: str = "us-east-1",
               stack_name: str = "touchpoint-local") -> StackModel:
    template = load_template(template_path)
    root = template_path.parent
    parameters: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        value = (overrides or {}).get(name, spec.get("Default"))
        if value is None:
            raise ValueError(f"parameter {name} has no default; pass it as an override")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        parameters[name] = value
    resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
    physical = {lid: _physical_name(stack_name, lid, res) for lid, res in resources.items()}
    resolver = Resolver(parameters, physical, region, stack_name)
    resolver.types = {lid: res["Type"] for lid, res in resources.items()}
    globals_fn = (template.get("Globals") or {}).get("Function", {})
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        merged_env = {
            **(globals_fn.get("Environment", {}).get("Variables", {})),
            **(props.get("Environment", {}).get("Variables", {})),
        }
        environment = {k: "" if v is None else str(v) for k, v in resolver.resolve(merged_env).items()}
        routes, streams, schedules = [], [], []
        for event in (props.get("Events") or {}).values():
            event_props = event.get("Properties", {})
            if event["Type"] == "HttpApi":
                authorizer = (event_props.get("Auth") or {}).get("Authorizer")
                routes.append(HttpRoute(logical_id, event_props["Method"].upper(), event_props["Path"],
                                        iam_auth=authorizer == "AWS_IAM"))
            elif event["Type"] == "DynamoDB":
                streams.append(copy.deepcopy(event_props))
            elif event["Type"] in ("ScheduleV2", "Schedule"):
                schedules.append(resolver.resolve(copy.deepcopy(event_props)))
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(root / props.get("CodeUri", globals_fn.get("CodeUri", "."))).resolve(),
            handler=props.get("Handler", globals_fn.get("Handler", "app.lambda_handler")),
            environment=environment,
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            routes=routes,
            stream_sources=streams,
            schedules=schedules,
        )
    return StackModel(root=root, parameters=parameters, resources=resources, physical_names=physical,
                      functions=functions)


def check_parameter(name: str, value: str, template_path: Path | None = None) -> str | None:
    """What CloudFormation would say about ``name=value`` for this template's Parameters, or None when
    it would accept it (AllowedValues, AllowedPattern, Number with MinValue/MaxValue)."""
    if template_path is None:
        from .stack import project_root

        template_path = project_root() / "template.yaml"
    declared: dict[str, Any] = load_template(template_path).get("Parameters") or {}
    spec = declared.get(name)
    if spec is None:
        return f"template.yaml has no parameter {name!r}; it has {', '.join(sorted(declared))}"
    allowed = spec.get("AllowedValues")
    if allowed and value not in [str(v) for v in allowed]:
        return f"{name} must be one of {', '.join(str(v) for v in allowed)}, not {value!r}"
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        return f"{name} {value!r} does not match {pattern}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"{name} must be a number, not {value!r}"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"{name} must be at least {spec['MinValue']}, not {value}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"{name} must be at most {spec['MaxValue']}, not {value}"
    return None
