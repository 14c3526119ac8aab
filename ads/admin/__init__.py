"""Admin for the ads app, one module per capability."""

from . import campaigns  # noqa: F401  (registers the model admins)
