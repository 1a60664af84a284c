"""Keeping compliance results: one row per run, read back newest first per history, old ones
dropped when their device is checked again."""

from __future__ import annotations

from tests.support.compliance import keep_result


def test_the_latest_result_is_read_per_history(settings, clean_db):
    from netraven_tasks.compliance.results import latest_compliance
    from netraven_tasks.db import session_factory

    first = keep_result(settings, "core-1")
    latest = keep_result(settings, "core-1", config="ntp server 10.0.0.1\n")
    with session_factory(settings).begin() as session:
        from netraven_tasks.users import create_user

        owner = create_user(session, "carol", "carol@example.test", "carol-password-1").id
    own = keep_result(settings, "core-1", owner=owner)
    keep_result(settings, "core-2")
    with session_factory(settings)() as session:
        shared = latest_compliance(session, "core-1")
        assert shared is not None and (shared.id, shared.passed) == (latest, True)
        assert shared.id != first
        mine = latest_compliance(session, "core-1", owner)
        assert mine is not None and (mine.id, mine.passed) == (own, False)
        assert latest_compliance(session, "core-3") is None


def test_results_older_than_the_retention_go_when_the_device_is_checked_again(settings, clean_db):
    from datetime import timedelta

    from sqlalchemy import select

    from netraven_tasks.compliance.models import ComplianceResult
    from netraven_tasks.db import session_factory

    old = keep_result(settings, "core-1")
    other_device = keep_result(settings, "core-2")
    with session_factory(settings).begin() as session:
        for row_id in (old, other_device):
            row = session.get_one(ComplianceResult, row_id)
            row.checked_at -= timedelta(days=91)
    new = keep_result(settings, "core-1")
    with session_factory(settings)() as session:
        assert set(session.scalars(select(ComplianceResult.id))) == {other_device, new}
