"""The Bicep deployment under infra/, checked without Azure: every file is parsed with pycep-parser (the
parser checkov uses) and the security-relevant facts are asserted on the parsed structure: no storage
keys, HTTPS and TLS 1.2, FTP(S) off, one user-assigned managed identity holding exactly the roles it
needs (remediation roles only for `apply`), Key Vault references for the secrets, the Event Grid filters,
retry and dead-lettering, and every AUDITOR_* setting wired with its documented default.

Names the app uses (functions, queues, tables, settings) are read from function_app.py, auditor/ and
local.settings.sample.json, so the templates cannot drift from the code."""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser  # pycep-parser (requirements-dev.txt): the Bicep parser checkov uses
from test_pythons import supported_pythons

from auditor.events import RELEVANT_OPERATIONS

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in role definition IDs (Azure docs, "Azure built-in roles"; storage, Key Vault and monitoring IDs
# cited in the modules).
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
MONITORING_CONTRIBUTOR = "749f88d5-cbae-40b8-bcfc-e573ddc772fa"
LOG_ANALYTICS_CONTRIBUTOR = "92aaf0da-9dab-42b6-94a3-d43ce8d16293"
EVENTGRID_DATA_SENDER = "d5a91429-5739-47e2-a06b-3470a27159e7"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

# Every resource type and API version the templates may use, each checked against Azure/bicep-types-az
# (generated/<provider>/<namespace>/<version>/types.md) or a Microsoft Flex Consumption sample.
VERIFIED_API_VERSIONS = {
    "Microsoft.Resources/resourceGroups": "2024-03-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/queueServices/queues": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/tableServices/tables": "2023-05-01",
    "Microsoft.KeyVault/vaults": "2023-07-01",
    "Microsoft.KeyVault/vaults/secrets": "2023-07-01",
    "Microsoft.EventGrid/topics": "2025-02-15",
    "Microsoft.EventGrid/systemTopics": "2025-02-15",
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": "2025-02-15",
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "2024-04-01",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.Authorization/roleDefinitions": "2022-04-01",
}

# App settings that are deprecated (or rejected) on Flex Consumption, or that would carry an account key.
FORBIDDEN_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "AzureWebJobsStorage",
    "AzureWebJobsDashboard",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
}


# ------------------------------------------------------------------------------------------------
# Parsing helpers
# ------------------------------------------------------------------------------------------------


@functools.cache
def _parser() -> Any:
    return BicepParser()


@functools.cache
def parsed(path: Path) -> dict[str, Any]:
    return _parser().parse(file_path=path)


def bicep(relative: str) -> dict[str, Any]:
    return parsed(INFRA / relative)


def unwrap(config: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    """(body, condition, loop) of a resource or module: pycep nests `if`/`for` bodies one level down."""
    if isinstance(config.get("config"), dict) and ("condition" in config or "loop_type" in config):
        return config["config"], config.get("condition"), config.get("loop_type")
    return config, None, None


def resource(doc: dict[str, Any], name: str) -> tuple[str, dict[str, Any], Any]:
    """(type, body, condition) of the resource with that symbolic name."""
    entry = doc["resources"][name]
    body, condition, _ = unwrap(entry["config"])
    return entry["type"], body, condition


def resources_of_type(doc: dict[str, Any], type_: str) -> dict[str, tuple[dict[str, Any], Any]]:
    found = {}
    for name, entry in doc.get("resources", {}).items():
        if entry["type"] == type_ and not entry["existing"]:
            body, condition, _ = unwrap(entry["config"])
            found[name] = (body, condition)
    return found


def module(doc: dict[str, Any], name: str) -> tuple[str, dict[str, Any], Any, Any]:
    """(path, body, condition, loop) of a module."""
    entry = doc["modules"][name]
    body, condition, loop = unwrap(entry["config"])
    return entry["detail"]["path"], body, condition, loop


def variable(doc: dict[str, Any], name: str) -> Any:
    return doc["variables"][name]["value"]


def param(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["parameters"][name]


def decorators(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in param(doc, name)["decorators"]}


def function(expr: Any) -> tuple[str, dict[str, Any]] | None:
    if isinstance(expr, dict) and "function" in expr:
        return expr["function"]["type"], expr["function"].get("parameters") or {}
    return None


def operator(expr: Any) -> tuple[str, dict[str, Any]] | None:
    if isinstance(expr, dict) and "operator" in expr:
        return expr["operator"]["type"], expr["operator"]["operands"]
    return None


def accessor(expr: Any) -> tuple[Any, ...]:
    """`a.b.c` as ('a', 'b', 'c'); anything else as (expr,)."""
    op = operator(expr)
    if op and op[0] == "property_accessor":
        return accessor(op[1]["operand_1"]) + accessor(op[1]["operand_2"])
    return (expr,)


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def key(name: str) -> str:
    """Object keys keep their quotes in pycep's output when the Bicep source quotes them."""
    return name.strip("'")


def keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {key(k): v for k, v in obj.items()}


def resolve(doc: dict[str, Any], expr: Any) -> Any:
    """A variable reference (`x` or `x.y`) replaced by the variable's value; anything else unchanged."""
    path = accessor(expr)
    head = path[0]
    if isinstance(head, str) and head in doc.get("variables", {}):
        value = variable(doc, head)
        for part in path[1:]:
            value = keys(value)[part]
        return value
    return expr


def role_id(doc: dict[str, Any], body: dict[str, Any]) -> str:
    fn = function(body["properties"]["roleDefinitionId"])
    assert fn is not None, body["properties"]["roleDefinitionId"]
    assert fn[0] == "subscription_resource_id", fn
    assert fn[1]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    return resolve(doc, fn[1]["resource_name_1"])


def role_assignments(doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], Any]]:
    """Symbolic name -> (role definition ID, body, condition) of every role assignment in a file."""
    return {
        name: (role_id(doc, body), body, condition)
        for name, (body, condition) in resources_of_type(doc, "Microsoft.Authorization/roleAssignments").items()
    }


