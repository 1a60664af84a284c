"""Notifications: who is told about a job outcome, how, and when."""
