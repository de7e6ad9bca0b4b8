"""Bad input is one line and exit 2: hostile settings, trust files and documents, through the real CLI and the
function's queue and Event Grid triggers. Every document here is a local file or an in-memory value."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, arm_event, run_cli
from test_function_app import call, delivered, queue_message

from auditor import json_input
from auditor.azure.storage import StorageTarget
from auditor.events import parse_event
from auditor.settings import DEFAULT_WEBHOOK_HOSTS, ConfigError, Settings
from azsim import Tenant

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
DEEP = "[" * 100_000 + "]" * 100_000  # far past the json module's recursion limit
SIGNATURE = "sig-Zm9vYmFyIHNlY3JldA"  # stands for a Workflows URL's signature: must never be printed


@pytest.fixture
def tenant() -> Tenant:
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-bare", resource_group="rg-prod")
    return tenant


def python_m_auditor(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in its own process, so a traceback or a hang would show."""
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def assert_one_line_exit_2(completed: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert (completed.returncode, completed.stdout) == (2, ""), completed.stderr
    assert completed.stderr.startswith("auditor: ")
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    for text in expected:
        assert text in completed.stderr


# --- TLS trust ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("kind", ["missing", "not a certificate", "directory", "device"])
def test_an_unusable_ca_bundle_is_one_line_before_any_call(simulate, tenant, tmp_path, variable, kind):
    sim = simulate(tenant)
    path = {
        "missing": tmp_path / "missing.pem",
        "not a certificate": tmp_path / "notes.pem",
        "directory": tmp_path,
        "device": Path("/dev/zero"),
    }[kind]
    if kind == "not a certificate":
        path.write_text("-----BEGIN NOTES-----\nnot a certificate\n-----END NOTES-----\n")
    completed = python_m_auditor("scan", **{variable: str(path)})
    assert_one_line_exit_2(completed, f"{variable}={path}: not a readable PEM certificate bundle")
    assert sim.requests == []


# --- settings, through the CLI -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AUDITOR_ARM_ENDPOINT", "https://[::1", "AUDITOR_ARM_ENDPOINT is not a URL (its host cannot be read"),
        ("AUDITOR_ARM_ENDPOINT", "https://127.0.0.1:99999", "AUDITOR_ARM_ENDPOINT has a port that is not a number"),
        ("AUDITOR_LOGS_ENDPOINT", "https://127.0.0.1:abc", "AUDITOR_LOGS_ENDPOINT has a port that is not a number"),
        ("AUDITOR_ARM_AUDIENCE", "https://127.0.0.1:\uff13\uff12", "AUDITOR_ARM_AUDIENCE must be an https:// URL of"),
        ("AUDITOR_ARM_ENDPOINT", "https://user:hunter2pw@127.0.0.1", "AUDITOR_ARM_ENDPOINT must not carry a user name"),
        ("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", "https://127.0.0.1/api/events?x=1", "must have no query or fragment"),
        ("AUDITOR_ARM_ENDPOINT", "https://127.0.0.1/#frag", "AUDITOR_ARM_ENDPOINT must have no query or fragment"),
        ("AUDITOR_ARM_ENDPOINT", "https://exa mple/", "AUDITOR_ARM_ENDPOINT must be an https:// URL of ASCII"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*.com", "'*.com' is broader than one registered domain (com is a public"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*.co.uk", "'*.co.uk' is broader than one registered domain"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*.azurewebsites.net", "is broader than one registered domain"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*", "'*' is not a host name or *.domain pattern"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*.0.0.1", "'*.0.0.1' wildcards an IP address"),
        ("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "*.::1", "'*.::1' wildcards an IP address"),
        ("AUDITOR_MAX_CONCURRENCY", "\uff13\uff12", "AUDITOR_MAX_CONCURRENCY='\uff13\uff12' is not a whole number"),
        ("AUDITOR_HTTP_TIMEOUT_SECONDS", "\uff12.5", "AUDITOR_HTTP_TIMEOUT_SECONDS='\uff12.5' is not a number"),
        ("AUDITOR_MAX_CONCURRENCY", "1_6", "AUDITOR_MAX_CONCURRENCY='1_6' is not a whole number"),
        ("AUDITOR_SCAN_SCHEDULE", "whenever", "AUDITOR_SCAN_SCHEDULE='whenever' is not an NCRONTAB expression"),
        ("AzureWebJobsStorage__accountName", "Not_A_Name", "'Not_A_Name' is not a storage account name"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(simulate, tenant, monkeypatch, name, value, expected):
    sim = simulate(tenant)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv(name, value)
    code, out, err = run_cli("scan")
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1
    assert expected in err
    assert "hunter2pw" not in err
    assert sim.requests == []


def test_the_teams_url_is_checked_without_being_echoed(simulate, tenant, monkeypatch):
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    for url in (f"https://127.0.0.1:99999/workflows?sig={SIGNATURE}", f"https://u:{SIGNATURE}@127.0.0.1/x"):
        monkeypatch.setenv("AUDITOR_TEAMS_WEBHOOK_URL", url)
        code, out, err = run_cli("scan")
        assert (code, out, err.count("\n")) == (2, "", 1), err
        assert err.startswith("auditor: AUDITOR_TEAMS_WEBHOOK_URL ")
        assert SIGNATURE not in err
    assert sim.requests == []


def test_a_teams_workflows_url_keeps_its_query_and_the_defaults_are_valid_patterns():
    teams = f"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig={SIGNATURE}"
    settings = Settings.from_env(
        {"AUDITOR_TEAMS_WEBHOOK_URL": teams, "AUDITOR_WEBHOOK_ALLOWED_HOSTS": ",".join(DEFAULT_WEBHOOK_HOSTS)}
    )
    assert settings.notifications.teams_webhook_url is not None
    assert settings.notifications.teams_webhook_url.reveal() == teams
    assert settings.notifications.allowed_hosts == DEFAULT_WEBHOOK_HOSTS
    narrow = Settings.from_env({"AUDITOR_WEBHOOK_ALLOWED_HOSTS": "*.azure.com, 127.0.0.1, ::1, *.contoso.local"})
    assert narrow.notifications.allowed_hosts == ("*.azure.com", "127.0.0.1", "::1", "*.contoso.local")


# --- AUDITOR_SCAN_SCHEDULE ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "0 0 * * * *",
        "0 */5 * * * *",
        "0 0 9-17 * * 1-5",
        "0 30 9 * Jan Mon",
        "0 30 9 * january MONDAY",
        "0 0 0 1,15 * *",
        "5/10 0-30/5 */6 * * *",
        "0  0   *  * * *",
    ],
)
def test_ncrontab_schedules_azure_functions_accepts_are_accepted(schedule):
    Settings.from_env({"AUDITOR_SCAN_SCHEDULE": schedule})


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 0 * * *", "is not an NCRONTAB expression of six fields"),
        ("0 0 * * * * *", "is not an NCRONTAB expression of six fields"),
        ("00:30:00", "the TimeSpan form runs only on an App Service plan"),
        ("0 60 * * * *", "minute field '60'"),
        ("0 0 24 * * *", "hour field '24'"),
        ("0 0 0 0 * *", "day field '0'"),
        ("0 0 0 * 13 *", "month field '13'"),
        ("0 0 0 * * 7", "day-of-week field '7'"),
        ("0 */0 * * * *", "step '0' is not a whole number from 1 to 60"),
        ("0 0 17-9 * * *", "range '17-9' runs backwards"),
        ("0 0 0 * J *", "month field 'J'"),
        ("0 \uff13 * * * *", "minute field '\uff13'"),
        ("0 0 0 ? * *", "day field '?'"),
        ("0 0 0 L * *", "day field 'L'"),
        ("0 0 0 1,,2 * *", "day field '1,,2'"),
        ("0 /5 * * * *", "minute field '/5'"),
    ],
)
def test_a_schedule_the_timer_would_not_run_is_refused(schedule, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"AUDITOR_SCAN_SCHEDULE": schedule})
    assert str(caught.value).startswith(f"AUDITOR_SCAN_SCHEDULE={schedule!r}")
    assert message in str(caught.value)


