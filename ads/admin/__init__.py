"""Admin for the ads app, one module per capability."""

from . import campaigns, inquiries, reports  # noqa: F401  (they register their admins)