def sample_settings() -> dict[str, str]:
    return json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]


def function_app_ast() -> ast.Module:
    return ast.parse((ROOT / "function_app.py").read_text())


def decorated_functions() -> dict[str, tuple[str, dict[str, Any]]]:
    """function name -> (decorator method, keyword arguments) for each @app.<trigger>(...) in function_app.py."""
    found = {}
    for node in function_app_ast().body:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute):
                    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in deco.keywords if kw.arg != "connection"}
                    found[node.name] = (deco.func.attr, kwargs)
    return found


def literal_list(doc: dict[str, Any], name: str) -> list[str]:
    value = variable(doc, name)
    assert isinstance(value, list), value
    assert all(isinstance(v, str) for v in value), value
    return value


# ------------------------------------------------------------------------------------------------
# Every file parses; modules, API versions, parameters
# ------------------------------------------------------------------------------------------------


def test_the_deployment_has_a_main_template_and_modules_by_concern():
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert "main.bicep" in names
    assert {
        "modules/identity.bicep",
        "modules/storage.bicep",
        "modules/monitoring.bicep",
        "modules/keyvault.bicep",
        "modules/functionapp.bicep",
        "modules/findings-topic.bicep",
        "modules/scanned-subscription.bicep",
        "modules/subscription-events.bicep",
        "modules/workspace-roles.bicep",
    } <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses_and_declares_something(path: Path):
    doc = parsed(path)
    assert doc.get("resources") or doc.get("modules"), f"{path} declares no resource and no module"


def test_every_module_reference_resolves_and_every_module_is_used():
    referenced = set()
    for path in BICEP_FILES:
        for name in parsed(path).get("modules", {}):
            target = (path.parent / module(parsed(path), name)[0]).resolve()
            assert target.is_file(), f"{path.name}: module {name} points at missing {target}"
            referenced.add(target)
    assert referenced == {p.resolve() for p in MODULES.glob("*.bicep")}


def test_resource_types_and_api_versions_are_the_verified_stable_ones():
    used = {}
    for path in BICEP_FILES:
        for name, entry in parsed(path).get("resources", {}).items():
            assert "preview" not in entry["api_version"], f"{path.name}:{name} uses a preview API"
            used[(entry["type"], entry["api_version"])] = f"{path.name}:{name}"
    unverified = {k: where for k, where in used.items() if VERIFIED_API_VERSIONS.get(k[0]) != k[1]}
    assert not unverified, f"not in the verified list: {unverified}"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_parameter_says_what_it_means(path: Path):
    doc = parsed(path)
    undocumented = [name for name in doc.get("parameters", {}) if not decorators(doc, name).get("description")]
    assert not undocumented, f"{path.name}: parameters without @description: {undocumented}"


def test_main_is_a_subscription_deployment_for_azd():
    main = bicep("main.bicep")
    assert main["globals"]["scope"]["value"] == "subscription"
    assert param(main, "environmentName")["default"] is None
    assert decorators(main, "location")["metadata"] == {"azd": {"type": "location"}}


# ------------------------------------------------------------------------------------------------
# No storage keys anywhere; storage hardening
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_no_template_reads_or_writes_a_key(path: Path):
    doc = parsed(path)
    for value in walk(doc):
        fn = function(value)
        assert not (fn and fn[0].startswith("list")), f"{path.name} calls {fn[0]}"
        if isinstance(value, str):
            assert "AccountKey=" not in value, f"{path.name} builds a connection string with a key"
            assert "listKeys" not in value
    # The text as well: pycep keeps `x.listKeys()` member calls as plain accessors.
    assert "listKeys" not in path.read_text()
    assert "SharedAccessSignature" not in path.read_text()


def test_the_storage_account_refuses_shared_keys_and_plain_http():
    doc = bicep("modules/storage.bicep")
    type_, account, _ = resource(doc, "account")
    assert type_ == "Microsoft.Storage/storageAccounts"
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    for name, (container, _) in resources_of_type(
        doc, "Microsoft.Storage/storageAccounts/blobServices/containers"
    ).items():
        assert container["properties"]["publicAccess"] == "None", name


def test_the_function_identity_gets_blob_queue_and_table_data_roles_on_its_storage_account():
    doc = bicep("modules/storage.bicep")
    roles = role_assignments(doc)
    assert {rid for rid, _, _ in roles.values()} == {BLOB_DATA_OWNER, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR}
    for name, (_, body, condition) in roles.items():
        assert condition is None, name
        assert body["scope"] == "account", name


