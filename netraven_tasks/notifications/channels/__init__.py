"""Delivery channels: one module per channel, each declaring ``CHANNEL`` (see ``spec`` and ``registry``)."""

from __future__ import annotations

from netraven_tasks.notifications.channels.base import Channel
from netraven_tasks.notifications.channels.registry import channels
from netraven_tasks.settings import Settings


def build_channels(settings: Settings) -> dict[str, Channel]:
    """A fresh set of transports for one delivery batch: every channel the settings configure."""
    built = {spec.name: spec.transport(settings) for spec in channels()}
    return {name: transport for name, transport in built.items() if transport is not None}
