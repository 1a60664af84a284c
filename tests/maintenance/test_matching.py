"""Which runs a window covers: any one of its lists matching is enough (pure rule)."""

from __future__ import annotations

from netraven_tasks.maintenance.matching import Target, WindowMatch


def test_any_list_of_the_match_covers_a_run():
    match = WindowMatch.of(
        {"devices": ["r1"], "sites": ["FRA"], "tags": ["core", "edge"], "schedule_ids": [7]}
    )
    assert match.covers(Target("r1", None))
    assert match.covers(Target("r2", None, site="FRA"))
    assert match.covers(Target("r3", None, site="AMS", tags=frozenset({"edge"})))
    assert match.covers(Target(None, 7))
    assert match.covers(Target("r4", 7, site="AMS"))
    assert not match.covers(Target("r4", 8, site="AMS", tags=frozenset({"access"})))
    assert not match.covers(Target(None, None))
    assert not WindowMatch.of({"sites": ["FRA"]}).covers(Target("r1", None))  # site unknown: not covered


def test_only_site_or_tag_windows_need_the_inventory():
    assert not WindowMatch.of({"devices": ["r1"], "schedule_ids": [1]}).needs_inventory
    assert WindowMatch.of({"tags": ["core"]}).needs_inventory
    assert WindowMatch.of({"sites": ["FRA"], "devices": []}).needs_inventory