def test_the_sample_and_infra_default_schedules_parse():
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]["AUDITOR_SCAN_SCHEDULE"]
    bicep = (ROOT / "infra" / "main.bicep").read_text()
    match = re.search(r"^param scanSchedule string = '([^']*)'$", bicep, re.MULTILINE)
    assert match
    for schedule in (sample, match.group(1)):
        Settings.from_env({"AUDITOR_SCAN_SCHEDULE": schedule})


# --- storage URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {
                "AzureWebJobsStorage__queueServiceUri": "https://127.0.0.1:99999/q",
                "AzureWebJobsStorage__tableServiceUri": "https://127.0.0.1/t",
            },
            "AzureWebJobsStorage__queueServiceUri has a port that is not a number from 1 to 65535",
        ),
        (
            {
                "AzureWebJobsStorage__queueServiceUri": "https://127.0.0.1/q",
                "AzureWebJobsStorage__tableServiceUri": "https://k:hunter2pw@127.0.0.1/t",
            },
            "AzureWebJobsStorage__tableServiceUri must not carry a user name",
        ),
        (
            {
                "AzureWebJobsStorage__queueServiceUri": "https://[::1",
                "AzureWebJobsStorage__tableServiceUri": "https://127.0.0.1/t",
            },
            "AzureWebJobsStorage__queueServiceUri is not a URL (its host cannot be read",
        ),
        ({"AzureWebJobsStorage__accountName": "ab"}, "'ab' is not a storage account name"),
        ({"AzureWebJobsStorage__accountName": "evil#name"}, "is not a storage account name"),
    ],
)
def test_storage_service_urls_and_account_names_are_checked(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        StorageTarget.from_env(environ)
    assert "hunter2pw" not in str(caught.value)


# --- documents: handle-event -------------------------------------------------------------------


def test_a_document_nested_100000_deep_is_one_line_not_a_recursion_error(simulate, tenant, tmp_path):
    sim = simulate(tenant)
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    assert_one_line_exit_2(python_m_auditor("handle-event", str(path)), f"{path} is nested deeper than 32 levels")
    assert_one_line_exit_2(python_m_auditor("handle-event", "-", stdin=DEEP), "standard input is nested deeper")
    assert sim.requests == []


def test_an_event_nested_past_the_limit_is_refused_though_json_reads_it(simulate, tenant, tmp_path):
    sim = simulate(tenant)
    event = arm_event(WRITE, CLUSTER_WRITE, tenant.subscriptions[0].clusters[0].id, event_id="e-deep")
    event["data"]["extra"] = json.loads("[" * 40 + "]" * 40)
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event]))
    assert_one_line_exit_2(python_m_auditor("handle-event", str(path)), f"{path} is nested deeper than 32 levels")
    assert sim.requests == []


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_handle_event_reads_only_a_regular_file(simulate, tenant, tmp_path, kind):
    simulate(tenant)
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "events.fifo", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes: opening it for reading the usual way would wait for ever
    assert_one_line_exit_2(python_m_auditor("handle-event", str(path)), f"cannot read {path}: not a regular file")


