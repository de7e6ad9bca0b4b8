"""Ready-made tenants: a small believable one for the demo, a large deterministic one for benchmarks, and a
hostile one whose every text carries control characters.

GUIDs are fixed (demo) or drawn from a seeded generator (scale) so output is stable from run to run.
"""

import random
import uuid
from typing import Any

from azsim.principals import SimPrincipal, user
from azsim.tenant import SimCluster, Tenant

DEMO_TENANT_ID = "3f8e9c1a-6b2d-4e7f-a1c5-0d9b8e7f6a54"
PRODUCTION = "6f2b7c1e-4a3d-4b8e-9f10-2c5d8e7a1b01"
STAGING = "b4e81d2a-93c7-4f56-a0b2-7d1e6c3f9a02"
SANDBOX = "0c9d5e3f-1a7b-4c28-b6e4-5f8a2d1c7e03"
LEGACY = "e7a3c2b1-58d9-4e0f-9b6a-1d4c7f2e8a04"
RESEARCH = "9d1f4b6e-2c8a-4e3b-8f5d-6a0c3e7b1d05"

_MONITORING = f"/subscriptions/{PRODUCTION}/resourceGroups/rg-monitoring/providers"
WORKSPACE = f"{_MONITORING}/Microsoft.OperationalInsights/workspaces/law-contoso-security"
STORAGE = f"{_MONITORING}/Microsoft.Storage/storageAccounts/stcontosoauditlogs"
EVENT_HUB_RULE = (
    f"{_MONITORING}/Microsoft.EventHub/namespaces/evhns-contoso-siem/authorizationrules/RootManageSharedAccessKey"
)
# A team workspace deleted last quarter (settings still name it) and one stopped by its daily cap.
DELETED_WORKSPACE = f"{_MONITORING}/Microsoft.OperationalInsights/workspaces/law-billing-2024"
CAPPED_WORKSPACE = f"{_MONITORING}/Microsoft.OperationalInsights/workspaces/law-telemetry-capped"
AUDIT = ("kube-audit", "kube-audit-admin")
_NO_RETENTION = {"enabled": False, "days": 0}


def log_entries(*categories: str, enabled: bool = True) -> list[dict[str, Any]]:
    """Log entries by category, as the REST API returns them (explicit null categoryGroup)."""
    return [
        {"category": c, "categoryGroup": None, "enabled": enabled, "retentionPolicy": dict(_NO_RETENTION)}
        for c in categories
    ]


def group_entry(group: str) -> list[dict[str, Any]]:
    return [{"category": None, "categoryGroup": group, "enabled": True, "retentionPolicy": dict(_NO_RETENTION)}]


def setting(
    logs: list[dict[str, Any]],
    workspace: str = "",
    storage: str | None = None,
    event_hub: bool = False,
    metrics: bool = True,
) -> dict[str, Any]:
    """Properties of a realistic AKS diagnostic setting (workspaceId is "" when unset, as the API answers)."""
    properties: dict[str, Any] = {"workspaceId": workspace}
    if storage:
        properties["storageAccountId"] = storage
    if event_hub:
        properties["eventHubAuthorizationRuleId"] = EVENT_HUB_RULE
        properties["eventHubName"] = "aks-diagnostics"
    properties["logs"] = logs
    properties["metrics"] = [{"category": "AllMetrics", "enabled": metrics, "retentionPolicy": dict(_NO_RETENTION)}]
    properties["logAnalyticsDestinationType"] = "Dedicated" if workspace else None
    return properties


def _tags(environment: str, owner: str, cost_center: str, **extra: str) -> dict[str, str]:
    return {"environment": environment, "owner": owner, "costCenter": cost_center, **extra}


