"""The CSV, SARIF and HTML reports, from findings the real rule produced (no Azure needed).

The HTML report is checked in headless Chromium (Debian's /usr/bin/chromium, which
scripts/bootstrap installs). Regenerate the README screenshot with
`PYTHONPATH=. .venv/bin/python tests/test_reports.py`.
"""

from __future__ import annotations

import csv
import dataclasses
import html.parser
import io
import json
import re
import shlex
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright
from support import CHROMIUM, CHROMIUM_ARGS, CIS

from auditor import __version__, fixes
from auditor.control import AppliedControl
from auditor.inert import inert
from auditor.model import Cluster, Destination, DiagnosticSetting, Finding, LogEntry, Status
from auditor.report.csv_report import COLUMNS, FORMULA_CHARACTERS, render_csv
from auditor.report.document import ScanResult, reading_order
from auditor.report.html import CHART_LIMIT, PAGE_SIZE, render_html
from auditor.report.sarif import pipeline_run, render_sarif
from auditor.rule import Policy, evaluate, subscription_unreadable, unreadable

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
MULTITOOL = ROOT / "node_modules" / ".bin" / "sarif-multitool"  # npm @microsoft/sarif-multitool (package.json)
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # npm axe-core (package.json)
LAPTOP, PHONE, LARGER_PHONE = 1360, 360, 390  # CSS pixels wide

PROD = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
STAGING = "5c2a9d3e-7f41-4b8e-9a06-2d7e3c1b8f52"
SANDBOX = "9e4f7a21-3c6d-4e5b-8f12-6a0b9c3d2e71"
NAMES = {PROD: "Contoso Production", STAGING: "Contoso Staging", SANDBOX: "Contoso Sandbox"}
TODAY = date(2026, 11, 26)
SCANNED_AT = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
POLICY = Policy(
    required_categories=("kube-audit", "kube-audit-admin"),
    accepted_destinations=frozenset({Destination.WORKSPACE, Destination.STORAGE, Destination.PARTNER}),
    allowed_workspaces=frozenset(),
    exempt_tag="aks-audit-exempt",
    portal_url="https://portal.azure.com",
)
WORKSPACE = (
    f"/subscriptions/{PROD}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/la-security"
)
STORAGE = f"/subscriptions/{PROD}/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/stauditarchive"
EVENT_HUB = (
    f"/subscriptions/{STAGING}/resourceGroups/rg-siem/providers/Microsoft.EventHub/namespaces/eh-siem"
    "/authorizationRules/RootManageSharedAccessKey"
)
FORBIDDEN = (
    "forbidden (403 AuthorizationFailed): the identity lacks Microsoft.Insights/diagnosticSettings/read there "
    "(docs/deploy.md, 'What the identity may do', names the role that grants it)"
)


