"""Access beyond a single request: signed-out sessions and per-user quotas."""