def test_queues_and_tables_are_the_ones_the_code_uses():
    main = bicep("main.bicep")
    triggers = decorated_functions()
    code_queues = {kw["queue_name"] for method, kw in triggers.values() if method == "queue_trigger"}
    assert code_queues == {"aks-audit-checks", "aks-audit-checks-poison", "aks-audit-scans", "aks-audit-scans-poison"}
    assert set(literal_list(main, "queueNames")) == code_queues
    state = (ROOT / "auditor" / "azure" / "state.py").read_text()
    code_tables = set(re.findall(r'^[A-Z_]+_TABLE = "([a-z0-9]+)"', state, re.MULTILINE))
    assert code_tables
    assert set(literal_list(main, "tableNames")) == code_tables
    _, storage, _, _ = module(main, "storage")
    assert storage["params"]["queueNames"] == "queueNames"
    assert storage["params"]["tableNames"] == "tableNames"


# ------------------------------------------------------------------------------------------------
# The function app: Flex Consumption, the chosen Python, HTTPS, TLS 1.2, no FTP, managed identity
# ------------------------------------------------------------------------------------------------


def test_the_plan_is_flex_consumption_on_linux():
    doc = bicep("modules/functionapp.bicep")
    type_, plan, _ = resource(doc, "plan")
    assert type_ == "Microsoft.Web/serverfarms"
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True


def test_the_function_app_is_https_only_with_tls_1_2_and_no_ftp():
    doc = bicep("modules/functionapp.bicep")
    _, site, _ = resource(doc, "site")
    props = site["properties"]
    assert site["kind"] == "functionapp,linux"
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] in {"1.2", "1.3"}
    assert props["siteConfig"]["scmMinTlsVersion"] in {"1.2", "1.3"}
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    assert props["siteConfig"]["remoteDebuggingEnabled"] is False
    policies = resources_of_type(doc, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body["name"]: body["properties"]["allow"] for body, _ in policies.values()} == {"ftp": False, "scm": False}


def test_the_function_app_runs_the_chosen_python_from_an_identity_authenticated_package_container():
    doc = bicep("modules/functionapp.bicep")
    _, site, _ = resource(doc, "site")
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert param(doc, "pythonVersion")["default"] is None  # always main.bicep's choice, never a second default
    _, functions, _, _ = module(bicep("main.bicep"), "functionApp")
    assert functions["params"]["pythonVersion"] == "pythonVersion"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    assert set(config["scaleAndConcurrency"]) == {"maximumInstanceCount", "instanceMemoryMB"}


def test_the_python_version_parameter_allows_exactly_the_supported_pythons_and_defaults_to_3_11():
    main = bicep("main.bicep")
    assert param(main, "pythonVersion")["type"] == "string"
    assert decorators(main, "pythonVersion")["allowed"] == supported_pythons()
    # The deployed default is the Python bootstrap prefers, so a local .venv runs what Azure runs.
    assert param(main, "pythonVersion")["default"] == supported_pythons()[0] == "3.11"
    reads = function(bicepparam()["pythonVersion"]["value"])
    assert reads == ("readEnvironmentVariable", {"arg_1": "AUDITOR_PYTHON_VERSION", "arg_2": "3.11"})


def test_the_function_app_runs_as_the_user_assigned_identity_everywhere():
    doc = bicep("modules/functionapp.bicep")
    _, site, _ = resource(doc, "site")
    assert site["identity"]["type"] == "UserAssigned"
    assert [key(k) for k in site["identity"]["userAssignedIdentities"]] == ["${identityId}"]
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
    main = bicep("main.bicep")
    _, functions, _, _ = module(main, "functionApp")
    assert accessor(functions["params"]["identityId"]) == ("identity", "outputs", "id")
    assert accessor(functions["params"]["identityClientId"]) == ("identity", "outputs", "clientId")
    _, identity, _, _ = module(main, "identity")
    type_, _, _ = resource(bicep("modules/identity.bicep"), "identity")
    assert type_ == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert identity["scope"] == "rg"


def app_settings() -> dict[str, Any]:
    """The site's app settings: the module's host settings merged with main.bicep's AUDITOR_* object."""
    doc = bicep("modules/functionapp.bicep")
    _, site, _ = resource(doc, "site")
    loop = site["properties"]["siteConfig"]["appSettings"]
    items = function(loop["loop_type"]["detail"]["array_name"])
    assert items
    assert items[0] == "items"
    union = function(items[1]["arg_1"])
    assert union
    assert union[0] == "union"
    assert [union[1]["arg_1"], union[1]["arg_2"]] == ["hostSettings", "auditorSettings"]
    assert accessor(loop["config"]["name"]) == ("setting", "key")
    assert accessor(loop["config"]["value"]) == ("setting", "value")
    main = bicep("main.bicep")
    _, functions, _, _ = module(main, "functionApp")
    assert functions["params"]["auditorSettings"] == "auditorSettings"
    return {**keys(variable(doc, "hostSettings")), **keys(variable(main, "auditorSettings"))}


def test_azure_web_jobs_storage_is_identity_based():
    settings = app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__queueServiceUri"] == "queueEndpoint"
    assert settings["AzureWebJobsStorage__tableServiceUri"] == "tableEndpoint"
    assert settings["AzureWebJobsStorage__blobServiceUri"] == "blobEndpoint"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    storage = bicep("modules/storage.bicep")
    for service in ("blob", "queue", "table"):
        # https://<account>.<service>.<suffix>: what auditor/azure/storage.py requires (https, no key).
        assert bicep_output(storage, f"{service}Endpoint").startswith(f"https://${{account.name}}.{service}.")