def cluster(subscription: str, group: str, name: str, location: str = "westeurope", **tags: str) -> Cluster:
    resource_id = (
        f"/subscriptions/{subscription}/resourcegroups/{group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
    return Cluster(resource_id, name, subscription, group, location, tags)


def setting(name: str, *categories: str, enabled: bool = True, group: str = "", **sinks: str) -> DiagnosticSetting:
    logs = tuple(LogEntry(category, None, enabled) for category in categories)
    if group:
        logs += (LogEntry(None, group, enabled),)
    return DiagnosticSetting(name, logs, **sinks)


def judge(target: Cluster, *settings_: DiagnosticSetting) -> Finding:
    """As a scan judges: the rule, then the fixes to paste for a failure."""
    return fixes.attach(evaluate(target, settings_, None, POLICY, TODAY), "aks-audit-logs", WORKSPACE)


def realistic() -> ScanResult:
    """Thirteen clusters in three subscriptions, every status and the usual reasons for each."""
    audit = ("kube-audit", "kube-audit-admin")
    findings = [
        judge(
            cluster(PROD, "rg-payments-prod", "aks-payments-prod-weu"),
            setting("audit-to-law", *audit, workspace_id=WORKSPACE),
        ),
        judge(
            cluster(PROD, "rg-search-prod", "aks-search-prod-weu"),
            setting("audit-to-law", "kube-audit", workspace_id=WORKSPACE),
            setting("audit-admin-archive", "kube-audit-admin", storage_account_id=STORAGE),
        ),
        judge(
            cluster(PROD, "rg-identity-prod", "aks-identity-prod-weu"),
            setting("all-logs", group="allLogs", workspace_id=WORKSPACE),
        ),
        judge(
            cluster(PROD, "rg-orders-prod", "aks-orders-prod-weu"),
            setting("audit-to-law", "kube-audit", workspace_id=WORKSPACE),
        ),
        unreadable(
            cluster(PROD, "rg-reporting-prod", "aks-reporting-prod-neu", "northeurope"), FORBIDDEN, POLICY, TODAY
        ),
        judge(
            cluster(STAGING, "rg-checkout-stg", "aks-checkout-stg-weu"),
            setting("audit-paused", *audit, enabled=False, workspace_id=WORKSPACE),
        ),
        judge(
            cluster(STAGING, "rg-platform-stg", "aks-siem-stg-eus", "eastus"),
            setting("stream-to-siem", *audit, event_hub_authorization_rule_id=EVENT_HUB, event_hub_name="aks"),
        ),
        judge(
            cluster(STAGING, "rg-catalog-stg", "aks-catalog-stg-weu"), setting("audit", *audit, workspace_id=WORKSPACE)
        ),
        unreadable(
            cluster(STAGING, "rg-ml-stg", "aks-ml-stg-weu"),
            "timed out after 3 attempts of 20 s reading the diagnostic settings",
            POLICY,
            TODAY,
        ),
        judge(cluster(SANDBOX, "rg-hackathon", "aks-hackathon-2023")),
        judge(cluster(SANDBOX, "rg-sandbox-poc", "aks-poc-gpu-weu", **{"aks-audit-exempt": "2099-12-31"})),
        judge(cluster(SANDBOX, "rg-sandbox-demo", "aks-demo-sbx-weu", **{"aks-audit-exempt": "true"})),
        judge(
            cluster(SANDBOX, "rg-sandbox-dev", "aks-dev-sbx-neu", "northeurope"),
            setting("dev-audit", *audit, workspace_id=WORKSPACE),
        ),
    ]
    return ScanResult(CIS, SCANNED_AT, findings, subscriptions=3, skipped_subscriptions=1)


REALISTIC = realistic()
EXPECTED_COUNTS = {"clusters": 13, "pass": 5, "fail": 4, "exempt": 2, "error": 2}

XSS_NAME = "<script>alert(1)</script>"
HOSTILE_SUBSCRIPTION = "1d2c3b4a-0000-4000-8000-00000000000a"
HOSTILE_NAMES = {PROD: "<img src=x onerror=alert(2)>", HOSTILE_SUBSCRIPTION: 'Tom\'s "Dev" & <b>Ops</b>'}


def hostile() -> ScanResult:
    """Names, reasons and links an attacker with write access to a resource or subscription could choose."""
    base = REALISTIC.findings[3]
    return ScanResult(
        CIS,
        SCANNED_AT,
        [
            *REALISTIC.findings,
            dataclasses.replace(base, name=XSS_NAME, resource_group="rg-\"quoted\" & 'single'"),
            dataclasses.replace(
                base,
                name="aks-'\"&<>",
                location='"><script>alert(5)</script>',
                missing_categories=("<svg onload=alert(4)>",),
                reasons=("</li></ul><script>alert(3)</script>", "<a href=javascript:alert(6)>fix</a>"),
                portal_url="javascript:alert(7)",
            ),
            dataclasses.replace(base, subscription_id=HOSTILE_SUBSCRIPTION, name='x" onmouseover="alert(8)'),
        ],
        subscriptions=4,
    )


# ---------------------------------------------------------------------------------------------- CSV


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_rows_parse_back_one_per_finding_in_reading_order():
    text = render_csv(REALISTIC, NAMES)
    rows = parse_csv(text)

    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert len(rows) == 13
    assert [row["status"] for row in rows] == ["fail"] * 4 + ["error"] * 2 + ["exempt"] * 2 + ["pass"] * 5
    orders = next(row for row in rows if row["name"] == "aks-orders-prod-weu")
    assert orders == {
        "status": "fail",
        "name": "aks-orders-prod-weu",
        "resourceGroup": "rg-orders-prod",
        "subscriptionId": PROD,
        "subscriptionName": "Contoso Production",
        "location": "westeurope",
        "missingCategories": "kube-audit-admin",
        "reasons": "kube-audit-admin is not exported to an accepted destination",
        "portalUrl": f"https://portal.azure.com/#resource{orders['resourceId']}/diagnostics",
        "resourceId": (
            f"/subscriptions/{PROD}/resourcegroups/rg-orders-prod/providers/Microsoft.ContainerService"
            "/managedClusters/aks-orders-prod-weu"
        ),
    }
    hackathon = next(row for row in rows if row["name"] == "aks-hackathon-2023")
    assert hackathon["missingCategories"] == "kube-audit;kube-audit-admin"
    assert hackathon["reasons"] == (
        "the cluster has no diagnostic settings\nkube-audit is not exported to an accepted destination\n"
        "kube-audit-admin is not exported to an accepted destination"
    )
    by_name = {finding.name: finding for finding in REALISTIC.findings}
    for row in rows:
        finding = by_name[row["name"]]
        assert row["resourceId"] == finding.resource_id
        assert row["reasons"].split("\n") == list(finding.reasons)


def test_csv_leaves_an_unknown_subscription_name_empty():
    rows = parse_csv(render_csv(REALISTIC, {PROD: "Contoso Production"}))
    assert {row["subscriptionName"] for row in rows if row["subscriptionId"] == STAGING} == {""}


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_defused():
    base = REALISTIC.findings[3]
    attack = dataclasses.replace(
        base,
        name='=HYPERLINK("https://localhost","fix")',
        resource_group="-2+3",
        location="\tindented",
        reasons=("@SUM(A1:A9)", "harmless", "-1 day"),
        missing_categories=("+cmd",),
        portal_url="\rhttps://portal.azure.com",
    )
    safe = dataclasses.replace(base, name="aks-a=b+c", resource_group="rg-x")
    rows = parse_csv(render_csv(ScanResult(CIS, SCANNED_AT, [attack, safe], 1), {PROD: "@evil sub"}))

    assert rows[0]["name"] == '\'=HYPERLINK("https://localhost","fix")'
    assert rows[0]["resourceGroup"] == "'-2+3"
    assert rows[0]["location"] == "\\tindented"  # spelled out (auditor/inert.py): no cell starts at a tab
    assert rows[0]["reasons"] == "'@SUM(A1:A9)\nharmless\n'-1 day"  # each reason starts a line
    assert rows[0]["missingCategories"] == "'+cmd"
    assert rows[0]["portalUrl"] == "\\rhttps://portal.azure.com"
    assert rows[0]["subscriptionName"] == "'@evil sub"
    assert rows[1]["name"] == "aks-a=b+c"  # a formula character inside a cell starts nothing
    assert rows[1]["resourceGroup"] == "rg-x"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Contoso Lab;=1+1", "Contoso Lab;'=1+1"),  # Excel where `;` is the list separator splits here
        ("Contoso Lab,=1+1", "Contoso Lab,'=1+1"),
        ("Contoso Lab; =1+1", "Contoso Lab; =1+1"),  # a cell starting with a space is text
        ('Contoso Lab;"=1+1"', 'Contoso Lab;\'"=1+1"'),  # a quoted cell runs a formula too
        ("a;;@x,-y", "a;;'@x,'-y"),
        ("tab\t=1+1", "tab\\t=1+1"),  # the tab is spelled out (auditor/inert.py): no cell starts there
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width, as an East Asian input method types it
        ("Contoso Lab; +1 for audit", "Contoso Lab; +1 for audit"),
    ],
)
def test_csv_defuses_formulas_wherever_a_spreadsheet_may_start_a_cell(text: str, shown: str):
    finding = dataclasses.replace(REALISTIC.findings[3], name=text, reasons=(text,))
    (row,) = parse_csv(render_csv(ScanResult(CIS, SCANNED_AT, [finding], 1), {PROD: text}))
    assert (row["name"], row["reasons"], row["subscriptionName"]) == (shown, shown, shown)


