"""`python -m auditor demo`: the scan and the reaction path on the simulated tenant."""

from __future__ import annotations

import io
import re

from auditor.cli import main


def test_demo_scans_then_catches_a_new_cluster_and_a_drift():
    out = io.StringIO()
    assert main(["demo"], stdout=out, stderr=io.StringIO()) == 0
    text = out.getvalue()
    assert "13 clusters in 3 subscriptions: 4 pass, 6 fail, 2 exempt, 1 error" in text
    steps = re.findall(r"^  (FAIL|PASS) (\S+):", text, flags=re.MULTILINE)
    assert steps == [
        ("FAIL", "aks-newapp-prod-weu"),
        ("PASS", "aks-newapp-prod-weu"),
        ("FAIL", "aks-payments-prod-weu"),
    ]
    assert "checked: fail (diagnostic setting deleted)" in text
