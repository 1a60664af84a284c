"""Compliance: rules a device's stored configuration must (not) contain, checked by the
``compliance_check`` job; its results per run are kept so a failed run shows what failed."""
