"""The routes page in Chromium: a team's manager makes a route (a bad target is named next to its
field), sees it listed with its target masked, and deletes it; a member only reads."""

from __future__ import annotations

KEY = "R0UTINGKEY0123456789abcdef0123ab"


def test_a_manager_makes_and_deletes_a_team_route_a_member_reads_it(dashboard, users, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.teams.models import Team, TeamMember

    with session_factory(settings).begin() as session:
        team = Team(name="noc-fra", description="")
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=users.alice.id, role="manager"))
        session.add(TeamMember(team_id=team.id, user_id=users.bob.id, role="member"))

    tab = dashboard()
    page = tab.open("/ui/routes")
    tab.sign_in(users.alice)
    page.click("nav >> text=Routes")
    assert "No routes yet" in page.inner_text("main")
    page.fill("#route-name", "FRA pager")
    page.select_option("#route-channel", "pagerduty")
    page.fill("#route-target", "not a key")
    page.fill("#route-sites", "FRA, MUC")
    page.check("input[name=events][value=failed]")
    page.check("input[name=events][value=recovered]")
    page.click("#new-route button[type=submit]")
    page.locator("#error-target", has_text="pagerduty takes a key").wait_for()

    page.fill("#route-target", KEY)
    page.click("#new-route button[type=submit]")
    row = page.locator("#routes tbody tr", has_text="FRA pager")
    row.wait_for()
    text = row.inner_text()
    assert "noc-fra" in text and "…23ab" in text and "sites: FRA, MUC" in text and "none yet" in text
    assert KEY not in page.content()
    tab.screenshot("routes")

    member = dashboard()
    seen = member.open("/ui/routes")
    member.sign_in(users.bob)
    assert "FRA pager" in seen.inner_text("#routes")
    assert seen.locator("#new-route").count() == 0 and seen.locator("button[data-delete-route]").count() == 0

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Delete").click()
    page.locator("#action-result", has_text="Deleted.").wait_for()
    assert page.locator("#routes tbody tr", has_text="FRA pager").count() == 0
