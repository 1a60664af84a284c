"""The fleet-run pages in a real browser: a batch's progress moving live, its children's table and its
sorts, Re-run failed and Cancel from the page, and who sees what."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import requests

from api.ui.session import SESSION_COOKIE
from tests.conftest import eventually
from tests.ui.conftest import PHONE

pytestmark = pytest.mark.slow

REACHABLE, REFUSING = "127.0.0.1", "127.0.0.2"  # the port listens on the first address only


@pytest.fixture
def port() -> Iterator[int]:
    """A port that accepts on 127.0.0.1 and refuses on 127.0.0.2."""
    with socket.create_server((REACHABLE, 0)) as listener:
        yield listener.getsockname()[1]


@contextmanager
def worker_held_back() -> Iterator[None]:
    """The session worker takes no new message inside the block (Celery's remote control)."""
    from netraven_tasks.celery_app import app

    queue = app.conf.task_default_queue
    # limit=1: the session worker is the only one; without it a reply waits the whole timeout
    assert app.control.cancel_consumer(queue, reply=True, limit=1, timeout=10), "the worker did not answer"
    try:
        yield
    finally:
        assert app.control.add_consumer(queue, reply=True, limit=1, timeout=10), "the worker did not answer"


def launch(server, person, targets, arguments, job_type="reachability_check") -> int:  # type: ignore[no-untyped-def]
    body = {"targets": targets, "arguments": arguments}
    url = f"{server.url}/jobs/{job_type}/batches"
    response = requests.post(url, json=body, headers=person.headers, timeout=30)
    assert response.status_code == 202, response.text
    batch_id: int = response.json()["batch_id"]
    return batch_id


def batch(server, person, batch_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = requests.get(f"{server.url}/batches/{batch_id}", headers=person.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def settled(server, person, batch_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return eventually(  # type: ignore[no-any-return]
        lambda: (body := batch(server, person, batch_id))["status"] != "running" and body,
        timeout=60,
        message=lambda: f"batch {batch_id} to settle: {batch(server, person, batch_id)}",
    )


def progress(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator("#batch [role=progressbar]").get_attribute("aria-valuenow"))


def child_devices(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#batch-children tbody tr td:first-child").all_inner_texts()  # type: ignore[no-any-return]


def statuses(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#batch-children tbody .status").all_inner_texts()  # type: ignore[no-any-return]


def visible_buttons(page) -> list[str]:  # type: ignore[no-untyped-def]
    buttons = page.locator("button[data-batch-action]").all()
    return [button.inner_text() for button in buttons if button.is_visible()]


def test_a_batch_page_shows_its_progress_live_up_to_100(dashboard, users, api_server, add_devices, port):
    names = add_devices([(f"fleet-{i:02d}", REACHABLE) for i in range(50)], site="UI", tags=["live"])
    tab = dashboard()
    page = tab.open("/ui/batches")
    tab.sign_in(users.admin)
    assert page.locator("nav a[aria-current=page]").inner_text() == "Batches"
    assert "No fleet run yet" in page.inner_text("main")

    with worker_held_back():  # so the page, opened right after the launch, sees 0% for sure
        started = time.time()
        batch_id = launch(api_server, users.admin, {"site": "UI"}, {"port": port, "timeout": 5})
        page.goto(f"{api_server.url}/ui/batches/{batch_id}")
        opened = time.time()
        page.evaluate("window.__sameDocument = true")
        assert progress(page) == 0
        assert set(statuses(page)) == {"queued"}
    resumed = time.time()
    # Polled from here (the page's CSP forbids the eval wait_for_function uses); the page stamps times.
    eventually(
        lambda: page.evaluate("key => window.__netraven.seen[key]", f"batch-{batch_id}:100"),
        timeout=60,
        message=lambda: f"100% on the page (it shows {progress(page)}%)",
    )
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    seen = page.evaluate("window.__netraven.seen")
    mine = {key: stamp for key, stamp in seen.items() if key.startswith(f"batch-{batch_id}:")}
    shown = sorted((stamp, int(key.rsplit(":", 1)[1])) for key, stamp in mine.items())
    percents = [percent for _, percent in shown]
    assert percents == sorted(percents) and percents[0] == 0, f"the bar did not only go up: {shown}"
    assert progress(page) == 100
    page.locator("#batch .status", has_text="completed").wait_for()
    assert page.locator("[data-count=completed]").inner_text() == "50"
    assert page.locator("[data-count=failed]").inner_text() == "0"
    assert sorted(child_devices(page)) == names  # every child on one page (100 a page)
    eventually(lambda: set(statuses(page)) == {"completed"}, message=lambda: f"rows live: {statuses(page)}")
    run_link = page.locator("#batch-children tbody tr").first.locator("a").last.get_attribute("href") or ""
    assert re.fullmatch(r"/ui/job-logs/\d+", run_link)
    assert visible_buttons(page) == []  # over, and nothing failed: neither Cancel nor Re-run failed
    tab.screenshot("batch-detail")

    finished = datetime.fromisoformat(batch(api_server, users.admin, batch_id)["finished_at"]).timestamp()
    on_screen = seen[f"batch-{batch_id}:100"] / 1000
    timings = {
        "launch_to_page_open_s": round(opened - started, 3),
        "worker_resumed_to_100_on_screen_s": round(on_screen - resumed, 3),
        "launch_to_100_on_screen_s": round(on_screen - started, 3),
        "settled_to_100_on_screen_s": round(on_screen - finished, 3),
        "percents_shown": percents,
    }
    print(f"batch page, 50 devices: {timings}")

    listing = tab.open("/ui/batches")
    row = listing.locator(f"#batch-{batch_id}")
    assert row.locator("[role=progressbar]").get_attribute("aria-valuenow") == "100"
    assert row.locator(".status").inner_text() == "completed" and "50 completed" in row.inner_text()
    tab.screenshot("batches")
    row.locator(f"a[href='/ui/batches/{batch_id}']").click()
    listing.wait_for_url(re.compile(rf"/ui/batches/{batch_id}$"))


def test_rerun_failed_from_the_page_opens_a_batch_of_exactly_the_failed_devices(
    dashboard, users, api_server, add_devices, port
):
    add_devices([(f"ok-{i}", REACHABLE) for i in range(6)], site="RR")
    failing = add_devices([(f"down-{i}", REFUSING) for i in range(3)], site="RR")
    batch_id = launch(api_server, users.alice, {"site": "RR"}, {"port": port, "timeout": 5})
    assert settled(api_server, users.alice, batch_id)["status"] == "partial"
    tab = dashboard()
    page = tab.open(f"/ui/batches/{batch_id}?sort=status")
    tab.sign_in(users.alice)
    assert visible_buttons(page) == ["Re-run failed"]
    errors = page.locator("#batch-children tbody tr", has_text="down-0").locator("[data-field=error]")
    assert errors.inner_text() == f"ConnectionRefusedError: {REFUSING}:{port} refused the connection"
    tab.screenshot("batch-detail-partial")

    page.click("[data-batch-action=rerun-failed]")
    page.wait_for_url(lambda url: re.search(rf"/ui/batches/(?!{batch_id}$)\d+$", url) is not None)
    new_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#rerun-of").get_attribute("href") == f"/ui/batches/{batch_id}"
    assert sorted(child_devices(page)) == failing
    page.locator("#batch .status", has_text="failed").wait_for(timeout=30_000)  # live: all refused again
    again = batch(api_server, users.alice, new_id)
    assert again["rerun_of"] == batch_id and again["total"] == len(failing)
    assert again["owner"] == users.alice.id


def test_cancel_from_the_page_cancels_what_has_not_started(dashboard, users, api_server, add_devices):
    add_devices([(f"nap-{i:02d}", f"127.0.0.{i}") for i in range(1, 13)], site="NAP")
    batch_id = launch(api_server, users.alice, {"site": "NAP"}, {"seconds": 2}, job_type="test_nap")
    tab = dashboard()
    page = tab.open(f"/ui/batches/{batch_id}")
    tab.sign_in(users.alice)
    assert visible_buttons(page) == ["Cancel"]
    page.click("[data-batch-action=cancel]")  # the confirmation is accepted by the tab
    page.locator("#action-result", has_text="Canceled").wait_for()
    page.locator("#batch .status", has_text="canceled").wait_for(timeout=30_000)
    assert visible_buttons(page) == []  # over, and nothing failed
    body = batch(api_server, users.alice, batch_id)
    assert body["status"] == "canceled" and body["counts"]["canceled"] >= 1
    assert page.locator("[data-count=canceled]").inner_text() == str(body["counts"]["canceled"])
    assert progress(page) == 100
    page.reload()
    assert re.search(r"Cancel asked by\s+alice", page.inner_text("#batch"))


def test_another_users_batch_is_not_found_and_a_clean_batch_has_no_buttons(
    dashboard, users, api_server, add_devices, port
):
    add_devices([(f"a-{i}", REACHABLE) for i in range(3)], site="ALICE")
    add_devices([(f"b-{i}", REACHABLE) for i in range(2)], site="BOB")
    alices = launch(api_server, users.alice, {"site": "ALICE"}, {"port": port})
    bobs = launch(api_server, users.bob, {"site": "BOB"}, {"port": port})
    assert settled(api_server, users.bob, bobs)["status"] == "completed"
    tab = dashboard()
    page = tab.open(f"/ui/batches/{bobs}")
    tab.sign_in(users.bob)
    page.locator("#batch .status", has_text="completed").wait_for()
    assert page.locator("button[data-batch-action]").count() == 2  # his own: the buttons exist …
    assert visible_buttons(page) == []  # … and neither shows: it is over without failures

    for path in (f"/ui/batches/{alices}", "/ui/batches/abc", f"/ui/batches/{2**63}", f"/ui/batches/{10**30}"):
        response = page.goto(api_server.url + path)
        assert response.status == 404, path
        assert "There is no" in page.inner_text("main") and "you may see" in page.inner_text("main")
        assert page.locator("button[data-batch-action]").count() == 0
    listing = tab.open("/ui/batches")
    listed = listing.locator("#batches tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert listed == [f"batch-{bobs}"]
    huge = requests.get(f"{api_server.url}/batches/{2**63}", headers=users.bob.headers, timeout=10)
    assert huge.status_code == 404, huge.text  # the API's answer, through the same query

    phone = dashboard(PHONE)
    phone.open("/ui/batches")
    phone.sign_in(users.bob)
    for path in ("/ui/batches", f"/ui/batches/{bobs}"):
        narrow = phone.open(path)
        overflow = narrow.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is wider than a phone by {overflow}px"
        phone.screenshot(("batches" if path == "/ui/batches" else "batch-detail") + "-phone")


def test_sorting_by_duration_and_status_orders_the_table(dashboard, users, api_server, add_devices, port):
    add_devices([(f"s-ok-{i}", REACHABLE) for i in range(8)], site="SORT")
    add_devices([(f"s-down-{i}", REFUSING) for i in range(4)], site="SORT")
    batch_id = launch(api_server, users.alice, {"site": "SORT"}, {"port": port})
    settled(api_server, users.alice, batch_id)
    tab = dashboard()
    page = tab.open(f"/ui/batches/{batch_id}")
    tab.sign_in(users.alice)
    assert child_devices(page) == sorted(child_devices(page))  # by device at first
    page.click(".sorts a[data-sort=duration]")
    page.wait_for_url(re.compile(r"sort=duration"))
    seconds = [float(value) for value in page.locator("#batch-children [data-seconds]").evaluate_all(
        "cells => cells.map(c => c.dataset.seconds)")]  # fmt: skip
    assert len(seconds) == 12 and seconds == sorted(seconds, reverse=True)
    assert page.locator(".sorts a[aria-current]").inner_text() == "duration"
    page.click(".sorts a[data-sort=status]")
    page.wait_for_url(re.compile(r"sort=status"))
    assert statuses(page) == ["completed"] * 8 + ["failed"] * 4


def test_two_thousand_children_page_by_100_in_a_stable_order(users, api_server, settings, insert_job_logs):
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.db import session_factory

    now = datetime.now(UTC)
    with session_factory(settings).begin() as session:
        row = Batch(job_type="test_flaky", status="partial", total=2000, completed=1500, failed=500,
                    arguments={}, targets={}, owner_id=users.alice.id, finished_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        batch_id = row.id
    # Many equal durations: only the tie-breakers (device, id) keep the pages apart.
    insert_job_logs(
        [
            {"queued_at": now - timedelta(minutes=1), "batch_id": batch_id, "device": f"d-{i % 700:04d}",
             "duration_seconds": float(i % 7), "status": "failed" if i % 4 == 0 else "completed"}
            for i in range(2000)
        ]
    )  # fmt: skip
    cookies = {SESSION_COOKIE: users.alice.token}
    page_url = f"{api_server.url}/ui/batches/{batch_id}"
    for sort in ("duration", "status", "device"):
        seen: list[str] = []
        durations: list[float] = []
        took = []
        for number in range(1, 22):
            started = time.perf_counter()
            query = {"sort": sort, "page": number}
            response = requests.get(page_url, params=query, cookies=cookies, timeout=30)
            took.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text[:500]
            rows = re.findall(r'<tr id="child-(\d+)"', response.text)
            assert len(rows) == (100 if number <= 20 else 0), (sort, number, len(rows))
            seen += rows
            durations += [float(value) for value in re.findall(r'data-seconds="([0-9.]+)"', response.text)]
        assert len(seen) == len(set(seen)) == 2000, sort  # every child once: no overlap, no gap
        if sort == "duration":
            assert durations == sorted(durations, reverse=True)
        print(f"batch page of 2,000 children by {sort}: slowest page {max(took) * 1000:.0f} ms")
    refused = requests.get(page_url, params={"sort": "size"}, cookies=cookies, timeout=10)
    assert refused.status_code == 400 and "sort: Must be one of" in refused.text


def test_without_the_live_stream_the_batch_page_polls(dashboard, users, api_server, add_devices, port):
    add_devices([(f"poll-{i}", REACHABLE) for i in range(4)] + [("poll-down", REFUSING)], site="POLL")
    tab = dashboard()
    # as on the embedded default, where the stream answers 503
    tab.page.route("**/job-logs/stream*", lambda route: route.fulfill(status=503, body="{}"))
    page = tab.open("/ui/batches")
    tab.sign_in(users.alice)
    with worker_held_back():
        batch_id = launch(api_server, users.alice, {"site": "POLL"}, {"port": port})
        page.goto(f"{api_server.url}/ui/batches/{batch_id}")
        page.evaluate("window.__sameDocument = true")
        assert progress(page) == 0 and visible_buttons(page) == ["Cancel"]
    eventually(lambda: progress(page) == 100, message=lambda: f"100% polled (it shows {progress(page)}%)")
    final = ["completed"] * 4 + ["failed"]
    eventually(lambda: sorted(statuses(page)) == final, message=lambda: f"the rows polled: {statuses(page)}")
    assert visible_buttons(page) == ["Re-run failed"]  # over, with a failure: shown without a reload
    assert page.evaluate("window.__sameDocument") is True


def test_an_id_beyond_bigint_is_not_found_before_any_query():
    from netraven_tasks.batches.queries import BatchNotFound, visible_batch

    for batch_id in (0, -1, 2**63, 10**30):
        with pytest.raises(BatchNotFound):
            visible_batch(None, batch_id, None)  # type: ignore[arg-type] - no session is asked
