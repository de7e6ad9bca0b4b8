"""One definition of the control: every surface names it alike, and names the categories the run requires."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from support import CIS

from auditor.control import CUSTOM_PROFILE, join_names
from auditor.control.c0254 import C0254
from auditor.model import Cluster
from auditor.notify import email
from auditor.notify.cards import digest_messages, notice_card
from auditor.notify.eventgrid import cloud_event
from auditor.notify.notices import Notice, NoticeKind
from auditor.report.document import ScanResult
from auditor.report.html import render_html
from auditor.report.sarif import render_sarif
from auditor.rule import evaluate
from auditor.settings import ConfigError, Settings, SmtpSettings

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = Cluster(
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-1",
    "aks-1",
    SUB,
    "rg",
)
SMTP = SmtpSettings("127.0.0.1", 587, "", None, True, "auditor@contoso.com", ("secops@contoso.com",))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def surfaces(settings: Settings) -> dict[str, str]:
    """Every surface that names the control, rendered for one failing cluster, as text."""
    applied = settings.applied_control()
    finding = evaluate(CLUSTER, [], None, settings.policy(), NOW.date())
    result = ScanResult(applied, NOW, [finding], 1)
    notice = Notice(finding, NoticeKind.NEW)
    message = email.compose([notice], SMTP, {}, applied)
    return {
        "json": json.dumps(result.to_json()),
        "sarif": json.dumps(render_sarif(result)),
        "html": render_html(result, {}),
        "card": json.dumps(notice_card(notice, applied)),
        "digest": json.dumps(digest_messages([notice] * 5, result.summary(), NOW, {}, applied)),
        "email": f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}",
        "cloudevent": json.dumps(cloud_event(finding, NOW).type),
    }


def test_every_surface_names_the_control_by_the_same_id_title_and_link():
    rendered = surfaces(Settings())
    for surface, text in rendered.items():
        assert C0254.id in text or C0254.event_type in text, surface
    for surface in ("json", "sarif", "html"):
        assert C0254.title in rendered[surface], surface
    for surface in ("sarif", "html"):
        assert C0254.help_url in rendered[surface], surface
    for surface in ("html", "card", "digest", "email"):
        assert C0254.label in rendered[surface].replace("\\u00b7", "·"), surface


def test_sentences_name_the_categories_the_settings_require_not_the_cis_pair():
    custom = Settings.from_env({"AUDITOR_REQUIRED_CATEGORIES": "kube-audit-admin,guard"})
    rendered = surfaces(custom)
    for surface in ("sarif", "html", "card", "email"):
        assert "kube-audit-admin and guard" in rendered[surface].replace("<code>", "").replace("</code>", ""), surface
        assert "kube-audit and kube-audit-admin" not in rendered[surface], surface
    assert json.loads(rendered["json"])["control"]["profile"] == CUSTOM_PROFILE


@pytest.mark.parametrize(
    ("environment", "profile", "categories"),
    [
        ({}, "cis", ["kube-audit", "kube-audit-admin"]),
        ({"AUDITOR_PROFILE": "cost-aware"}, "cost-aware", ["kube-audit-admin", "guard"]),
        ({"AUDITOR_PROFILE": "COST-AWARE"}, "cost-aware", ["kube-audit-admin", "guard"]),
        ({"AUDITOR_PROFILE": "cost-aware", "AUDITOR_REQUIRED_CATEGORIES": "kube-audit"}, "custom", ["kube-audit"]),
        ({"AUDITOR_REQUIRED_CATEGORIES": "kube-audit-admin,kube-audit"}, "custom", ["kube-audit-admin", "kube-audit"]),
    ],
)
def test_the_profile_picks_the_categories_and_the_document_says_which_judged(environment, profile, categories):
    settings = Settings.from_env(environment)
    assert list(settings.required_categories) == categories
    control = json.loads(surfaces(settings)["json"])["control"]
    assert (control["profile"], control["requiredCategories"]) == (profile, categories)
    rule = json.loads(surfaces(settings)["sarif"])["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["properties"]["profile"] == profile


def test_an_unknown_profile_is_one_line_naming_the_choices():
    with pytest.raises(ConfigError, match=r"^AUDITOR_PROFILE='frugal' is not one of cis, cost-aware$"):
        Settings.from_env({"AUDITOR_PROFILE": "frugal"})


def test_the_default_is_the_cis_profile_as_the_benchmark_remediation_enables_it():
    assert (CIS.profile, CIS.categories) == ("cis", ("kube-audit", "kube-audit-admin"))
    assert C0254.profiles["cost-aware"].categories == ("kube-audit-admin", "guard")


def test_categories_read_as_prose():
    assert [join_names(n) for n in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]
