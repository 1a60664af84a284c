"""The device inventory: devices with their address, platform, site and tags, and device selectors."""
