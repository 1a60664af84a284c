"""Runnable examples of NetRaven Tasks (not installed with the package)."""
