"""Hourly rollups of job logs: what statistics and /metrics read instead of scanning history."""