def test_csv_keeps_a_reason_with_semicolons_as_one_reason():
    reasons = (
        "kube-audit is not exported to an accepted destination (setting stream-to-siem sends it to eventhub, "
        "which is not an accepted destination; setting audit-paused lists it but disabled)",
        "a reason an error message\nbroke over two lines",
        "kube-audit-admin is not exported to an accepted destination",
    )
    finding = dataclasses.replace(REALISTIC.findings[3], reasons=reasons)
    (row,) = parse_csv(render_csv(ScanResult(CIS, SCANNED_AT, [finding], 1), NAMES))
    assert row["reasons"].split("\n") == [reasons[0], "a reason an error message\\nbroke over two lines", reasons[2]]


def starts_no_formula(cell: str) -> bool:
    """Wherever a spreadsheet may start a cell (ours, and after each `,` `;` tab or line break),
    what follows, past any quotes, is no formula."""
    starts = [0, *(match.end() for match in re.finditer(r"[,;\t\r\n]", cell))]
    return not any(cell[start:].lstrip('"').startswith(tuple(FORMULA_CHARACTERS)) for start in starts)


@settings(max_examples=150, deadline=None)
@given(name=st.text(), reasons=st.lists(st.text(), min_size=1, max_size=3), subscription_name=st.text())
def test_csv_round_trips_any_text(name: str, reasons: list[str], subscription_name: str):
    finding = dataclasses.replace(REALISTIC.findings[3], name=name, reasons=tuple(reasons))
    rows = parse_csv(render_csv(ScanResult(CIS, SCANNED_AT, [finding], 1), {PROD: subscription_name}))

    assert len(rows) == 1
    one_line = [inert(reason) for reason in reasons]  # line breaks and other controls spelled out
    for cell, text in ((rows[0]["name"], inert(name)), (rows[0]["subscriptionName"], inert(subscription_name))):
        assert starts_no_formula(cell)
        assert cell.replace("'", "") == text.replace("'", "")  # only apostrophes are added
        assert cell == text or not starts_no_formula(text)  # and only where a formula could start
    assert starts_no_formula(rows[0]["reasons"])
    assert rows[0]["reasons"].replace("'", "").split("\n") == [reason.replace("'", "") for reason in one_line]


# -------------------------------------------------------------------------------------------- SARIF

_URI_CHARACTERS = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*:" + _URI_CHARACTERS, value) is not None


@_FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(_URI_CHARACTERS, value) is not None


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    pattern = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
    return not isinstance(value, str) or re.fullmatch(pattern, value) is not None


SARIF_VALIDATOR = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=_FORMATS)


def sarif(result: ScanResult) -> dict[str, Any]:
    """The log as the CLI prints it: through json.dumps."""
    return json.loads(json.dumps(render_sarif(result)))


def test_sarif_is_valid_against_the_official_schema():
    for result in (REALISTIC, hostile(), ScanResult(CIS, SCANNED_AT, [], 0)):
        SARIF_VALIDATOR.validate(sarif(result))

    broken = sarif(REALISTIC)  # the validator and its format checks do bite
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "a b"
    with pytest.raises(jsonschema.ValidationError):
        SARIF_VALIDATOR.validate(broken)
    broken = sarif(REALISTIC)
    broken["runs"][0]["results"][0]["level"] = "fail"
    with pytest.raises(jsonschema.ValidationError):
        SARIF_VALIDATOR.validate(broken)