def demo_tenant() -> Tenant:
    """Contoso: four live subscriptions (one never registered the AKS provider) and a disabled one,
    covering every pass, fail and exempt shape, a resource group with a non-ASCII name, and audit
    settings that name a deleted workspace and a workspace stopped by its daily cap."""
    tenant = Tenant(DEMO_TENANT_ID)
    prod = tenant.add_subscription("Contoso Production", PRODUCTION)
    staging = tenant.add_subscription("Contoso Staging", STAGING)
    sandbox = tenant.add_subscription("Contoso Sandbox", SANDBOX)
    legacy = tenant.add_subscription("Contoso Legacy", LEGACY, state="Disabled")
    research = tenant.add_subscription("Contoso Research", RESEARCH)
    research.unregister()  # lists answer 409 MissingSubscriptionRegistration: no clusters there
    tenant.add_workspace(WORKSPACE, retention_days=365)
    tenant.add_workspace(CAPPED_WORKSPACE).cap("OverQuota", hours_ago=3.0, resets_in_hours=5.0)
    tenant.add_storage_account(STORAGE).delete_after(400, prefix="insights-logs-")
    tenant.add_resource(EVENT_HUB_RULE, "Microsoft.EventHub/namespaces/authorizationrules")

    payments = prod.add_cluster(
        "aks-payments-prod-weu",
        "rg-payments-prod",
        "westeurope",
        _tags("production", "payments-team@contoso.com", "CC-1042"),
    )
    payments.set_setting("send-to-security-law", setting(log_entries(*AUDIT), WORKSPACE))
    checkout = prod.add_cluster(
        "aks-checkout-prod-neu",
        "rg-checkout-prod",
        "northeurope",
        _tags("production", "checkout-team@contoso.com", "CC-1043"),
    )
    checkout.set_setting("audit-category-group", setting(group_entry("audit"), WORKSPACE))
    identity = prod.add_cluster(
        "aks-identity-prod-weu",
        "rg-identity-prod",
        "westeurope",
        _tags("production", "identity-team@contoso.com", "CC-1050"),
    )
    identity.set_setting("all-logs-archive", setting(group_entry("allLogs"), storage=STORAGE))
    search = prod.add_cluster(
        "aks-search-prod-weu", "rg-search-prod", "westeurope", _tags("production", "search-team@contoso.com", "CC-1061")
    )
    search.set_setting("audit-to-law", setting(log_entries("kube-audit"), WORKSPACE))
    search.set_setting("audit-admin-archive", setting(log_entries("kube-audit-admin"), storage=STORAGE, metrics=False))
    orders = prod.add_cluster(
        "aks-orders-prod-weu", "rg-orders-prod", "westeurope", _tags("production", "orders-team@contoso.com", "CC-1044")
    )
    orders.set_setting("control-plane", setting(log_entries("kube-apiserver", "kube-audit"), WORKSPACE))
    reporting = prod.add_cluster(
        "aks-reporting-prod-neu",
        "rg-reporting-prod",
        "northeurope",
        _tags("production", "bi-team@contoso.com", "CC-1070"),
    )
    reporting.set_setting("send-to-security-law", setting(log_entries(*AUDIT), WORKSPACE))
    reporting.forbidden = True
    billing = prod.add_cluster(
        "aks-billing-prod-weu",
        "rg-billing-prod",
        "westeurope",
        _tags("production", "billing-team@contoso.com", "CC-1045"),
    )
    billing.set_setting("audit-to-billing-law", setting(log_entries(*AUDIT), DELETED_WORKSPACE))
    telemetry = prod.add_cluster(
        "aks-telemetry-prod-neu",
        "rg-telemetry-prod",
        "northeurope",
        _tags("production", "observability@contoso.com", "CC-1046"),
    )
    telemetry.set_setting("audit-to-telemetry-law", setting(log_entries(*AUDIT), CAPPED_WORKSPACE))
    prod.add_cluster(  # legal in Azure, but diagnostic settings do not support non-ASCII resource IDs
        "aks-analytics-muc",
        "rg-analytics-münchen",
        "germanywestcentral",
        _tags("production", "analytics-team@contoso.com", "CC-1080"),
    )

    staging.add_cluster(
        "aks-payments-stg-weu",
        "rg-payments-stg",
        "westeurope",
        _tags("staging", "payments-team@contoso.com", "CC-1042"),
    )
    checkout_stg = staging.add_cluster(
        "aks-checkout-stg-weu",
        "rg-checkout-stg",
        "westeurope",
        _tags("staging", "checkout-team@contoso.com", "CC-1043"),
    )
    checkout_stg.set_setting("audit-paused", setting(log_entries(*AUDIT, enabled=False), WORKSPACE))
    siem = staging.add_cluster(
        "aks-siem-stg-eus", "rg-platform-stg", "eastus", _tags("staging", "secops@contoso.com", "CC-2001")
    )
    siem.set_setting("stream-to-siem", setting(log_entries(*AUDIT), event_hub=True))
    ml = staging.add_cluster(
        "aks-ml-stg-eus", "rg-ml-stg", "eastus", _tags("staging", "data-science@contoso.com", "CC-3100")
    )
    ml.set_setting("orphaned-destination", setting(log_entries(*AUDIT)))

    sandbox.add_cluster(
        "aks-sandbox-dev-weu",
        "rg-sandbox",
        "westeurope",
        _tags("sandbox", "platform-team@contoso.com", "CC-9000", **{"aks-audit-exempt": "true"}),
    )
    sandbox.add_cluster(
        "aks-poc-gpu-weu",
        "rg-sandbox-poc",
        "westeurope",
        _tags("sandbox", "research@contoso.com", "CC-9001", **{"aks-audit-exempt": "2099-12-31"}),
    )
    sandbox.add_cluster(
        "aks-hackathon-2023",
        "rg-hackathon",
        "westeurope",
        _tags("sandbox", "devrel@contoso.com", "CC-9002", **{"aks-audit-exempt": "2024-01-31"}),
    )

    legacy.add_cluster("aks-legacy-batch", "rg-legacy", "westeurope", _tags("production", "ops@contoso.com", "CC-0001"))
    return tenant


