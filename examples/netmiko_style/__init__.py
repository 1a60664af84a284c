"""An existing Celery app with two Netmiko-style tasks, tracked by NetRaven Tasks (README.md)."""
