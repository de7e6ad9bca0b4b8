"""Settings: the documented names and defaults, and one clear line for every bad value."""

from __future__ import annotations

import pytest

from auditor.model import Destination
from auditor.settings import ConfigError, Settings

SUB_A = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
SUB_B = "3c2a7b44-9f1e-4a55-8a7d-1f2e3d4c5b6a"


def test_defaults_are_the_contract_defaults():
    settings = Settings.from_env({})
    assert settings.required_categories == ("kube-audit", "kube-audit-admin")
    assert settings.accepted_destinations == {Destination.WORKSPACE, Destination.STORAGE, Destination.PARTNER}
    assert settings.allowed_workspaces == ()
    assert settings.exempt_tag == "aks-audit-exempt"
    assert settings.cloud.name == "AzurePublicCloud"
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.subscriptions == ()
    assert settings.max_concurrency == 32
    assert settings.http_timeout_seconds == 20.0


def test_values_are_parsed_and_normalised():
    settings = Settings.from_env(
        {
            "AUDITOR_REQUIRED_CATEGORIES": " Kube-Audit , kube-audit,guard ",
            "AUDITOR_ACCEPTED_DESTINATIONS": "Workspace,EVENTHUB",
            "AUDITOR_SUBSCRIPTIONS": f"{SUB_A.upper()}, {SUB_B},{SUB_A}",
            "AUDITOR_MAX_CONCURRENCY": "8",
            "AUDITOR_HTTP_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.required_categories == ("kube-audit", "guard")
    assert settings.accepted_destinations == {Destination.WORKSPACE, Destination.EVENTHUB}
    assert settings.subscriptions == (SUB_A, SUB_B)
    assert (settings.max_concurrency, settings.http_timeout_seconds) == (8, 2.5)


@pytest.mark.parametrize(
    ("cloud", "endpoint", "portal"),
    [
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://portal.azure.us"),
        ("azurechinacloud", "https://management.chinacloudapi.cn", "https://portal.azure.cn"),
    ],
)
def test_cloud_picks_endpoint_audience_and_portal(cloud, endpoint, portal):
    settings = Settings.from_env({"AUDITOR_CLOUD": cloud})
    assert (settings.arm_endpoint, settings.arm_audience, settings.cloud.portal) == (endpoint, endpoint, portal)


def test_arm_endpoint_override_is_also_the_audience_unless_given():
    settings = Settings.from_env({"AUDITOR_ARM_ENDPOINT": "https://management.local.azurestack.external/"})
    assert settings.arm_endpoint == settings.arm_audience == "https://management.local.azurestack.external"
    custom = Settings.from_env(
        {
            "AUDITOR_ARM_ENDPOINT": "https://management.local.azurestack.external",
            "AUDITOR_ARM_AUDIENCE": "https://management.adfs.azurestack.local/4de154de",
        }
    )
    assert custom.arm_audience == "https://management.adfs.azurestack.local/4de154de"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUDITOR_CLOUD", "AzureGermanCloud", "AUDITOR_CLOUD='AzureGermanCloud' is not one of"),
        ("AUDITOR_ARM_ENDPOINT", "http://127.0.0.1:8443", "must be an https:// URL"),
        ("AUDITOR_ARM_ENDPOINT", "https://", "must be an https:// URL"),
        ("AUDITOR_REQUIRED_CATEGORIES", ",", "must name at least one log category"),
        ("AUDITOR_REQUIRED_CATEGORIES", "kube audit", "is not a log category name"),
        (
            "AUDITOR_ACCEPTED_DESTINATIONS",
            "workspace,blob",
            "'blob' is not one of workspace, storage, partner, eventhub",
        ),
        ("AUDITOR_ALLOWED_WORKSPACES", "/subscriptions/x/workspaces/y", "is not a Log Analytics workspace resource ID"),
        ("AUDITOR_SUBSCRIPTIONS", "prod", "AUDITOR_SUBSCRIPTIONS: 'prod' is not a subscription ID"),
        ("AUDITOR_MAX_CONCURRENCY", "many", "is not a whole number"),
        ("AUDITOR_MAX_CONCURRENCY", "0", "is out of range"),
        ("AUDITOR_HTTP_TIMEOUT_SECONDS", "-1", "is out of range"),
        ("AUDITOR_HTTP_TIMEOUT_SECONDS", "nan", "is not a number"),
        ("AUDITOR_EXEMPT_TAG", "a/b", "is not a valid Azure tag name"),
    ],
)
def test_bad_values_raise_one_line_naming_the_setting(name, value, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    text = str(caught.value)
    assert message in text
    assert name in text or name == "AUDITOR_ACCEPTED_DESTINATIONS"
    assert "\n" not in text


def test_blank_values_mean_the_default():
    assert Settings.from_env({"AUDITOR_MAX_CONCURRENCY": "  ", "AUDITOR_CLOUD": ""}) == Settings.from_env({})