def bicep_output(doc: dict[str, Any], name: str) -> Any:
    return doc["outputs"][name]["value"]


def test_application_insights_is_reached_by_connection_string_with_entra_auth():
    settings = app_settings()
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "appInsightsConnectionString"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    monitoring = bicep("modules/monitoring.bicep")
    _, insights, _ = resource(monitoring, "appInsights")
    assert insights["properties"]["DisableLocalAuth"] is True
    assert accessor(insights["properties"]["WorkspaceResourceId"]) == ("workspace", "id")
    assert {rid for rid, _, _ in role_assignments(monitoring).values()} == {MONITORING_METRICS_PUBLISHER}


def test_no_deprecated_or_key_bearing_app_setting():
    assert not FORBIDDEN_SETTINGS & set(app_settings())


def test_every_auditor_setting_of_the_sample_is_wired():
    sample = {k for k in sample_settings() if k.startswith("AUDITOR_")}
    wired = {k for k in app_settings() if k.startswith("AUDITOR_")}
    assert sample == wired


def setting_default(main: dict[str, Any], value: Any) -> str | None:
    """The value a plain `param` (or string(param), or bool-param ternary) setting gets by default."""
    if isinstance(value, str) and value in main["parameters"]:
        return param(main, value)["default"]
    fn = function(value)
    if fn and fn[0] == "string" and fn[1]["value_to_convert"] in main["parameters"]:
        return str(param(main, fn[1]["value_to_convert"])["default"])
    op = operator(value)
    if op and op[0] == "conditional" and op[1]["condition"] in main["parameters"]:
        chosen = param(main, op[1]["condition"])["default"]
        return op[1]["true_value"] if chosen else op[1]["false_value"]
    return None


def test_settings_default_to_the_documented_values():
    main = bicep("main.bicep")
    settings = keys(variable(main, "auditorSettings"))
    sample = sample_settings()
    special = {
        "AUDITOR_SUBSCRIPTIONS",  # the scanned subscriptions (tested below)
        "AUDITOR_CLOUD",  # the deployment's own cloud (tested below)
        "AUDITOR_EVENTGRID_TOPIC_ENDPOINT",  # the findings topic
        "AUDITOR_TEAMS_WEBHOOK_URL",  # Key Vault reference
        "AUDITOR_SMTP_PASSWORD",  # Key Vault reference
        "AUDITOR_REMEDIATION_SUBSCRIPTIONS",  # join(array, ',')
    }
    for name, value in settings.items():
        if name in special:
            continue
        default = setting_default(main, value)
        assert default is not None or value == "", f"{name} is not a plain parameter: {value}"
        assert (default if default is not None else "") == sample[name], name
    join = function(settings["AUDITOR_REMEDIATION_SUBSCRIPTIONS"])
    assert join
    assert join[0] == "join"
    assert join[1]["input_array"] == "remediationSubscriptionIds"
    assert param(main, "remediationSubscriptionIds")["default"] == []
    assert sample["AUDITOR_REMEDIATION_SUBSCRIPTIONS"] == ""


def test_the_cloud_defaults_to_the_deployment_cloud_named_as_the_auditor_names_it():
    main = bicep("main.bicep")
    assert keys(variable(main, "auditorSettings"))["AUDITOR_CLOUD"] == "cloudName"
    assert param(main, "auditorCloud")["default"] == ""
    outer = operator(variable(main, "cloudName"))
    assert outer
    assert outer[0] == "conditional"
    assert outer[1]["false_value"] == "auditorCloud"
    assert function(outer[1]["condition"]) == ("empty", {"item_to_test": "auditorCloud"})
    inner = operator(outer[1]["true_value"])
    assert inner
    assert inner[0] == "conditional"
    assert operator(inner[1]["condition"]) == ("equals", {"operand_1": "deploymentCloud", "operand_2": "AzureCloud"})
    assert accessor(variable(main, "deploymentCloud"))[1:] == ("name",)
    assert function(accessor(variable(main, "deploymentCloud"))[0]) == ("environment", {})
    assert inner[1]["true_value"] == sample_settings()["AUDITOR_CLOUD"] == "AzurePublicCloud"
    assert inner[1]["false_value"] == "deploymentCloud"


def test_the_scan_schedule_setting_feeds_the_timer_trigger():
    method, kwargs = decorated_functions()["scheduled_scan"]
    assert method == "timer_trigger"
    assert kwargs["schedule"] == "%AUDITOR_SCAN_SCHEDULE%"
    assert keys(variable(bicep("main.bicep"), "auditorSettings"))["AUDITOR_SCAN_SCHEDULE"] == "scanSchedule"


# ------------------------------------------------------------------------------------------------
# Secrets: Key Vault (RBAC) references, never plain values; the topic is reached without a key
# ------------------------------------------------------------------------------------------------


