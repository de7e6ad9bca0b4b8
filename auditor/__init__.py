"""AKS audit-log auditor (CIS AKS 1.2.0 2.1.1, Kubescape C-0254)."""

import logging

from auditor.inert import InertRecords

# The one version of the code, shown by every output that names its tool (SARIF's driver).
# pyproject.toml repeats it for packaging; a test keeps the two equal.
__version__ = "0.1.0"

# A library leaves logging set-up to its host (the Functions worker, the CLI); without this,
# Python's last-resort handler would print every finding's WARNING line to stderr.
logging.getLogger(__name__).addHandler(logging.NullHandler())
# Text from Azure in a record is spelled out once, here, for every handler (auditor/inert.py).
logging.getLogger(__name__).addFilter(InertRecords())