# What a hostile answer at ARM's endpoint may carry in any text: a colour sequence painting a fake PASS, a
# carriage return and line feed, an OSC sequence that retitles the terminal, C1 CSI (U+009B) and OSC (U+009D)
# introducers, DEL, a bidi override and an isolate, a line separator, a zero-width space, a lone surrogate.
HOSTILE = "\x1b[32mPASS\x1b[0m\r\n\x1b]0;owned\x07\x9b2J\x9d0;t\x9c\x7f\u202egnp.exe\u2066x\u2069\u2028\u200b\ud800"
HOSTILE_CALLER = user("5e1c0b7a-2d3f-4a6b-8c9d-0e1f2a3b4c5d", f"Mallory{HOSTILE}", f"mallory{HOSTILE}@contoso.com")


def hostile_tenant(workspace: str = WORKSPACE) -> tuple[Tenant, SimPrincipal]:
    """Control characters (HOSTILE) in a subscription's display name, tags, an exemption tag, a setting's
    name, a workspace ID, a cluster name ARM's naming rules forbid, and a caller's name (the principal is
    returned: a test deletes aks-dropped's setting as it, for the Activity Log and an event). Real ARM
    refuses or never says most of it, but the auditor must take whatever answers at ARM's endpoint as
    untrusted. A resource group with a non-ASCII name stays readable beside them. Clusters send to
    `workspace` (a test's); an ARM error message is a Fault's (`Fault(message=HOSTILE)`)."""
    tenant = Tenant(DEMO_TENANT_ID)
    tenant.add_principal(HOSTILE_CALLER)
    subscription = tenant.add_subscription(f"Contoso{HOSTILE}", PRODUCTION)
    tagged = subscription.add_cluster(
        "aks-tagged", "rg-analytics-münchen", tags={"owner": HOSTILE, "aks-audit-exempt": f"2026-12-31{HOSTILE}"}
    )
    tagged.set_setting(f"audit{HOSTILE}", setting(log_entries("kube-audit"), workspace))
    elsewhere = subscription.add_cluster("aks-elsewhere", "rg-analytics-münchen")
    elsewhere.set_setting("audit", setting(log_entries(*AUDIT), f"{workspace}{HOSTILE}"))
    subscription.add_cluster(f"aks{HOSTILE}", "rg-analytics-münchen")
    subscription.add_cluster("aks-unreadable", "rg-analytics-münchen")
    dropped = subscription.add_cluster("aks-dropped", "rg-analytics-münchen")
    dropped.set_setting("audit-to-law", setting(log_entries(*AUDIT), workspace))  # an event says who deleted it
    return tenant, HOSTILE_CALLER


