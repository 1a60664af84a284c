"""The channel registry: every module of this package that declares ``CHANNEL`` is a channel.

Adding a channel is adding one module (and its test): nothing else lists the channels.
``registered`` adds one from elsewhere (a test's toy channel) for the duration of a block.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from netraven_tasks.notifications.channels.spec import ChannelSpec

_extra: list[ChannelSpec] = []
_version = 0


@cache
def _discovered() -> tuple[ChannelSpec, ...]:
    package = importlib.import_module("netraven_tasks.notifications.channels")
    found = []
    for module in pkgutil.iter_modules(package.__path__):
        spec = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "CHANNEL", None)
        if isinstance(spec, ChannelSpec):
            found.append(spec)
    return tuple(found)


@cache
def _ordered(version: int) -> tuple[tuple[ChannelSpec, ...], dict[str, ChannelSpec]]:
    ordered = tuple(sorted((*_discovered(), *_extra), key=lambda spec: (spec.position, spec.name)))
    return ordered, {spec.name: spec for spec in ordered}


def channels() -> tuple[ChannelSpec, ...]:
    """Every channel, in planning order (``position``, then name)."""
    return _ordered(_version)[0]


def channel(name: str) -> ChannelSpec | None:
    return _ordered(_version)[1].get(name)


def version() -> int:
    """Changes whenever a channel is registered or removed (derived schemas rebuild then)."""
    return _version


@contextmanager
def registered(spec: ChannelSpec) -> Iterator[ChannelSpec]:
    """``spec`` is a channel inside the block (its preferences, planning, API and transport)."""
    global _version
    if channel(spec.name) is not None:
        raise ValueError(f"a channel named {spec.name!r} exists already")
    _extra.append(spec)
    _version += 1
    try:
        yield spec
    finally:
        _extra.remove(spec)
        _version += 1