def test_sarif_has_one_rule_and_a_result_per_fail_and_error():
    log = sarif(REALISTIC)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "aks-audit-auditor"
    (rule,) = driver["rules"]
    assert rule["id"] == "C-0254"
    assert rule["shortDescription"]["text"] == "Enable audit Logs"
    assert rule["helpUri"] == "https://hub.armosec.io/docs/c-0254"
    assert rule["properties"] == {
        "tags": ["security", "CIS AKS 1.2.0 2.1.1", "external/mitre-attack/t1562.008", "T1562.008"],
        "security-severity": "5.0",
        "profile": "cis",
        "requiredCategories": ["kube-audit", "kube-audit-admin"],
        "attackTechnique": "T1562.008",
        "attackTechniqueName": "Impair Defenses: Disable or Modify Cloud Logs",
    }
    assert "az monitor diagnostic-settings create" in rule["help"]["markdown"]
    assert "kube-audit-admin" in rule["help"]["text"]
    assert run["invocations"] == [{"executionSuccessful": False, "endTimeUtc": "2026-11-26T21:00:00Z"}]
    assert run["automationDetails"] == {"id": "aks-audit-auditor/C-0254/cis/2026-11-26T21:00:00Z"}

    results = run["results"]
    assert [(r["properties"]["status"], r["level"]) for r in results] == [("fail", "error")] * 4 + [
        ("error", "warning")
    ] * 2
    assert {r["ruleId"] for r in results} == {"C-0254"}
    by_name = {r["locations"][0]["logicalLocations"][0]["name"]: r for r in results}
    assert set(by_name) == {
        "aks-orders-prod-weu",
        "aks-checkout-stg-weu",
        "aks-siem-stg-eus",
        "aks-hackathon-2023",
        "aks-reporting-prod-neu",
        "aks-ml-stg-weu",
    }
    orders = by_name["aks-orders-prod-weu"]
    assert orders["message"]["text"] == (
        f"AKS cluster aks-orders-prod-weu (resource group rg-orders-prod, subscription {PROD}) does not export "
        "kube-audit-admin: kube-audit-admin is not exported to an accepted destination"
    )
    resource_id = REALISTIC.findings[3].resource_id
    location = orders["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == resource_id[1:]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == resource_id
    forbidden = by_name["aks-reporting-prod-neu"]["message"]["text"]
    assert forbidden.startswith("Could not read the diagnostic settings of AKS cluster aks-reporting-prod-neu")
    assert forbidden.endswith(FORBIDDEN)


def test_sarif_names_the_tool_with_the_project_version():
    (run,) = sarif(REALISTIC)["runs"]
    driver = run["tool"]["driver"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"]
    assert (driver["version"], driver["semanticVersion"]) == (__version__, __version__)
    assert driver["fullName"] == f"aks-audit-auditor {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", driver["semanticVersion"])  # Semantic Versioning 2.0, as SARIF asks


def test_sarif_category_is_the_same_every_scan_and_differs_by_profile():
    def category(result: ScanResult) -> str:
        automation = sarif(result)["runs"][0]["automationDetails"]["id"]
        category, _, instance = automation.rpartition("/")  # SARIF 2.1.0 §3.17.3: the last part is the run
        assert instance == result.scanned_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return category

    later = dataclasses.replace(REALISTIC, scanned_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC), findings=[])
    assert category(REALISTIC) == category(later) == "aks-audit-auditor/C-0254/cis"
    admin_only = dataclasses.replace(
        REALISTIC, control=AppliedControl(CIS.control, "cost-aware", ("kube-audit-admin",))
    )
    assert category(admin_only) == "aks-audit-auditor/C-0254/cost-aware"