def scale_tenant(
    subscriptions: int = 8,
    clusters_per_subscription: int = 100,
    seed: int = 0,
    fail_ratio: float = 0.3,
    workspaces: int = 1,
    storage_accounts: int = 1,
) -> Tenant:
    """A large tenant for benchmarks; the same arguments always give the same tenant. Clusters send to
    `workspaces` workspaces and `storage_accounts` storage accounts in a central logging subscription."""
    rng = random.Random(seed)

    def guid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    tenant = Tenant(guid())
    logs = [WORKSPACE] + [f"{WORKSPACE}-{n:02d}" for n in range(1, workspaces)]
    archives = [STORAGE] + [f"{STORAGE}{n:02d}" for n in range(1, storage_accounts)]
    for workspace in logs:
        tenant.add_workspace(workspace, retention_days=365)
    for archive in archives:
        tenant.add_storage_account(archive)
    locations = ("westeurope", "northeurope", "eastus", "eastus2", "uksouth", "swedencentral")
    teams = ("payments", "checkout", "identity", "search", "orders", "data", "platform", "web")
    for s in range(subscriptions):
        subscription = tenant.add_subscription(f"Scale {s:03d}", guid())
        for i in range(clusters_per_subscription):
            team = teams[i % len(teams)]
            cluster = subscription.add_cluster(
                f"aks-{team}-{s:03d}-{i:04d}",
                f"rg-{team}-{s:03d}",
                rng.choice(locations),
                _tags("production", f"{team}@contoso.com", f"CC-{1000 + i % 50}"),
            )
            shapes = _FAILING if rng.random() < fail_ratio else _PASSING
            n = s * clusters_per_subscription + i
            shapes[rng.randrange(len(shapes))](cluster, logs[n % len(logs)], archives[n % len(archives)])
    return tenant


def _pass_by_category(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("send-to-law", setting(log_entries(*AUDIT), workspace))


def _pass_by_group(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("audit-group", setting(group_entry("audit"), workspace))


def _pass_all_logs_storage(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("archive", setting(group_entry("allLogs"), storage=storage))


def _pass_split(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("audit-to-law", setting(log_entries("kube-audit"), workspace))
    cluster.set_setting("audit-admin-archive", setting(log_entries("kube-audit-admin"), storage=storage))


def _fail_no_settings(cluster: SimCluster, workspace: str, storage: str) -> None:
    """Nothing to add: no diagnostic setting at all."""


def _fail_missing_admin(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("send-to-law", setting(log_entries("kube-audit"), workspace))


def _fail_disabled(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("send-to-law", setting(log_entries(*AUDIT, enabled=False), workspace))


def _fail_event_hub_only(cluster: SimCluster, workspace: str, storage: str) -> None:
    cluster.set_setting("siem", setting(log_entries(*AUDIT), event_hub=True))


_PASSING = (_pass_by_category, _pass_by_group, _pass_all_logs_storage, _pass_split)
_FAILING = (_fail_no_settings, _fail_missing_admin, _fail_disabled, _fail_event_hub_only)
