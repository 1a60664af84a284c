"""The backup pages: a device's history, a version's text, the diff people read (normalised,
secrets masked) and the raw download; in a real browser with versions the session worker stored,
and over HTTP for the edges (pages, not-found, the cap of a huge diff, one query per page)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import eventually
from tests.ui.conftest import PHONE
from tests.ui.test_dashboard import launch

pytestmark = pytest.mark.slow

OLD_SECRET, NEW_SECRET = "$1$mERr$OLDhx5rVt7rPNoS4wq", "$1$Zq0p$NEWk2LmT8sVb1cxFv2wA"
FIRST = f"""! Last configuration change at 09:12:44 UTC Fri Dec 4 2026 by admin
hostname core-rtr-01
enable secret 5 {OLD_SECRET}
interface GigabitEthernet0/1
 description uplink to fra-core-02
!
end
"""
SECOND = f"""! Last configuration change at 21:40:07 UTC Fri Dec 4 2026 by admin
hostname core-rtr-01
enable secret 5 {NEW_SECRET}
interface GigabitEthernet0/1
 description uplink to fra-core-02
!
ntp server 192.0.2.123
end
"""
DEVICE = {"name": "core-rtr-01", "address": "10.0.0.1", "platform": "cisco_ios", "site": "FRA"}


def store(settings, device: str, content: str, owner: int | None, launched_by: int | None, task_id=None):  # type: ignore[no-untyped-def]
    """A version stored as the job stores it (``store_backup``), without a run: for histories a
    worker cannot write here (a non-admin's own, which only the url driver fills) and long ones."""
    from netraven_tasks.backups.diffs import rules_for
    from netraven_tasks.backups.store import Comparison, store_backup
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.inventory import device_platform

    with session_factory(settings).begin() as session:
        comparison = Comparison(device_platform(session, device), rules_for(settings))
        stored = store_backup(
            session, device=device, content=content.encode(), namespace_owner_id=owner,
            launched_by_id=launched_by, driver="file", task_id=task_id, comparison=comparison,
        )  # fmt: skip
        return stored.version.sha256


def backup_by_worker(api_server, person, backup_root, wait_for_job, content: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """``config_backup`` with the file driver on the session worker; the job's result."""
    config = backup_root / f"{DEVICE['name']}.cfg"
    config.write_text(content)
    run = launch(api_server, person, "config_backup", {"host": DEVICE["name"], "source": str(config)})
    job = wait_for_job(run["job_log_id"])
    assert job.status == "completed", job.error_message
    return {**job.result, "job_log_id": run["job_log_id"]}


def add_device(api_server, users) -> None:  # type: ignore[no-untyped-def]
    added = requests.post(f"{api_server.url}/devices", json=DEVICE, headers=users.admin.headers, timeout=10)
    assert added.status_code == 201, added.text


def column(page, field: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator(f"#backups tbody [data-field={field}]").all_inner_texts()  # type: ignore[no-any-return]


def change_mail(mail, address: str):  # type: ignore[no-untyped-def]
    """The one configuration-change mail to ``address`` (job outcome mails go there too)."""

    def changes() -> list:  # type: ignore[type-arg]
        return [
            m for m in mail.to(address) if str(m.message["Subject"]).startswith("NetRaven: configuration of")
        ]

    return eventually(lambda: changes() and changes(), 30, "a configuration-change mail")


def test_a_changed_backups_mail_link_opens_its_diff_page_showing_the_added_line(
    dashboard, users, api_server, backup_root, wait_for_job, mail, settings
):
    add_device(api_server, users)
    first = backup_by_worker(api_server, users.admin, backup_root, wait_for_job, FIRST)
    second = backup_by_worker(api_server, users.admin, backup_root, wait_for_job, SECOND)
    [told] = change_mail(mail, "root@example.test")
    assert told.message["Subject"] == "NetRaven: configuration of core-rtr-01 changed (+2 \u22121)"
    text = told.message.get_body(("plain",)).get_content()
    link = re.search(r"^Diff: (\S+)", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    expected = (
        f"{settings.public_url}/ui/devices/core-rtr-01/backups/{second['sha256']}?diff={first['sha256']}"
    )
    assert link == expected and link in re.findall(r'href="([^"]+)"', told.part("html"))
    assert OLD_SECRET not in str(told.message) and NEW_SECRET not in str(told.message)

    # The worker's NETRAVEN_PUBLIC_URL is the default address; this server listens on a free port.
    parts = urlsplit(link)
    tab = dashboard()
    started = time.perf_counter()
    page = tab.open(f"{parts.path}?{parts.query}")
    assert urlsplit(page.url).path == "/ui/sign-in"
    tab.sign_in(users.admin)
    page.wait_for_url(re.compile(rf"/backups/{second['sha256']}\?diff={first['sha256']}$"))
    print(f"mail link -> signed in -> diff page: {time.perf_counter() - started:.2f} s")
    added = page.locator("#diff tr[data-kind=added] .text").all_inner_texts()
    assert "ntp server 192.0.2.123" in added
    assert NEW_SECRET not in page.content()


def test_the_diff_of_a_new_version_shows_the_added_line_and_the_changed_secret_masked(
    dashboard, users, api_server, backup_root, wait_for_job
):
    add_device(api_server, users)
    first = backup_by_worker(api_server, users.admin, backup_root, wait_for_job, FIRST)
    second = backup_by_worker(api_server, users.admin, backup_root, wait_for_job, SECOND)
    assert (second["changed"], second["lines_added"], second["lines_removed"]) == (True, 2, 1)

    tab = dashboard()
    tab.open("/ui/devices/core-rtr-01")
    tab.sign_in(users.admin)
    page = tab.page
    started = time.perf_counter()
    page.click("#all-backups")
    page.wait_for_url(re.compile(r"/ui/devices/core-rtr-01/backups$"))
    list_seconds = time.perf_counter() - started
    assert page.locator("h1").inner_text() == "Backups of core-rtr-01"
    rows = page.locator("#backups tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.sha256)") == [second["sha256"], first["sha256"]]
    assert column(page, "change") == ["+2 \u22121", "first"]
    assert column(page, "changed") == ["changed", "—"]
    assert column(page, "launched_by") == ["root", "root"]
    assert column(page, "run") == [f"#{second['job_log_id']}", f"#{first['job_log_id']}"]
    assert rows.nth(1).locator("[data-field=diff]").count() == 0  # the first version has nothing before it
    local = page.locator("#backups tbody time").first
    assert "UTC" not in local.inner_text() and local.get_attribute("title")  # shown in the viewer's zone
    tab.screenshot("device-backups")

    started = time.perf_counter()
    rows.first.locator("[data-field=diff]").click()
    page.wait_for_url(re.compile(rf"/backups/{second['sha256']}\?diff={first['sha256']}$"))
    diff_seconds = time.perf_counter() - started
    added = page.locator("#diff tr[data-kind=added] .text").all_inner_texts()
    removed = page.locator("#diff tr[data-kind=removed] .text").all_inner_texts()
    assert added == ["enable secret 5 <masked>", "ntp server 192.0.2.123"]
    assert removed == ["enable secret 5 <masked>"]
    numbers = page.locator("#diff tr[data-kind=added]").last.locator("td.ln").all_inner_texts()
    assert numbers == ["", "6"]  # new side only: line 6 of the compared text (the stamp is left out)
    assert page.locator("#diff tr[data-kind=hunk]").count() == 1
    assert "Last configuration change" not in page.locator("#diff").inner_text()
    source = page.content()
    assert OLD_SECRET not in source and NEW_SECRET not in source
    assert page.locator("[data-field=counts]").inner_text() == "+2 \u22121"
    assert page.locator("[data-field=other]").get_attribute("href") == (
        f"/ui/devices/core-rtr-01/backups/{first['sha256']}"
    )
    tab.screenshot("backup-diff")

    raw_link = page.locator("[data-field=raw]").get_attribute("href") or ""
    assert raw_link == f"/ui/devices/core-rtr-01/backups/{second['sha256']}/raw"
    started = time.perf_counter()
    raw = page.request.get(api_server.url + raw_link)
    raw_seconds = time.perf_counter() - started
    assert raw.status == 200 and raw.text() == SECOND  # unmasked, timestamp and all: what was stored
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert (
        raw.headers["content-disposition"]
        == f'attachment; filename="core-rtr-01-{second["sha256"][:12]}.cfg"'
    )

    page.click("[data-field=other]")
    page.wait_for_url(re.compile(rf"/backups/{first['sha256']}$"))
    assert page.locator("#content tr").count() == FIRST.count("\n")
    assert page.locator("#L3 td").all_inner_texts() == [
        "3",
        f"enable secret 5 {OLD_SECRET}",
    ]  # the text as stored
    print(
        f"\nbackups page {list_seconds * 1000:.0f} ms, diff page {diff_seconds * 1000:.0f} ms,"
        f" raw download {raw_seconds * 1000:.0f} ms (click to loaded, 2 versions)"
    )

    phone = dashboard(PHONE)
    phone.open("/ui/devices/core-rtr-01/backups")
    phone.sign_in(users.admin)
    for path in (
        "/ui/devices/core-rtr-01/backups",
        f"/ui/devices/core-rtr-01/backups/{second['sha256']}?diff={first['sha256']}",
    ):
        shown = phone.open(path)
        overflow = shown.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is wider than a phone by {overflow}px"
    phone.screenshot("backup-diff-phone")


def test_a_user_reads_their_own_history_and_never_the_shared_one(
    dashboard, users, api_server, backup_root, wait_for_job, settings
):
    add_device(api_server, users)
    shared = backup_by_worker(api_server, users.admin, backup_root, wait_for_job, FIRST)["sha256"]
    own = store(settings, "core-rtr-01", "hostname core-rtr-01\n", users.alice.id, users.alice.id)

    tab = dashboard()
    tab.open("/ui/devices/core-rtr-01/backups")
    tab.sign_in(users.alice)
    page = tab.page
    assert page.locator("#backups tbody tr").evaluate_all("rows => rows.map(r => r.dataset.sha256)") == [own]
    assert page.locator("#f-owner").count() == 0  # no history to choose but her own
    response = page.goto(f"{api_server.url}/ui/devices/core-rtr-01/backups/{shared}")
    assert response.status == 404
    assert "There is no backup" in page.inner_text("main") and OLD_SECRET not in page.content()
    for path in (f"/backups/{shared}/raw", f"/backups/{own}?diff={shared}"):
        assert page.goto(f"{api_server.url}/ui/devices/core-rtr-01{path}").status == 404
    response = page.goto(f"{api_server.url}/ui/devices/core-rtr-01/backups?owner={users.admin.id}")
    assert response.status == 403 and "only admins may read other users' backups" in page.inner_text("main")
    page.goto(f"{api_server.url}/ui/devices/core-rtr-01")
    view = page.locator("#device-backups [data-field=view]")
    assert view.get_attribute("href") == f"/ui/devices/core-rtr-01/backups/{own}"
    view.click()
    assert page.locator("#content td.src").all_inner_texts() == ["hostname core-rtr-01"]

    admin = dashboard()
    admin.open("/ui/devices/core-rtr-01/backups")
    admin.sign_in(users.admin)
    admin.page.select_option("#f-owner", str(users.alice.id))
    admin.page.click("form.filters button[type=submit]")
    admin.page.wait_for_url(re.compile(rf"owner={users.alice.id}"))
    listed = admin.page.locator("#backups tbody tr").evaluate_all("rows => rows.map(r => r.dataset.sha256)")
    assert listed == [own] and "alice's history" in admin.page.inner_text("main")
    link = admin.page.locator("#backups [data-field=view]").get_attribute("href")
    assert link == f"/ui/devices/core-rtr-01/backups/{own}?owner={users.alice.id}"


# ---- over HTTP: the edges


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements this process sends inside the block."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        sent.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def history(client, user, path: str = "", **query):  # type: ignore[no-untyped-def]
    return client.get(f"/ui/devices/core-rtr-01/backups{path}", query_string=query, headers=user.headers)


def shas(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<tr data-sha256="([0-9a-f]{64})"', response.get_data(as_text=True))


def test_the_history_is_paged_newest_first_and_each_page_is_one_query(
    client, users, settings, insert_job_logs
):
    task_ids = [f"backup-{n}" for n in range(55)]
    now = datetime.now(UTC)
    run_ids = insert_job_logs(
        [{"task_id": task, "owner_id": users.admin.id, "queued_at": now} for task in task_ids]
    )
    config = "hostname core-rtr-01\nlogging host 192.0.2.{}\n".format
    stored = [
        store(settings, "core-rtr-01", config(n), None, users.admin.id, task_id)
        for n, task_id in enumerate(task_ids)
    ]
    first_page = history(client, users.admin)
    assert first_page.status_code == 200
    assert shas(first_page) == stored[::-1][:50]
    second_page = history(client, users.admin, page=2)
    assert shas(second_page) == stored[::-1][50:]
    text = second_page.get_data(as_text=True)
    assert "Page 2 of 2 (55 versions)" in text
    assert f'href="/ui/job-logs/{run_ids[0]}"' in text  # the oldest version's run
    labels = re.findall(r'<td data-field="change" class="change">([^<]*)</td>', text)
    assert labels == ["+1 \u22121"] * 4 + ["first"]
    # Each version's diff link compares it with the one before it, across the page boundary too.
    assert f"/backups/{stored[5]}?diff={stored[4]}" in first_page.get_data(as_text=True)

    with statements() as one_page_of_50:
        assert history(client, users.admin).status_code == 200
    with statements() as one_page_of_5:
        assert history(client, users.admin, page=2).status_code == 200
    assert len(one_page_of_50) == len(one_page_of_5), one_page_of_50
    print(f"\na page of the history: {len(one_page_of_50)} SQL statements, for 50 versions as for 5")

    for bad in ("0", "x", "100001"):
        refused = history(client, users.admin, page=bad)
        assert refused.status_code == 400 and "page:" in refused.get_data(as_text=True)


def test_versions_of_another_device_or_history_and_malformed_ones_are_not_found(client, users, settings):
    mine = store(settings, "core-rtr-01", "hostname core-rtr-01\n", users.bob.id, users.bob.id)
    other_device = store(settings, "core-rtr-02", "hostname core-rtr-02\n", users.bob.id, users.bob.id)
    shared = store(settings, "core-rtr-01", "hostname shared\n", None, users.admin.id)
    assert history(client, users.bob, f"/{mine}").status_code == 200
    for path in (
        f"/{other_device}", f"/{shared}", f"/{'0' * 64}", f"/{mine.upper()}", f"/{mine[:12]}",
        f"/{mine}?diff={shared}", f"/{shared}/raw", f"/{mine[:63]}/raw",
    ):  # fmt: skip
        response = client.get(f"/ui/devices/core-rtr-01/backups{path}", headers=users.bob.headers)
        assert response.status_code == 404, path
        shown = response.get_data(as_text=True)
        assert "There is no" in shown and "hostname shared" not in shown
    for name in ("..", "-x", "a%2Fb"):
        assert client.get(f"/ui/devices/{name}/backups", headers=users.bob.headers).status_code == 404
    refused = history(client, users.bob, f"/{mine}", diff="not-a-sha")
    assert refused.status_code == 400 and "diff must be a sha256" in refused.get_data(as_text=True)


def test_a_huge_diff_or_version_is_capped_and_says_how_many_lines_were_left_out(client, users, settings):
    from api.ui.backup_pages import MAX_CONTENT_LINES, MAX_DIFF_ROWS

    before = store(settings, "core-rtr-01", "hostname core-rtr-01\n", None, users.admin.id)
    rules = "".join(f"access-list 10 permit 10.{n // 256}.{n % 256}.0\n" for n in range(6000))
    big = "hostname core-rtr-01\n" + rules
    after = store(settings, "core-rtr-01", big, None, users.admin.id)
    started = time.perf_counter()
    response = history(client, users.admin, f"/{after}", diff=before)
    seconds = time.perf_counter() - started
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    shown = text.count('data-kind="added"')
    # 6,004 diff lines (two file names, a hunk header, the hostname as context, 6,000 added): the
    # first 5,000 are kept.
    assert shown == MAX_DIFF_ROWS - 4 and "1,004 more diff line(s) not shown" in text
    assert ">+6000<" in text  # the counts are of the whole diff
    size = len(text) / 1e6
    print(f"\na 6,000-line diff, {MAX_DIFF_ROWS:,} lines shown: {seconds * 1000:.0f} ms, {size:.1f} MB")

    longest = store(settings, "core-rtr-01", rules * 4 + "end\n", None, users.admin.id)  # 24,001 lines
    started = time.perf_counter()
    text = history(client, users.admin, f"/{longest}").get_data(as_text=True)
    seconds = time.perf_counter() - started
    assert text.count('<td class="ln">') == MAX_CONTENT_LINES and "4,001 more line(s) not shown" in text
    print(f"a 24,001-line version, {MAX_CONTENT_LINES:,} lines shown: {seconds * 1000:.0f} ms")


def test_the_raw_download_of_a_host_outside_the_inventory_has_a_safe_name(client, users, settings):
    sha = store(settings, "fe80::1", "hostname v6-only\n", None, users.admin.id)
    response = client.get(f"/ui/devices/fe80::1/backups/{sha}/raw", headers=users.admin.headers)
    assert response.status_code == 200 and response.data == b"hostname v6-only\n"
    assert response.headers["Content-Disposition"] == f'attachment; filename="fe80__1-{sha[:12]}.cfg"'
    assert response.headers["Cache-Control"] == "no-store"
    page = client.get("/ui/devices/fe80::1/backups", headers=users.admin.headers).get_data(as_text=True)
    assert "fe80::1 is not in the inventory" in page and 'href="/ui/devices/fe80%3A%3A1/backups/' in page