def test_secret_settings_are_key_vault_references_or_empty():
    main = bicep("main.bicep")
    settings = keys(variable(main, "auditorSettings"))
    for name, output in (
        ("AUDITOR_TEAMS_WEBHOOK_URL", "teamsWebhookReferenceUri"),
        ("AUDITOR_SMTP_PASSWORD", "smtpLoginReferenceUri"),
    ):
        op = operator(settings[name])
        assert op is not None, name
        assert op[0] == "conditional", name
        assert op[1]["true_value"] == f"@Microsoft.KeyVault(SecretUri=${{keyVault.outputs.{output}}})", name
        assert op[1]["false_value"] == "", name
    for secret in ("teamsWebhookUrl", "smtpPassword"):
        assert "secure" in decorators(main, secret), secret
        assert param(main, secret)["default"] == "", secret
        assert "secure" in decorators(bicep("modules/keyvault.bicep"), secret), secret


def test_the_secret_uris_are_versionless_so_rotation_needs_no_redeploy():
    kv = bicep("modules/keyvault.bicep")
    for name in ("teamsWebhookReferenceUri", "smtpLoginReferenceUri"):
        value = bicep_output(kv, name)
        assert value.startswith("${vault.properties.vaultUri}secrets/${"), value
        assert "/" not in value.split("secrets/", 1)[1].strip("${}"), value


def test_the_key_vault_is_rbac_only_and_protected_against_purge():
    kv = bicep("modules/keyvault.bicep")
    _, vault, _ = resource(kv, "vault")
    props = vault["properties"]
    assert props["enableRbacAuthorization"] is True
    assert "accessPolicies" not in props
    assert props["enableSoftDelete"] is True
    assert props["enablePurgeProtection"] is True
    assert {rid for rid, _, _ in role_assignments(kv).values()} == {KEY_VAULT_SECRETS_USER}
    for name in ("teamsSecret", "smtpSecret"):
        _, _secret, condition = resource(kv, name)
        fn = operator(condition)
        assert fn is not None, f"{name} must only exist when a value was given"
        assert fn[0] == "not", f"{name} must only exist when a value was given"


def test_the_findings_topic_takes_cloudevents_with_entra_auth_only():
    topic = bicep("modules/findings-topic.bicep")
    type_, body, _ = resource(topic, "topic")
    assert type_ == "Microsoft.EventGrid/topics"
    props = body["properties"]
    assert props["inputSchema"] == "CloudEventSchemaV1_0"
    assert props["disableLocalAuth"] is True
    assert props["minimumTlsVersionAllowed"] == "1.2"
    roles = role_assignments(topic)
    assert [(rid, b["scope"]) for rid, b, _ in roles.values()] == [(EVENTGRID_DATA_SENDER, "topic")]
    settings = keys(variable(bicep("main.bicep"), "auditorSettings"))
    assert accessor(settings["AUDITOR_EVENTGRID_TOPIC_ENDPOINT"]) == ("findingsTopic", "outputs", "endpoint")
    assert settings["AUDITOR_EVENTGRID_TOPIC_KEY"] == ""


# ------------------------------------------------------------------------------------------------
# ARM events: one system topic per scanned subscription, filtered, retried, dead-lettered
# ------------------------------------------------------------------------------------------------


def test_each_scanned_subscription_gets_its_own_module():
    main = bicep("main.bicep")
    path, body, condition, loop = module(main, "scannedSubscriptions")
    assert path == "modules/scanned-subscription.bicep"
    assert condition is None
    assert loop["detail"] == {"item_name": "subscriptionId", "array_name": "scanned"}
    scope = function(body["scope"])
    assert scope == ("subscription", {"subscription_id": "subscriptionId"})
    scanned = operator(variable(main, "scanned"))
    assert scanned
    assert scanned[0] == "conditional"
    assert scanned[1]["false_value"] == "scannedSubscriptionIds"
    choice = operator(keys(variable(main, "auditorSettings"))["AUDITOR_SUBSCRIPTIONS"])
    assert choice is not None
    assert choice[0] == "conditional"
    assert choice[1]["condition"] == "scanAllVisibleSubscriptions"
    assert param(main, "scanAllVisibleSubscriptions")["default"] is False
    assert choice[1]["true_value"] == ""
    assert function(choice[1]["false_value"]) == ("join", {"input_array": "scanned", "delimiter": ","})
    assert bicep("modules/scanned-subscription.bicep")["globals"]["scope"]["value"] == "subscription"


