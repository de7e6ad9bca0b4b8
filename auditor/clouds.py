"""Azure clouds the auditor knows: where ARM lives, which token audience it wants, where the portal is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cloud:
    """One Azure cloud's endpoints: ARM, token audience, portal, sign-in authority."""

    name: str
    arm_endpoint: str
    audience: str
    portal: str
    authority_host: str
    logs_endpoint: str  # the Log Analytics query API (Azure docs, "Azure Monitor Log Analytics API request format")
    # Where storage accounts' blob endpoints are (Azure docs, "Storage account overview", standard endpoints
    # `<account>.blob.<suffix>`; in the public cloud also "Azure DNS zone endpoints",
    # `<account>.z[00-99].blob.storage.azure.net`).
    blob_hosts: tuple[str, ...]


CLOUDS: dict[str, Cloud] = {
    cloud.name.lower(): cloud
    for cloud in (
        Cloud(
            "AzurePublicCloud",
            "https://management.azure.com",
            "https://management.azure.com",
            "https://portal.azure.com",
            "login.microsoftonline.com",
            "https://api.loganalytics.io",
            ("*.blob.core.windows.net", "*.blob.storage.azure.net"),
        ),
        Cloud(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net",
            "https://portal.azure.us",
            "login.microsoftonline.us",
            "https://api.loganalytics.us",
            ("*.blob.core.usgovcloudapi.net",),
        ),
        Cloud(
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            "https://management.chinacloudapi.cn",
            "https://portal.azure.cn",
            "login.chinacloudapi.cn",
            "https://api.loganalytics.azure.cn",
            ("*.blob.core.chinacloudapi.cn",),
        ),
    )
}
