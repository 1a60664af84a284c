"""The team pages in Chromium: an admin creates a team and adds a member through the page; the
member then sees the team and its members, and another user sees its name only."""

from __future__ import annotations

import requests


def test_an_admin_creates_a_team_and_adds_a_member(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/teams")
    tab.sign_in(users.admin)
    page.click("nav >> text=Teams")
    assert "No teams yet" in page.inner_text("main")

    page.click("#new-team button[type=submit]")  # no name: refused beside the field
    page.locator("#error-name", has_text="Length must be between 1 and 100").wait_for()
    page.fill("#team-name", "NOC FRA")
    page.fill("#team-description", "site FRA")
    page.click("#new-team button[type=submit]")
    page.locator("h1", has_text="Team NOC FRA").wait_for()
    assert "No members yet" in page.inner_text("#members")

    page.select_option("#member-user", label="alice")
    page.select_option("#member-role", "manager")
    page.click("#add-member button[type=submit]")
    row = page.locator("#members tbody tr", has_text="alice")
    row.wait_for()
    assert row.locator(".member-role").inner_text() == "manager"
    tab.screenshot("team")
    [team] = requests.get(f"{api_server.url}/teams", headers=users.alice.headers, timeout=10).json()
    assert team["name"] == "NOC FRA" and team["my_role"] == "manager"

    bobs = dashboard()
    listing = bobs.open("/ui/teams")
    bobs.sign_in(users.bob)
    assert "NOC FRA" in listing.inner_text("#teams") and listing.locator("#new-team").count() == 0
    detail = bobs.open(f"/ui/teams/{team['id']}")
    assert "only a team's members see who is in it" in detail.inner_text("main")
