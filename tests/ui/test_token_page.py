"""The access-token and audit pages in Chromium: make a token (shown once, works against the API at once),
see it listed without its secret, revoke it (the API refuses it on its next request)."""

from __future__ import annotations

import requests

from tests.conftest import eventually


def test_make_use_and_revoke_a_token_from_the_dashboard(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/tokens")
    tab.sign_in(users.alice)
    page.click("nav >> text=Tokens")
    assert "You have no tokens yet" in page.inner_text("main")

    page.fill("#token-name", "")
    page.click("#new-token button[type=submit]")
    page.locator("#error-name", has_text="Length must be between 1 and 100").wait_for()

    page.fill("#token-name", "config pusher")
    page.fill("#token-days", "30")
    page.click("#new-token button[type=submit]")
    page.locator("#token-secret").wait_for()
    secret = page.inner_text("#token-value").strip()
    assert secret.startswith("nrt_")
    tab.screenshot("token-made")
    use = requests.get(
        f"{api_server.url}/job-logs", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert use.status_code == 200

    page.reload()
    row = page.locator("#tokens tbody tr", has_text="config pusher")
    assert "active" in row.inner_text() and secret not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Revoke").click()
    page.locator("#action-result", has_text="Revoked.").wait_for()
    assert row.locator(".token-state").inner_text() == "revoked"
    eventually(
        lambda: requests.get(
            f"{api_server.url}/job-logs", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        ).status_code == 401,
        5, "the revoked token refused",
    )  # fmt: skip


def test_the_audit_page_shows_who_did_what_to_admins_only(dashboard, users, api_server):
    made = requests.post(
        f"{api_server.url}/users/me/tokens", json={"name": "audited"}, headers=users.alice.headers, timeout=10
    )
    assert made.status_code == 201
    tab = dashboard()
    page = tab.open("/ui/audit")
    tab.sign_in(users.admin)
    page.click("nav >> text=Audit")
    row = page.locator("#audit tbody tr", has_text="POST /users/{user_id}/tokens")
    assert "alice" in row.inner_text() and "personal_access_tokens" in row.inner_text()
    assert made.json()["token"] not in page.content()
    page.fill("input[name=actor]", "nobody")
    page.click("form.filters button")
    page.locator("main", has_text="Nothing recorded matches these filters").wait_for()
    tab.screenshot("audit")
    other = dashboard()
    mine = other.open("/ui/audit")
    other.sign_in(users.alice)
    assert "the audit log is for admins" in mine.inner_text("main")
    assert mine.locator("nav >> text=Audit").count() == 0