def multitool_complaints(logs: dict[str, dict[str, Any]], workdir: Path) -> dict[str, list[str]]:
    """Errors and warnings of Microsoft's SARIF multitool on each log, by name: `RULE: message`.

    `validate` with the base rules (Sarif) and those of GitHub code scanning (Gh), GitHub
    Advanced Security (Ghas) and GitHub Advanced Security for Azure DevOps (Ado), in one run;
    its own SARIF output (`--output`, overwritten with `--log ForceOverwrite`) lists what it
    found, a result without `level` being a warning (SARIF 2.1.0 §3.27.10). The npm launcher
    (bin.js of @microsoft/sarif-multitool) passes its arguments through a shell, so each is
    quoted for it.
    """
    if not MULTITOOL.exists():
        pytest.fail(f"{MULTITOOL} is missing: run `bash scripts/bootstrap --with-test-tools` (npm ci)")
    paths = {}
    for name, log in logs.items():
        paths[name] = workdir / f"{name}.sarif"
        paths[name].write_text(json.dumps(log), encoding="utf-8")
    output = workdir / "validation.sarif"
    arguments = ["validate", *map(str, paths.values()), "--rule-kind", "Sarif;Gh;Ghas;Ado"]
    arguments += ["--output", str(output), "--log", "ForceOverwrite"]
    ran = subprocess.run(
        [str(MULTITOOL), *map(shlex.quote, arguments)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (validation,) = json.loads(output.read_text(encoding="utf-8"))["runs"]
    rules = validation["tool"]["driver"].get("rules", [])
    by_uri = {path.as_uri(): name for name, path in paths.items()}
    complaints: dict[str, list[str]] = {name: [] for name in logs}
    for result in validation.get("results", []):
        if result.get("level", "warning") not in ("error", "warning"):
            continue
        template = rules[result["ruleIndex"]]["messageStrings"][result["message"]["id"]]["text"]
        text = template.format(*result["message"].get("arguments", []))
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        complaints[by_uri[uri]].append(f"{result['ruleId']}: {text}")
    return complaints


# The multitool's Azure DevOps rules GHAzDO1019 and GHAzDO1020 (multitool 5.5 and later) ask for
# the identity of the pipeline run that produced the log: only a run inside that pipeline knows it,
# from Azure Pipelines' predefined variables, which these values stand for.
PIPELINE_ENVIRONMENT = {
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
    "SYSTEM_TEAMPROJECT": "platform",
    "SYSTEM_DEFINITIONID": "42",
    "BUILD_DEFINITIONNAME": "aks-audit",
    "SYSTEM_PHASEID": "1be018db-a340-454c-8c30-e6880b238463",
    "SYSTEM_PHASENAME": "scan",
    "BUILD_SOURCEBRANCH": "refs/heads/main",
    "BUILD_BUILDID": "977",
}


def test_inside_azure_pipelines_the_log_names_its_pipeline_run_and_elsewhere_its_category():
    run = pipeline_run(PIPELINE_ENVIRONMENT)
    assert run is not None
    assert run["id"] == (
        "azuredevops/pipeline/build/contoso/platform/42/1be018db-a340-454c-8c30-e6880b238463/refs/heads/main/977"
    )
    assert run["properties"]["azuredevops/pipeline/build/phaseName"] == "scan"
    older = {**PIPELINE_ENVIRONMENT, "SYSTEM_COLLECTIONURI": "https://contoso.visualstudio.com/"}
    assert pipeline_run(older) == run
    assert pipeline_run({**PIPELINE_ENVIRONMENT, "BUILD_BUILDID": ""}) is None
    assert pipeline_run({}) is None


def test_sarif_passes_the_multitool_rules_of_github_and_azure_devops(tmp_path: Path):
    in_pipeline = render_sarif(REALISTIC, pipeline_run(PIPELINE_ENVIRONMENT))
    stripped = sarif(REALISTIC)  # the control: what the services need, taken out again
    del stripped["runs"][0]["automationDetails"]
    for key in ("fullName", "version", "semanticVersion"):
        del stripped["runs"][0]["tool"]["driver"][key]
    logs = {
        "realistic": sarif(REALISTIC),
        "hostile": sarif(hostile()),
        "empty": sarif(ScanResult(CIS, SCANNED_AT, [], 0)),
        "in-pipeline": in_pipeline,
        "stripped": stripped,
    }
    complaints = multitool_complaints(logs, tmp_path)
    rules = {name: sorted(line.split(":")[0] for line in lines) for name, lines in complaints.items()}

    assert rules.pop("stripped") == ["GHAzDO1014", "GHAzDO1018", "SARIF2005"], complaints
    assert rules.pop("in-pipeline") == [], complaints
    # Outside a pipeline only the pipeline's identity is missing: four properties and the id's form.
    expected = sorted(["GHAzDO1019"] * 4 + ["GHAzDO1020"])
    assert rules == {"realistic": expected, "hostile": expected, "empty": expected}, complaints


def test_sarif_reports_an_unlistable_subscription_and_success_without_errors():
    gone = subscription_unreadable(STAGING, "Contoso Staging", "forbidden (403)", POLICY)
    (result,) = sarif(ScanResult(CIS, SCANNED_AT, [gone], 1))["runs"][0]["results"]
    assert result["message"]["text"] == (
        f"Could not read subscription Contoso Staging ({STAGING}): could not list the subscription's clusters: "
        "forbidden (403)"
    )
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"subscriptions/{STAGING}"

    passing = [f for f in REALISTIC.findings if f.status in (Status.PASS, Status.EXEMPT)]
    run = sarif(ScanResult(CIS, SCANNED_AT, passing, 3))["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_fingerprints_follow_the_cluster_across_runs_and_id_case():
    def fingerprints(result: ScanResult) -> dict[str, str]:
        return {
            r["locations"][0]["logicalLocations"][0]["name"]: r["partialFingerprints"]["azureResourceIdHash/v1"]
            for r in sarif(result)["runs"][0]["results"]
        }

    first = fingerprints(REALISTIC)
    assert len(set(first.values())) == len(first) == 6
    later = dataclasses.replace(REALISTIC, scanned_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    assert fingerprints(later) == first
    recased = [dataclasses.replace(f, resource_id=f.resource_id.upper()) for f in REALISTIC.findings]
    assert fingerprints(dataclasses.replace(REALISTIC, findings=recased)) == first
    # A cluster that goes from fail to error keeps its alert: same rule, same fingerprint.
    turned = [
        dataclasses.replace(f, status=Status.ERROR) if f.name == "aks-orders-prod-weu" else f
        for f in REALISTIC.findings
    ]
    assert fingerprints(dataclasses.replace(REALISTIC, findings=turned)) == first


def test_sarif_location_uri_is_percent_encoded():
    awkward = judge(cluster(PROD, "rg-(legacy).café", "aks-legacy"))
    (result,) = sarif(ScanResult(CIS, SCANNED_AT, [awkward], 1))["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (
        f"subscriptions/{PROD}/resourcegroups/rg-%28legacy%29.caf%C3%A9/providers/Microsoft.ContainerService"
        "/managedClusters/aks-legacy"
    )
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == awkward.resource_id


# --------------------------------------------------------------------------------------------- HTML


class TagShape(html.parser.HTMLParser):
    """The element structure of a document and its text, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shape(document: str) -> TagShape:
    parser = TagShape()
    parser.feed(document)
    parser.close()
    return parser


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(min_size=1), reason=st.text(min_size=1), subscription_name=st.text(min_size=1))
def test_html_structure_does_not_depend_on_text_from_azure(name: str, reason: str, subscription_name: str):
    base = REALISTIC.findings[3]
    assert base.fixes is not None  # the fixes, which repeat the name, are in the structure too
    benign = ScanResult(CIS, SCANNED_AT, [base], 1)
    renamed = dataclasses.replace(base, name=name, reasons=(reason,), fixes=None)
    chosen = ScanResult(CIS, SCANNED_AT, [fixes.attach(renamed, "aks-audit-logs", WORKSPACE)], 1)
    expected = shape(render_html(benign, {PROD: "x"}))
    parsed = shape(render_html(chosen, {PROD: subscription_name}))
    assert parsed.tags == expected.tags
    text = "".join(parsed.text)
    assert inert(name) in text
    assert inert(reason) in text


def test_html_report_of_an_empty_scan_says_so():
    document = render_html(ScanResult(CIS, SCANNED_AT, [], 0), {})
    assert document.count("No clusters were found.") == 2  # chart and table
    assert '<span class="tile-value">0</span><span class="tile-note">0% of clusters</span>' in document


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the HTML report tests need Chromium (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclasses.dataclass
class Watch:
    """What a page did that a clean report never does."""

    console: list[str] = dataclasses.field(default_factory=list)
    page_errors: list[str] = dataclasses.field(default_factory=list)
    dialogs: list[str] = dataclasses.field(default_factory=list)
    requests: list[str] = dataclasses.field(default_factory=list)

    def clean(self) -> bool:
        return not (self.console or self.page_errors or self.dialogs or self.requests)


def open_report(browser: Browser, document: str, path: Path, width: int = LAPTOP) -> tuple[Page, Watch]:
    """Open the report as a user would (a file), recording console output, errors, dialogs and requests."""
    path.write_text(document, encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 900})
    watch = Watch()

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            watch.console.append(f"{message.type}: {message.text}")

    def on_dialog(dialog: Dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.on("dialog", on_dialog)
    page.on("request", lambda request: None if request.url == path.as_uri() else watch.requests.append(request.url))
    page.goto(path.as_uri())
    return page, watch


def column(page: Page, index: int) -> list[str]:
    return page.locator(f"#findings tbody tr:not([hidden]) td:nth-child({index})").all_inner_texts()


def visible_rows(page: Page) -> int:
    return page.evaluate("""() => Array.from(document.querySelectorAll("#findings tbody tr"))
        .filter(row => row.checkVisibility()).length""")


def test_html_report_shows_the_counts_and_runs_clean(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html")

    tiles = {key: page.locator(f'[data-tile="{key}"] .tile-value').inner_text() for key in EXPECTED_COUNTS}
    assert tiles == {key: str(value) for key, value in EXPECTED_COUNTS.items()}
    assert page.title() == "AKS control-plane audit logs: CIS AKS 1.2.0 2.1.1 / C-0254"
    assert page.locator("time").first.get_attribute("datetime") == "2026-11-26T21:00:00Z"
    assert "1 disabled or deleted skipped" in page.locator(".scan-meta").inner_text()
    # The script ran and the stylesheet applied, so the CSP let both through.
    assert page.locator("#shown").inner_text() == "13 of 13 findings"
    assert (
        page.locator(".badge.s-fail").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 236, 236)"
    )
    # Reading order: what needs action first.
    assert column(page, 1)[:4] == ["FAIL"] * 4
    assert column(page, 1)[-1] == "PASS"
    link = page.get_by_role("link", name="Open in portal").first
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator("#findings tbody tr").count() == 13
    # The chart: one stacked bar per subscription, most failing first.
    assert page.locator(".chart .chart-name").all_inner_texts()[0].startswith("Contoso Staging")
    assert page.locator(".chart svg").count() == 3
    assert page.locator(".chart svg").first.get_attribute("aria-label") == "Contoso Staging: 2 fail · 1 error · 1 pass"
    assert page.locator(".chart svg").first.locator("rect").count() == 3
    assert watch.clean(), watch


def test_html_table_sorts_by_click_and_keyboard(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html")
    names = sorted((f.name for f in REALISTIC.findings), key=str.lower)
    cluster_header = page.locator("#findings th").nth(1)

    page.get_by_role("button", name="Cluster").click()
    assert column(page, 2) == names
    assert cluster_header.get_attribute("aria-sort") == "ascending"
    page.get_by_role("button", name="Cluster").click()
    assert column(page, 2) == names[::-1]
    assert cluster_header.get_attribute("aria-sort") == "descending"

    page.get_by_role("button", name="Subscription").focus()
    page.keyboard.press("Enter")
    assert column(page, 4) == sorted(column(page, 4))
    assert column(page, 4)[0] == "Contoso Production"
    assert cluster_header.get_attribute("aria-sort") is None
    assert page.locator("#findings th").nth(3).get_attribute("aria-sort") == "ascending"

    page.get_by_role("button", name="Status").click()
    assert column(page, 1) == ["FAIL"] * 4 + ["ERROR"] * 2 + ["EXEMPT"] * 2 + ["PASS"] * 5
    assert watch.clean(), watch


def test_html_table_filters_by_text_and_status(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html")

    page.get_by_label("Filter findings by status").select_option("error")
    assert column(page, 2) == ["aks-reporting-prod-neu", "aks-ml-stg-weu"]
    assert page.locator("#shown").inner_text() == "2 of 13 findings"
    page.get_by_label("Filter findings by text").fill("forbidden")
    expect(page.locator("#shown")).to_have_text("1 of 13 findings")
    assert column(page, 2) == ["aks-reporting-prod-neu"]
    page.get_by_label("Filter findings by status").select_option("")
    page.get_by_label("Filter findings by text").fill("sandbox")
    expect(page.locator("#shown")).to_have_text("4 of 13 findings")
    assert set(column(page, 4)) == {"Contoso Sandbox"}
    assert watch.clean(), watch


def test_html_text_from_azure_stays_text(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(hostile(), HOSTILE_NAMES), tmp_path / "hostile.html")

    assert page.get_by_role("cell", name=XSS_NAME, exact=True).is_visible()
    assert page.get_by_role("cell", name="</li></ul><script>alert(3)</script>").count() == 1
    assert page.get_by_role("cell", name="rg-\"quoted\" & 'single'", exact=True).count() == 1
    assert page.get_by_role("cell", name="aks-'\"&<>", exact=True).count() == 1
    assert page.get_by_role("cell", name="<img src=x onerror=alert(2)>").count() >= 1
    assert page.locator(".chart-name").filter(has_text='Tom\'s "Dev" & <b>Ops</b>').count() == 1
    assert page.evaluate("document.scripts.length") == 1  # the report's own
    assert page.locator("[onerror], [onload], [onmouseover], img, b:not(footer b, .control b)").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("#findings a").count() == 15  # of 16 findings: the javascript: portal link was dropped
    page.get_by_role("button", name="Cluster").click()  # the script still works around hostile rows
    assert column(page, 2)[0] == XSS_NAME
    page.mouse.move(0, 0)
    page.locator("td", has_text='x" onmouseover="alert(8)').hover()
    assert watch.dialogs == []
    assert watch.clean(), watch


def test_html_failing_rows_fold_away_their_fixes_which_read_as_written(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html")
    with_fixes = [finding for finding in REALISTIC.findings if finding.fixes is not None]
    assert {finding.status for finding in with_fixes} == {Status.FAIL}
    assert len(with_fixes) == EXPECTED_COUNTS["fail"]
    assert page.locator("tr.s-fail details.fix").count() == len(with_fixes)
    assert page.locator("tr:not(.s-fail) details.fix").count() == 0
    first = with_fixes[0]  # the reading order puts the failures first, in this order
    assert sorted(with_fixes, key=reading_order)[0] is first
    details = page.locator("details.fix").first
    assert not details.locator("pre").first.is_visible()  # folded: a failing row stays one row
    details.locator("summary").click()
    assert details.locator(".fix-tool").all_inner_texts() == ["Azure CLI", "Bicep", "Terraform"]
    assert first.fixes is not None
    codes = details.locator("pre code")
    assert [codes.nth(i).text_content() for i in range(3)] == [first.fixes.az, first.fixes.bicep, first.fixes.terraform]
    assert watch.clean(), watch


def test_html_fixes_stay_text_and_keep_the_row_one_row(browser: Browser, tmp_path: Path):
    name = "aks-</code></pre></details><script>alert(9)</script>"
    hostile_fix = fixes.attach(dataclasses.replace(REALISTIC.findings[3], name=name, fixes=None), "a'b", WORKSPACE)
    assert hostile_fix.fixes is not None
    document = render_html(ScanResult(CIS, SCANNED_AT, [hostile_fix], 1), NAMES)
    page, watch = open_report(browser, document, tmp_path / "hostile-fix.html")
    page.locator("details.fix summary").click()
    assert page.locator("pre code").nth(1).text_content() == hostile_fix.fixes.bicep
    assert page.evaluate("document.scripts.length") == 1
    assert page.locator("#findings tbody tr").count() == 1
    assert watch.dialogs == []
    assert watch.clean(), watch


def test_html_csp_blocks_any_other_script(browser: Browser, tmp_path: Path):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html")
    assert watch.clean(), watch
    with page.expect_event("requestfailed") as refused:
        page.evaluate(
            """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            const image = document.createElement("img");
            image.src = "https://localhost:9/pixel.png";
            document.body.appendChild(image);
        }"""
        )
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in line for line in watch.console), watch.console
    assert (refused.value.url, refused.value.failure) == ("https://localhost:9/pixel.png", "csp")
    policy = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content") or ""
    assert policy.startswith("default-src 'none'; style-src 'sha256-")


def test_html_stays_usable_with_ten_thousand_findings(browser: Browser, tmp_path: Path):
    base = REALISTIC.findings
    findings = [
        dataclasses.replace(
            base[i % len(base)],
            name=f"aks-{i:05d}",
            subscription_id=f"{i % 40:08x}-0000-4000-8000-000000000000",
            resource_id=f"/subscriptions/{i % 40:08x}-0000-4000-8000-000000000000/resourcegroups/rg/providers/"
            f"Microsoft.ContainerService/managedClusters/aks-{i:05d}",
        )
        for i in range(10_000)
    ]
    result = ScanResult(CIS, SCANNED_AT, findings, subscriptions=40)
    document = render_html(result, {})
    page, watch = open_report(browser, document, tmp_path / "big.html")

    assert page.locator('[data-tile="clusters"] .tile-value').inner_text() == "10,000"
    assert page.locator(".chart svg").count() == CHART_LIMIT
    assert page.locator(".chart-more").inner_text().startswith("10 more subscriptions")
    page.locator("#findings th button").nth(1).click()  # sorting 10,000 rows completes
    assert column(page, 2)[:2] == ["aks-00000", "aks-00001"]
    assert visible_rows(page) == PAGE_SIZE
    expect(page.locator("#shown")).to_have_text("10,000 of 10,000 findings · first 250 shown")
    page.get_by_role("button", name="Show more").click()
    expect(page.locator("#shown")).to_have_text("10,000 of 10,000 findings · first 500 shown")
    assert visible_rows(page) == 2 * PAGE_SIZE
    page.get_by_label("Filter findings by text").fill("aks-0999")
    expect(page.locator("#shown")).to_have_text("10 of 10,000 findings")
    assert page.get_by_role("button", name="Show all").is_hidden()
    page.get_by_label("Filter findings by text").fill("")
    page.get_by_label("Filter findings by status").select_option("error")
    errors = sum(finding.status is Status.ERROR for finding in findings)
    expect(page.locator("#shown")).to_have_text(f"{errors:,} of 10,000 findings · first 250 shown")
    page.get_by_role("button", name="Show all").click()
    expect(page.locator("#shown")).to_have_text(f"{errors:,} of 10,000 findings")
    assert visible_rows(page) == errors
    assert watch.clean(), watch


def axe_violations(page: Page) -> list[str]:
    """What axe-core finds against WCAG 2.0 and 2.1, levels A and AA: `rule (impact): element, why`.

    Playwright's evaluate goes through the DevTools protocol, which the page's Content-Security-Policy
    does not govern, so axe checks the report exactly as delivered, its CSP still in force.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `bash scripts/bootstrap --with-test-tools` (npm ci)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node['failureSummary']}"
        for v in results["violations"]
        for node in v["nodes"]
    ]


def sideways_overflow(page: Page) -> dict[str, int]:
    """How many CSS pixels the page, and the findings table in its box, stick out sideways (0: none)."""
    return page.evaluate("""() => {
        const wrap = document.querySelector(".table-wrap");
        return {
            page: document.scrollingElement.scrollWidth - window.innerWidth,
            table: wrap.scrollWidth - wrap.clientWidth,
        };
    }""")


def open_every_fix(page: Page) -> None:
    page.evaluate("() => document.querySelectorAll('details.fix').forEach(d => { d.open = true; })")


@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_html_report_meets_wcag_2_1_aa_by_axe(browser: Browser, tmp_path: Path, width: int):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html", width)
    assert axe_violations(page) == []
    open_every_fix(page)
    assert axe_violations(page) == []
    assert watch.clean(), watch
    # The control: the ERROR badge in its former orange, 4.37:1 on its background, is caught.
    page.locator(".badge.s-error").first.evaluate("badge => { badge.style.color = '#b35900'; }")
    assert [line.split(" ")[0] for line in axe_violations(page)] == ["color-contrast"]


@pytest.mark.parametrize("width", [PHONE, LARGER_PHONE])
def test_html_report_fits_a_phone_without_sideways_scrolling(browser: Browser, tmp_path: Path, width: int):
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), tmp_path / "report.html", width)

    assert sideways_overflow(page) == {"page": 0, "table": 0}
    bars = page.locator(".chart svg").evaluate_all("bars => bars.map(bar => bar.getBoundingClientRect().width)")
    assert len(bars) == 3
    assert min(bars) > width / 2  # a bar of its own line, not squeezed beside the name
    # Each finding is a block of labelled cells, the labels written from the column headers.
    first = page.locator("#findings tbody tr").first
    labels = first.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
    assert labels == [
        "none",
        "none",
        *(f'"{label}"' for label in ("Resource group", "Subscription", "Location", "Missing categories", "Reasons")),
        "none",
    ]
    assert first.get_by_role("link", name="Open in portal").is_visible()
    # Sorting and filtering still work on the stacked rows.
    page.get_by_role("button", name="Cluster").click()
    assert column(page, 2) == sorted((f.name for f in REALISTIC.findings), key=str.lower)
    page.get_by_label("Filter findings by status").select_option("error")
    assert visible_rows(page) == 2
    assert sideways_overflow(page) == {"page": 0, "table": 0}
    page.get_by_label("Filter findings by status").select_option("fail")
    open_every_fix(page)  # the long commands and resource IDs wrap inside their cell
    assert page.locator("details.fix pre").first.is_visible()
    assert sideways_overflow(page) == {"page": 0, "table": 0}
    assert watch.clean(), watch


