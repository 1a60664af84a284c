"""The fast lane (`scripts/test --fast`) holds only tests that need no server.

Every test marked `unit` runs with PostgreSQL and Redis out of reach (tests/conftest.py guards
the connections), in the fast lane and in the full run alike; these tests check that guard.
"""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL, ServerReached


def test_a_unit_test_cannot_reach_redis(request):
    assert request.node.get_closest_marker("unit") is not None
    with pytest.raises(ServerReached, match=r"is marked unit but connects to 127\.0\.0\.1:6379"):
        socket.create_connection(("127.0.0.1", 6379), timeout=5)


def test_a_unit_test_cannot_reach_postgresql(request):
    assert request.node.get_closest_marker("unit") is not None
    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with (
            pytest.raises(ServerReached, match="is marked unit but connects to PostgreSQL"),
            engine.connect(),
        ):
            pass
    finally:
        engine.dispose()


def test_other_addresses_stay_reachable_for_unit_tests():
    """The guard refuses only the servers: a unit test may still talk to a server it starts itself."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=5):
            pass
