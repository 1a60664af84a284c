"""The platforms a device may be: one list for the inventory's schemas and the compliance rules.

It imports nothing of ours, so the settings (which check a compliance rules file's ``platforms``
when they are read) can use it too.
"""

from __future__ import annotations

# The drivers' names; "generic" for anything else.
PLATFORMS = (
    "arista_eos",
    "cisco_ios",
    "cisco_iosxr",
    "cisco_nxos",
    "fortinet",
    "generic",
    "juniper_junos",
    "linux",
    "mikrotik_routeros",
    "paloalto_panos",
)
DEFAULT_PLATFORM = "generic"