def test_the_system_topic_listens_to_the_subscription():
    doc = bicep("modules/subscription-events.bicep")
    type_, topic, _ = resource(doc, "systemTopic")
    assert type_ == "Microsoft.EventGrid/systemTopics"
    assert topic["location"] == "global"
    assert topic["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    assert accessor(topic["properties"]["source"])[1:] == ("id",)
    assert function(accessor(topic["properties"]["source"])[0])[0] == "subscription"


def event_subscription() -> tuple[dict[str, Any], Any]:
    doc = bicep("modules/subscription-events.bicep")
    type_, body, condition = resource(doc, "eventSubscription")
    assert type_ == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    assert body["parent"] == "systemTopic"
    return body["properties"], condition


def test_events_go_to_the_event_grid_triggered_function_one_at_a_time():
    props, condition = event_subscription()
    destination = props["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "functionResourceId"
    assert destination["properties"]["maxEventsPerBatch"] == 1
    assert props["eventDeliverySchema"] in {"EventGridSchema", "CloudEventSchemaV1_0"}
    assert condition == "deployEventSubscription"
    method, _ = decorated_functions()["on_resource_event"]
    assert method == "event_grid_trigger"
    main = bicep("main.bicep")
    assert variable(main, "eventFunctionName") == "on_resource_event"
    functions = bicep("modules/functionapp.bicep")
    assert bicep_output(functions, "eventFunctionResourceId") == "${site.id}/functions/${eventFunctionName}"
    _, body, _, _ = module(main, "scannedSubscriptions")
    assert accessor(body["params"]["functionResourceId"]) == ("functionApp", "outputs", "eventFunctionResourceId")


def test_only_the_relevant_arm_events_are_delivered():
    props, _ = event_subscription()
    doc = bicep("modules/subscription-events.bicep")
    filter_ = props["filter"]
    assert set(resolve(doc, filter_["includedEventTypes"])) == {
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
    }
    [advanced] = filter_["advancedFilters"]
    assert advanced["operatorType"] == "StringIn"
    assert advanced["key"] == "data.operationName"
    # Exactly the operations the event path acts on, both names ARM uses for a diagnostic setting included.
    assert {op.lower() for op in resolve(doc, advanced["values"])} == {op.lower() for op in RELEVANT_OPERATIONS}


def test_undeliverable_events_are_retried_then_dead_lettered_to_a_blob_container():
    props, _ = event_subscription()
    doc = bicep("modules/subscription-events.bicep")
    retry = props["retryPolicy"]
    assert retry == {
        "maxDeliveryAttempts": "maxDeliveryAttempts",
        "eventTimeToLiveInMinutes": "eventTimeToLiveInMinutes",
    }
    assert decorators(doc, "maxDeliveryAttempts")["max_value"] == 30
    assert decorators(doc, "eventTimeToLiveInMinutes")["max_value"] == 1440
    dead = props["deadLetterDestination"]
    assert dead["endpointType"] == "StorageBlob"
    assert dead["properties"] == {
        "resourceId": "deadLetterStorageAccountId",
        "blobContainerName": "deadLetterContainerName",
    }
    main = bicep("main.bicep")
    _, body, _, _ = module(main, "scannedSubscriptions")
    assert body["params"]["deadLetterContainerName"] == "deadLetterContainerName"
    storage = bicep("modules/storage.bicep")
    _, container, _ = resource(storage, "deadLetterContainer")
    assert container["name"] == "deadLetterContainerName"


def test_the_event_subscriptions_are_switched_on_by_one_parameter():
    main = bicep("main.bicep")
    assert param(main, "deployEventSubscriptions")["default"] is False
    _, body, _, _ = module(main, "scannedSubscriptions")
    assert body["params"]["deployEventSubscription"] == "deployEventSubscriptions"
    sub = bicep("modules/scanned-subscription.bicep")
    _, events, _, _ = module(sub, "events")
    assert events["params"]["deployEventSubscription"] == "deployEventSubscription"


# ------------------------------------------------------------------------------------------------
# Least privilege: exactly these roles, to the auditor identity only; remediation roles only for apply
# ------------------------------------------------------------------------------------------------


# The roles main.bicep hands its modules, by key of its roleIds variable (custom or built-in, see test_roles.py).
ROLE_KEYS = {
    "reader",
    "workspaceReader",
    "logReader",
    "workspaceLogReader",
    "blobReader",
    "remediator",
    "workspaceLink",
}


def role_key(module_name: str, parameter: str) -> str:
    """The key of main.bicep's roleIds that feeds a module's role parameter."""
    _, body, _, _ = module(bicep("main.bicep"), module_name)
    path = accessor(body["params"][parameter])
    assert path[0] == "roleIds", (module_name, parameter, path)
    assert len(path) == 2, (module_name, parameter, path)
    return path[1]


def test_the_identity_holds_exactly_the_roles_it_needs():
    literal, passed = set(), set()
    for path in BICEP_FILES:
        doc = parsed(path)
        for name, (rid, body, _) in role_assignments(doc).items():
            (passed if rid in doc.get("parameters", {}) else literal).add(rid)
            assert body["properties"]["principalId"] == "principalId", f"{path.name}:{name}"
            assert body["properties"]["principalType"] == "ServicePrincipal", f"{path.name}:{name}"
    # On the auditor's own resources, built-in data roles on each resource alone; the rest are main.bicep's choice.
    assert literal == {
        EVENTGRID_DATA_SENDER,
        BLOB_DATA_OWNER,
        QUEUE_DATA_CONTRIBUTOR,
        TABLE_DATA_CONTRIBUTOR,
        KEY_VAULT_SECRETS_USER,
        MONITORING_METRICS_PUBLISHER,
    }
    assert passed == {
        "readerRoleId",
        "logReaderRoleId",
        "remediatorRoleId",
        "workspaceReaderRoleId",
        "storageReaderRoleId",
        "blobReaderRoleId",
        "workspaceLinkRoleId",
    }
    keys = {
        role_key("scannedSubscriptions", "readerRoleId"),
        role_key("scannedSubscriptions", "logReaderRoleId"),
        role_key("scannedSubscriptions", "remediatorRoleId"),
        role_key("destinationReaders", "workspaceReaderRoleId"),
        role_key("destinationReaders", "storageReaderRoleId"),
        role_key("destinationReaders", "logReaderRoleId"),
        role_key("destinationReaders", "blobReaderRoleId"),
        role_key("workspaceRoles", "workspaceLinkRoleId"),
    }
    assert keys == ROLE_KEYS
    main = bicep("main.bicep")
    for name in (
        "monitoring",
        "storage",
        "keyVault",
        "findingsTopic",
        "scannedSubscriptions",
        "workspaceRoles",
        "destinationReaders",
    ):
        _, body, _, _ = module(main, name)
        assert accessor(body["params"]["principalId"]) == ("identity", "outputs", "principalId"), name


def test_the_read_role_is_granted_on_every_scanned_subscription_and_the_record_role_only_with_delivery_checks():
    sub = bicep("modules/scanned-subscription.bicep")
    roles = role_assignments(sub)
    (body, condition) = next((b, c) for rid, b, c in roles.values() if rid == "readerRoleId")
    assert condition is None
    assert "scope" not in body  # subscription scope: the module's target
    assert role_key("scannedSubscriptions", "readerRoleId") == "reader"
    (_, condition) = next((b, c) for rid, b, c in roles.values() if rid == "logReaderRoleId")
    test = operator(condition)
    assert test
    assert test[0] == "and"
    assert test[1]["operand_1"] == "readRecords"
    # Skipped when the record role is the read role itself (Reader, with built-in roles): one assignment each.
    assert operator(test[1]["operand_2"]) == (
        "not_equals",
        {"operand_1": "logReaderRoleId", "operand_2": "readerRoleId"},
    )
    assert param(sub, "readRecords")["default"] is False
    main = bicep("main.bicep")
    _, module_body, _, _ = module(main, "scannedSubscriptions")
    assert module_body["params"]["readRecords"] == "readRecords"
    assert operator(variable(main, "readRecords")) == (
        "greater_than",
        {"operand_1": "deliveryLookbackHours", "operand_2": 0},
    )
    assert [key(d) for d in module_body["dependsOn"]] == ["customRoles"]


def test_the_remediation_role_only_when_remediation_applies():
    sub = bicep("modules/scanned-subscription.bicep")
    [(_body, condition)] = [(b, c) for rid, b, c in role_assignments(sub).values() if rid == "remediatorRoleId"]
    assert condition == "grantRemediationRoles"
    assert param(sub, "grantRemediationRoles")["default"] is False
    assert role_key("scannedSubscriptions", "remediatorRoleId") == "remediator"
    main = bicep("main.bicep")
    _, module_body, _, _ = module(main, "scannedSubscriptions")
    grant = operator(module_body["params"]["grantRemediationRoles"])
    assert grant
    assert grant[0] == "and"
    assert grant[1]["operand_1"] == "remediationApply"
    assert operator(variable(main, "remediationApply")) == (
        "equals",
        {"operand_1": "remediationMode", "operand_2": "apply"},
    )
    assert param(main, "remediationMode")["default"] == "off"
    assert decorators(main, "remediationMode")["allowed"] == ["off", "dry-run", "apply"]


def test_the_workspace_link_role_only_when_remediation_applies_and_on_the_workspace_only():
    main = bicep("main.bicep")
    path, body, condition, _ = module(main, "workspaceRoles")
    assert path == "modules/workspace-roles.bicep"
    test = operator(condition)
    assert test
    assert test[0] == "and"
    assert test[1]["operand_1"] == "remediationApply"
    roles = role_assignments(bicep("modules/workspace-roles.bicep"))
    assert [(rid, b["scope"]) for rid, b, _ in roles.values()] == [("workspaceLinkRoleId", "workspace")]
    assert role_key("workspaceRoles", "workspaceLinkRoleId") == "workspaceLink"
    scope = function(body["scope"])
    assert scope
    assert scope[0] == "resource_group"


def test_destinations_get_read_roles_on_themselves_only_and_record_reading_only_with_delivery_checks():
    main = bicep("main.bicep")
    path, body, _, loop = module(main, "destinationReaders")
    assert path == "modules/destination-reader.bicep"
    assert function(body["scope"])[0] == "resource_group"
    assert loop is not None
    readers = bicep("modules/destination-reader.bicep")
    roles = {(rid, b["scope"]): condition for rid, b, condition in role_assignments(readers).values()}
    assert set(roles) == {
        ("workspaceReaderRoleId", "workspace"),
        ("logReaderRoleId", "workspace"),
        ("storageReaderRoleId", "storageAccount"),
        ("blobReaderRoleId", "storageAccount"),
    }
    for reading in (("logReaderRoleId", "workspace"), ("blobReaderRoleId", "storageAccount")):
        assert "readRecords" in json.dumps(roles[reading]), reading
    for reader in (("workspaceReaderRoleId", "workspace"), ("storageReaderRoleId", "storageAccount")):
        assert "readRecords" not in json.dumps(roles[reader]), reader
    assert param(readers, "readRecords")["default"] is False
    assert body["params"]["readRecords"] == "readRecords"
    assert {
        parameter: role_key("destinationReaders", parameter)
        for parameter in ("workspaceReaderRoleId", "storageReaderRoleId", "logReaderRoleId", "blobReaderRoleId")
    } == {
        "workspaceReaderRoleId": "workspaceReader",
        "storageReaderRoleId": "reader",
        "logReaderRoleId": "workspaceLogReader",
        "blobReaderRoleId": "blobReader",
    }
    verified = json.dumps(main["variables"]["verifiedDestinations"]["value"])
    assert "verifiedWorkspaceIds" in verified
    assert "verifiedStorageAccountIds" in verified


def test_no_role_is_granted_at_management_group_or_tenant_scope():
    for path in BICEP_FILES:
        assert parsed(path).get("globals", {}).get("scope", {}).get("value", "resourceGroup") in {
            "subscription",
            "resourceGroup",
        }, path.name


# ------------------------------------------------------------------------------------------------
# Outputs, parameters file, azd, checkov skips
# ------------------------------------------------------------------------------------------------


def test_outputs_name_the_function_app_the_topic_endpoint_and_the_dead_letter_container():
    main = bicep("main.bicep")
    outputs = main["outputs"]
    assert accessor(outputs["AZURE_FUNCTION_APP_NAME"]["value"]) == ("functionApp", "outputs", "name")
    assert accessor(outputs["FINDINGS_TOPIC_ENDPOINT"]["value"]) == ("findingsTopic", "outputs", "endpoint")
    assert outputs["DEAD_LETTER_CONTAINER"]["value"] == "deadLetterContainerName"


def bicepparam() -> dict[str, Any]:
    """main.bicepparam parsed by the Bicep parser: its `param x = expr` lines read as `var x = expr`
    (pycep does not know .bicepparam files, whose syntax is otherwise Bicep expressions)."""
    text = (INFRA / "main.bicepparam").read_text()
    assert re.search(r"^using 'main\.bicep'$", text, re.MULTILINE)
    body = re.sub(r"^using .*$", "", text, flags=re.MULTILINE)
    body = re.sub(r"^param (\w+) =", r"var \1 =", body, flags=re.MULTILINE)
    return _parser().parse(text=body)["variables"]


def test_the_parameters_file_sets_only_declared_parameters_from_the_environment():
    main = bicep("main.bicep")
    values = bicepparam()
    assert set(values) <= set(main["parameters"])
    required = {name for name, p in main["parameters"].items() if p["default"] is None}
    assert required <= set(values)
    for name, entry in values.items():
        reads = [function(v) for v in walk(entry["value"]) if function(v)]
        assert any(fn[0] == "readEnvironmentVariable" for fn in reads), name


def identifiers(doc: dict[str, Any], expr: Any, seen: frozenset[str] = frozenset()) -> set[str]:
    """Every name an expression mentions, following variables to what they mention."""
    names = {v for v in walk(expr) if isinstance(v, str)}
    for name in list(names):
        if name in doc.get("variables", {}) and name not in seen:
            names |= identifiers(doc, variable(doc, name), seen | {name})
    return names


def test_the_parameters_file_reads_the_apps_own_setting_names():
    values = bicepparam()
    env = {}
    for name, entry in values.items():
        for v in walk(entry["value"]):
            fn = function(v)
            if fn and fn[0] == "readEnvironmentVariable":
                env.setdefault(name, set()).add(fn[1]["arg_1"])
    sample = sample_settings()
    for name, variables in env.items():
        for variable_name in variables:
            if variable_name.startswith("AUDITOR_") and variable_name in sample:
                main = bicep("main.bicep")
                setting = keys(variable(main, "auditorSettings"))[variable_name]
                assert name in identifiers(main, setting), (
                    f"{variable_name} feeds {name}, which is not what the app setting {variable_name} uses"
                )
    assert env["deployEventSubscriptions"] == {"AUDITOR_EVENT_SUBSCRIPTIONS"}


def test_azure_yaml_deploys_the_repository_root_as_a_python_function_and_connects_events_after_deploy():
    # azure.yaml is YAML and no YAML parser is a project dependency: a few line checks.
    text = (ROOT / "azure.yaml").read_text()
    assert re.search(r"^infra:\n(?:  .*\n)*?  path: infra$", text, re.MULTILINE)
    service = re.search(r"^services:\n  (\w[\w-]*):\n((?:    .*\n)+)", text, re.MULTILINE)
    assert service, "azure.yaml has no service"
    name, body = service.group(1), service.group(2)
    assert re.search(r"^    project: \.$", body, re.MULTILINE)
    assert re.search(r"^    language: python$", body, re.MULTILINE)
    assert re.search(r"^    host: function$", body, re.MULTILINE)
    _, functions, _, _ = module(bicep("main.bicep"), "functionApp")
    assert functions["params"]["serviceName"] == name  # the azd-service-name tag azd deploys to
    assert "postdeploy:" in text
    assert "azd env set AUDITOR_EVENT_SUBSCRIPTIONS true" in text
    assert "azd provision --no-prompt" in text


SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)")


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_checkov_skip_is_justified_inline(path: Path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = SKIP.search(line)
        if match:
            check, colon, reason = match.groups()
            assert re.fullmatch(r"CKV2?_AZURE_\d+", check), f"{path.name}:{number}: {check}"
            assert colon, f"{path.name}:{number}: skip {check} without a reason"
            assert len(reason.strip()) >= 30, f"{path.name}:{number}: skip {check} without a real reason"
            assert line.lstrip().startswith("// checkov:skip="), f"{path.name}:{number}"