def test_reading_stops_one_byte_past_the_limit():
    stdin = io.TextIOWrapper(io.BytesIO(b"[" + b" " * 10_000 + b"]"))
    with pytest.raises(json_input.BadDocument, match="standard input is larger than 100 bytes"):
        json_input.read_file("-", stdin, 100)
    assert stdin.buffer.tell() == 101


def test_a_file_that_is_not_utf8_is_one_line(simulate, tenant, tmp_path):
    simulate(tenant)
    path = tmp_path / "latin1.json"
    path.write_bytes('{"id": "caf\u00e9"}'.encode("latin-1"))
    assert_one_line_exit_2(python_m_auditor("handle-event", str(path)), f"{path} is not UTF-8 text (byte 11)")


# --- documents: the function's triggers ----------------------------------------------------------


def auditor_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "auditor" and r.levelname == "ERROR"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 30_000 + "]" * 30_000, "queue message is nested deeper than 32 levels"),  # under 64 KiB
        (json.dumps({"kind": "scan", "pad": "x" * 70_000}), "queue message is larger than 64 KiB"),
        ('{"kind": "scan", "subscriptionId": NaN}', "queue message is not JSON: NaN is not a JSON value"),
    ],
)
def test_a_hostile_queue_message_is_dropped_with_one_line(simulate, tenant, caplog, body, reason):
    sim = simulate(tenant)
    call("run_check", queue_message(body))  # no exception: retrying cannot fix it
    assert auditor_errors(caplog) == [f"C-0254 dropped malformed queue message msg-1: {reason}"]
    assert sim.requests == []


def test_an_oversized_or_too_deep_event_is_dropped_by_the_event_grid_trigger(simulate, tenant, caplog):
    sim = simulate(tenant)
    cluster_id = tenant.subscriptions[0].clusters[0].id
    big = arm_event(WRITE, CLUSTER_WRITE, cluster_id, event_id="e-big")
    big["data"]["padding"] = "x" * json_input.MAX_EVENT_BYTES
    deep = arm_event(WRITE, CLUSTER_WRITE, cluster_id, event_id="e-deep")
    deep["data"]["extra"] = json.loads("[" * 40 + "]" * 40)
    call("on_resource_event", delivered(big))
    call("on_resource_event", delivered(deep))
    assert auditor_errors(caplog) == [
        "C-0254 dropped malformed event e-big: event is larger than 1 MiB",
        "C-0254 dropped malformed event e-deep: event is nested deeper than 32 levels",
    ]
    assert sim.requests == []


def test_claims_sent_as_deeply_nested_json_text_are_ignored_not_a_recursion_error(simulate, tenant, caplog):
    simulate(tenant)
    event = arm_event(WRITE, CLUSTER_WRITE, tenant.subscriptions[0].clusters[0].id, event_id="e-claims")
    event["data"]["claims"] = '{"a":' * 100_000 + "1" + "}" * 100_000  # older schemas send claims as text
    call("on_resource_event", delivered(event))
    assert not any("dropped" in m for m in auditor_errors(caplog))


def test_claims_text_with_a_lone_surrogate_is_read_not_a_unicode_error():
    # JSON may escape a lone surrogate ("\ud800"): decoded, the claims text holds one, which UTF-8 cannot encode.
    cluster = (
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg"
        "/providers/Microsoft.ContainerService/managedClusters/aks"
    )
    event = arm_event(WRITE, CLUSTER_WRITE, cluster, event_id="e-surrogate")
    event["data"]["claims"] = json.dumps({"name": "mallory\ud800"}, ensure_ascii=False)
    assert parse_event(event).id == "e-surrogate"
