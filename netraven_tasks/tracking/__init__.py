"""Tracking of job runs: Celery signals become events, a recorder writes them down."""
