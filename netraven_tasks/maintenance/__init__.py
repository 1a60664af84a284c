"""Maintenance windows: inside one, alerts for matching devices and schedules are recorded as
suppressed instead of sent, and (with ``skip_runs``) their scheduled slots are skipped.

Other code calls ``suppressing_window`` and ``record_suppressed`` (``matching.py``,
``suppression.py``); see docs/maintenance.md.
"""
