"""What a broker URL says about the transport behind it."""

from __future__ import annotations

# Kombu transports that cannot carry Celery's task events to another process: the SQLAlchemy
# transport has no fanout exchange (events are broadcast on one), and the in-memory transport
# lives inside a single process. ``-E``, the sent/task events and Flower are off on them.
NO_EVENT_TRANSPORTS = frozenset({"sqla", "sqlalchemy", "memory"})


def transport_of(url: str) -> str:
    """The kombu transport a broker URL names: ``sqla`` for ``sqla+sqlite:///…``, ``redis`` …"""
    scheme = url.partition("://")[0] if "://" in url else url
    return scheme.partition("+")[0].lower()


def broker_has_events(url: str) -> bool:
    """Whether workers on this broker can send task events (``-E``) that Flower can read."""
    return transport_of(url) not in NO_EVENT_TRANSPORTS
