"""AKS audit-log auditor (CIS AKS 1.2.0 2.1.1, Kubescape C-0254)."""

import logging

# A library leaves logging set-up to its host (the Functions worker, the CLI); without this,
# Python's last-resort handler would print every finding's WARNING line to stderr.
logging.getLogger(__name__).addHandler(logging.NullHandler())
