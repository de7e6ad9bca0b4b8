"""The demo (`python -m azsim demo`, also reached as `python -m auditor demo`): scan, findings out, the reaction
path and remediation, on the simulated tenant."""

from __future__ import annotations

import io
import json
import re

from auditor.cli import main


def test_demo_runs_the_whole_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert main(["demo"], stdout=out, stderr=io.StringIO()) == 0
    text = out.getvalue()
    assert "16 clusters in 4 subscriptions: 4 pass, 9 fail, 2 exempt, 1 error" in text
    assert "1 without the AKS resource provider, so no clusters" in text
    assert re.search(r"^FAIL +aks-billing-prod-weu .*which no longer exists \(404 ResourceNotFound\)", text, re.M)
    assert re.search(r"^FAIL +aks-telemetry-prod-neu .*dataIngestionStatus OverQuota; the cap resets at", text, re.M)
    configuration_only = text.split("judging configuration only", 1)[1].split("Reacting to changes", 1)[0]
    assert re.findall(r"^  (PASS|FAIL) (\S+):", configuration_only, flags=re.M) == [
        ("PASS", "aks-billing-prod-weu"),
        ("PASS", "aks-telemetry-prod-neu"),
    ]
    assert "the simulated Event Grid topic received 16 CloudEvents" in text
    fix = re.search(r"^  (az monitor diagnostic-settings create .*)$", text, re.M)
    assert fix is not None  # a fix to paste, with the workspace left to its owner
    assert '--workspace "$WORKSPACE_ID"' in fix[1]
    steps = re.findall(r"^  (FAIL|PASS) (\S+):", text.split("Reacting to changes", 1)[1], flags=re.MULTILINE)
    assert steps == [
        ("FAIL", "aks-newapp-prod-weu"),
        ("PASS", "aks-newapp-prod-weu"),
        ("FAIL", "aks-payments-prod-weu"),
    ]
    assert (
        "setting send-to-security-law was deleted by dana.kowalski@contoso.com from 203.0.113.42" in text
    )  # the drift step names who did it
    assert text.count(": planned: ") == text.count(": applied: ") == 9
    assert (
        "aks-analytics-muc: failed: no change to enable kube-audit, kube-audit-admin (remediation cannot help" in text
    )
    assert "Read-only re-scan: 13 pass, 1 fail, 2 exempt, 1 error" in text
    report = (tmp_path / "demo-output" / "report.html").read_text()
    assert "aks-orders-prod-weu" in report
    message = json.loads((tmp_path / "demo-output" / "teams-message.json").read_text())
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
