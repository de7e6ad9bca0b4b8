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
        ),
        Cloud(
            "AzureUSGovernment",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net",
            "https://portal.azure.us",
            "login.microsoftonline.us",
            "https://api.loganalytics.us",
        ),
        Cloud(
            "AzureChinaCloud",
            "https://management.chinacloudapi.cn",
            "https://management.chinacloudapi.cn",
            "https://portal.azure.cn",
            "login.chinacloudapi.cn",
            "https://api.loganalytics.azure.cn",
        ),
    )
}