@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_html_a_long_reason_without_break_points_wraps_instead_of_widening_the_page(
    browser: Browser, tmp_path: Path, width: int
):
    token = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 63)[:2000]  # say, a key in an error message: no break point
    long = dataclasses.replace(REALISTIC.findings[3], reasons=(token,))
    document = render_html(dataclasses.replace(REALISTIC, findings=[*REALISTIC.findings, long]), NAMES)
    page, watch = open_report(browser, document, tmp_path / "long.html", width)

    assert sideways_overflow(page) == {"page": 0, "table": 0}
    cell = page.locator("td.reasons", has_text=token[:40])
    assert cell.evaluate("c => c.getBoundingClientRect().right") <= width
    assert cell.evaluate("c => c.getBoundingClientRect().height") > 100  # wrapped onto many lines
    assert watch.clean(), watch


def screenshot(browser: Browser, path: Path, workdir: Path) -> None:
    """The README's picture: the realistic report at a laptop's width, whole page."""
    page, watch = open_report(browser, render_html(REALISTIC, NAMES), workdir / "report.html")
    page.screenshot(path=str(path), full_page=True)
    assert watch.clean(), watch


def test_screenshot_of_the_report_renders(browser: Browser, tmp_path: Path):
    target = tmp_path / "report.png"
    screenshot(browser, target, tmp_path)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1360  # IHDR width


if __name__ == "__main__":
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as workdir:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        screenshot(chromium, ROOT / "docs" / "html-report.png", Path(workdir))
        chromium.close()
