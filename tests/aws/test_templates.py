"""The deployment files: cfn-lint passes on the SAM template, and both it and
serverless.yml declare exactly the tables, routes and handlers the code has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

import hubbub.aws
from hubbub.aws import handlers
from hubbub.core.files import TICKET_TTL, ticket_key
from hubbub.store.dynamo import TABLES

HERE = Path(hubbub.aws.__file__).parent
SAM = HERE / "template.yaml"
SERVERLESS = HERE / "serverless.yml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Sub x` -> {"Fn::Sub": x})."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node)}
    return {name: loader.construct_mapping(node)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _tag)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)


def test_cfn_lint_passes_on_the_sam_template() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(SAM)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def _keys(props: dict[str, Any]) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    attrs = {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]}
    schema = [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]]
    return attrs, schema


def _check_tables(resources: dict[str, Any], name_of: Any) -> None:
    tables = {
        name_of(r["Properties"]["TableName"]): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert set(tables) == set(TABLES)
    for name, spec in TABLES.items():
        props = tables[name]
        attrs, schema = _keys(props)
        want = [(spec.hash_key, "HASH")] + ([(spec.range_key, "RANGE")] if spec.range_key else [])
        assert attrs == {k for k, _ in want}, name
        assert schema == [(k[0], kind) for k, kind in want], name
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        ttl = props.get("TimeToLiveSpecification")
        if spec.ttl:
            assert ttl == {"AttributeName": spec.ttl, "Enabled": True}
        else:
            assert ttl is None


def test_sam_template_matches_the_code() -> None:
    doc = load(SAM)
    res = doc["Resources"]
    _check_tables(res, lambda n: n["Fn::Sub"].removeprefix("${AWS::StackName}-"))

    api = next(r for r in res.values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]["Target"]["Fn::Sub"]
        for r in res.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == set(handlers.WEBSOCKET_ROUTES)
    for key, target in routes.items():
        integration = res[target.removeprefix("integrations/${").removesuffix("}")]
        uri = integration["Properties"]["IntegrationUri"]["Fn::Sub"]
        function = uri.split("functions/${")[1].split(".Arn}")[0]
        handler = res[function]["Properties"]["Handler"]
        assert handler == f"hubbub.aws.handlers.{handlers.WEBSOCKET_ROUTES[key].__name__}", key
        assert res[function]["Properties"]["Role"] == {"Fn::GetAtt": "HandlerRole.Arn"}

    ping = res["PingFunction"]["Properties"]
    assert ping["Handler"] == "hubbub.aws.handlers.ping"
    assert ping["Events"]["Ping"]["Properties"] == {"Path": "/ping", "Method": "GET"}
    assert "Role" not in ping and "Policies" not in ping  # it touches nothing
    http = {
        f"{e['Properties']['Method']} {e['Properties']['Path']}": r["Properties"]["Handler"]
        for r in res.values()
        if r["Type"] == "AWS::Serverless::Function"
        for e in r["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    assert http == {
        key: f"hubbub.aws.handlers.{fn.__name__}" for key, fn in handlers.HTTP_ROUTES.items()
    }
    schedules = {
        e["Properties"]["Schedule"]: r["Properties"]["Handler"]
        for r in res.values()
        if r["Type"] == "AWS::Serverless::Function"
        for e in r["Properties"].get("Events", {}).values()
        if e["Type"] == "Schedule"
    }
    assert schedules == {
        key: f"hubbub.aws.handlers.{fn.__name__}" for key, fn in handlers.SCHEDULES.items()
    }
    for name in ("IncomingHookFunction", "DeliverHooksFunction"):
        function = res[name]["Properties"]
        assert function["Role"] == {"Fn::GetAtt": "HandlerRole.Arn"}
        endpoint = function["Environment"]["Variables"]["HUBBUB_APIGW_ENDPOINT"]["Fn::Sub"]
        assert endpoint.startswith("https://${WebSocketApi}.")
        assert endpoint.endswith("/${StageName}")


def test_sam_iam_is_least_privilege() -> None:
    res = load(SAM)["Resources"]
    [policy] = res["HandlerRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    tables = {name for name, r in res.items() if r["Type"] == "AWS::DynamoDB::Table"}
    for s in statements:
        assert s["Effect"] == "Allow"
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if actions == ["execute-api:ManageConnections"]:
            arn = s["Resource"]["Fn::Sub"]
            assert "${WebSocketApi}/${StageName}/" in arn and arn.endswith("/@connections/*")
        elif actions[0].startswith("s3:"):
            _check_s3_statement(actions, s["Resource"])
        else:
            assert all(a.startswith("dynamodb:") and "*" not in a for a in actions)
            assert not {"dynamodb:DeleteTable", "dynamodb:CreateTable"} & set(actions)
            arns = {r["Fn::GetAtt"] for r in s["Resource"]}
            assert arns == {f"{t}.Arn" for t in tables}
    assert len(statements) == 4


def _check_s3_statement(actions: list[str], resource: Any) -> None:
    """The files' objects (read, write, delete), and listing the bucket (a
    missing object is then a 404): nothing else of S3."""
    if actions == ["s3:ListBucket"]:
        assert resource == {"Fn::GetAtt": "FilesBucket.Arn"}
    else:
        assert set(actions) == {
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
        }
        assert resource == {"Fn::Sub": "${FilesBucket.Arn}/files/*"}


def _check_files(environment: dict[str, Any], resources: dict[str, Any]) -> None:
    """Files in the stack's bucket, under `files/`; private; abandoned
    tickets' notes expired (their keys' prefix is the code's)."""
    assert environment["HUBBUB_BLOB_URL"] == {"Fn::Sub": "s3://${FilesBucket}/files"}
    props = resources["FilesBucket"]["Properties"]
    assert resources["FilesBucket"]["Type"] == "AWS::S3::Bucket"
    assert all(props["PublicAccessBlockConfiguration"].values())
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    tickets = rules["abandoned-upload-tickets"]
    assert tickets["Prefix"] == "files/" + ticket_key("")
    assert tickets["ExpirationInDays"] * 86400 > TICKET_TTL
    parts = rules["unfinished-multipart-uploads"]
    assert parts["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_sam_and_serverless_keep_files_in_their_bucket() -> None:
    sam = load(SAM)
    _check_files(sam["Globals"]["Function"]["Environment"]["Variables"], sam["Resources"])
    sls = load(SERVERLESS)
    _check_files(sls["provider"]["environment"], sls["resources"]["Resources"])


def test_serverless_yml_matches_the_code() -> None:
    doc = load(SERVERLESS)
    assert doc["provider"]["websocketsApiRouteSelectionExpression"] == "$request.body.action"
    _check_tables(
        doc["resources"]["Resources"],
        lambda n: n.removeprefix("${self:service}-${sls:stage}-"),
    )
    routes: dict[str, str] = {}
    http: dict[str, str] = {}
    schedules: dict[str, str] = {}
    for fn in doc["functions"].values():
        for event in fn["events"]:
            if "websocket" in event:
                ws = event["websocket"]
                routes[ws if isinstance(ws, str) else ws["route"]] = fn["handler"]
            elif "schedule" in event:
                schedules[event["schedule"]] = fn["handler"]
            else:
                route = event["httpApi"]
                http[f"{route['method']} {route['path']}"] = fn["handler"]
    assert routes == {
        key: f"hubbub.aws.handlers.{fn.__name__}" for key, fn in handlers.WEBSOCKET_ROUTES.items()
    }
    assert http == {
        key: f"hubbub.aws.handlers.{fn.__name__}" for key, fn in handlers.HTTP_ROUTES.items()
    }
    assert schedules == {
        key: f"hubbub.aws.handlers.{fn.__name__}" for key, fn in handlers.SCHEDULES.items()
    }
    for name in ("incomingHook", "deliverHooks"):
        endpoint = doc["functions"][name]["environment"]["HUBBUB_APIGW_ENDPOINT"]["Fn::Sub"]
        assert endpoint.startswith("https://${WebsocketsApi}.")
    statements = doc["provider"]["iam"]["role"]["statements"]
    assert [s["Action"] for s in statements][1] == "execute-api:ManageConnections"
    for s in statements[2:]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        _check_s3_statement(actions, s["Resource"])
    assert len(statements) == 4
