"""Local development and the demo: debug on, a fixed insecure key, the embedded default."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-do-not-deploy")

# Mails (inquiries, invitations) are printed where runserver or the worker runs.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
