"""Local Azure simulation: an in-process HTTPS ARM server and a managed-identity token endpoint.

Tests, `python -m auditor demo` and the benchmark drive it with the real Azure SDK clients and
DefaultAzureCredential. Not deployed with the function app.
"""

from azsim.categories import DiagnosticCategory
from azsim.faults import Fault
from azsim.gateway import RequestRecord
from azsim.server import ArmSimulator
from azsim.tenant import SimCluster, SimSubscription, Tenant
from azsim.throttle import Throttle

__all__ = [
    "ArmSimulator",
    "DiagnosticCategory",
    "Fault",
    "RequestRecord",
    "SimCluster",
    "SimSubscription",
    "Tenant",
    "Throttle",
]
