"""Job arguments are data: rows 1-6 of the security review, each through the API and a real worker.

Each test asserts the safe outcome where it shows (the filesystem, the database, a local HTTP
server's hit count, the worker's memory), not only the status code.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from netraven_tasks.backups.models import ConfigBackup, ConfigBlob
from tests.conftest import VAR_DIR
from tests.support.http_server import counting_server

pytestmark = pytest.mark.usefixtures("clean_db", "worker")

SECRET_LINE = b"root:$6$very-secret-hash"


def launch(client, user, arguments, job_type="config_backup"):  # type: ignore[no-untyped-def]
    return client.post(f"/jobs/{job_type}/runs", json=arguments, headers=user.headers)


def launch_ok(client, user, arguments):  # type: ignore[no-untyped-def]
    response = launch(client, user, arguments)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["job_log_id"]


def stored_counts(db_session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return (
        db_session.scalar(select(func.count()).select_from(ConfigBackup)),
        db_session.scalar(select(func.count()).select_from(ConfigBlob)),
    )


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file outside every backup root, standing for /etc/shadow or var/secret.key."""
    path = tmp_path / "shadow"
    path.write_bytes(SECRET_LINE + b"\n")
    return path


@pytest.mark.parametrize("source", ["/etc/shadow", "/etc/passwd", "/proc/self/environ", "secret.key"])
def test_row1_user_may_not_use_the_file_driver_at_all(client, users, db_session, source):
    response = launch(client, users.bob, {"host": "x", "driver": "file", "source": source})
    assert response.status_code == 403
    assert response.is_json and "admin" in response.get_json()["message"]
    assert stored_counts(db_session) == (0, 0)


def test_row1_user_may_not_use_the_ssh_driver(client, users):
    response = launch(client, users.bob, {"host": "x", "driver": "ssh"})
    assert response.status_code == 403 and response.get_json()["code"] == 403


def test_row1_file_outside_the_roots_is_not_copied_anywhere(
    client, users, db_session, wait_for_job, secret_file, backup_root
):
    link = backup_root / "innocent.cfg"
    link.symlink_to(secret_file)  # a symlink inside the root pointing out of it
    traversal = f"{backup_root}/../../../{secret_file.relative_to('/')}"
    for source in (str(secret_file), str(link), traversal, "/etc/passwd", str(VAR_DIR / "secret.key")):
        job = wait_for_job(launch_ok(client, users.admin, {"host": "x", "source": source}))
        assert job.status == "failed", source
        assert job.error_type == "PermissionError", (source, job.error_message)
        assert "NETRAVEN_BACKUP_FILE_ROOTS" in job.error_message
    assert stored_counts(db_session) == (0, 0)
    assert files_containing(VAR_DIR, SECRET_LINE) == []


def test_row1_refusal_is_no_oracle_of_what_exists(client, users, wait_for_job, secret_file):
    present = wait_for_job(launch_ok(client, users.admin, {"host": "x", "source": str(secret_file)}))
    absent = wait_for_job(launch_ok(client, users.admin, {"host": "x", "source": f"{secret_file}.nope"}))
    assert present.error_message == absent.error_message


def test_row2_url_driver_never_reaches_a_local_server(client, users, db_session, wait_for_job):
    with counting_server() as server:
        port = server.server.server_address[1]
        for source in (
            f"{server.url}/metrics",
            f"http://[::ffff:127.0.0.1]:{port}/",
            f"http://[64:ff9b::7f00:1]:{port}/",  # NAT64 of 127.0.0.1
            f"http://[::127.0.0.1]:{port}/",  # IPv4-compatible
            f"http://localhost:{port}/",  # last: its message is checked below
        ):
            job = wait_for_job(launch_ok(client, users.bob, {"host": "x", "driver": "url", "source": source}))
            assert job.status == "failed" and job.error_type == "PermissionError", job.error_message
            assert f"host {urlsplit(source).hostname!r} is not allowed" in job.error_message
        # The user learns nothing about what a name stands for.
        assert "127.0.0.1" not in job.error_message and "::1" not in job.error_message
        # Every job is over: whatever they could have sent has arrived by now.
        assert server.hits == []
    assert stored_counts(db_session) == (0, 0)


def test_row2_refused_ports_are_no_port_scanner(client, users, wait_for_job):
    with counting_server() as server:
        open_port = server.server.server_address[1]
        messages = {
            wait_for_job(
                launch_ok(
                    client, users.bob, {"host": "x", "driver": "url", "source": f"http://127.0.0.1:{port}/"}
                )
            ).error_message
            for port in (open_port, 6379, 1)
        }
    assert len(messages) == 1


EXPANSIONS = ["{host.__class__.__mro__}", "{host!r:>20}", "{0}", "{host.__init__.__globals__}"]


@pytest.mark.parametrize("template", EXPANSIONS)
def test_row3_source_is_never_formatted(client, users, wait_for_job, backup_root, template):
    job = wait_for_job(
        launch_ok(client, users.admin, {"host": "sw-9", "source": f"{backup_root}/{template}.cfg"})
    )
    assert job.status == "failed" and job.error_type == "FileNotFoundError"
    assert template in job.error_message  # the braces came back as they went in
    for expansion in ("<class", "'sw-9'", "__builtins__", "                "):
        assert expansion not in job.error_message
    stored_text = " ".join(entry.message + str(entry.details or "") for entry in job.entries)
    assert "<class" not in stored_text and "__builtins__" not in stored_text


def test_row3_only_a_literal_host_placeholder_is_replaced(client, users, wait_for_job, backup_root):
    (backup_root / "core-sw-01.cfg").write_text("hostname core-sw-01\n")
    job = wait_for_job(
        launch_ok(client, users.admin, {"host": "core-sw-01", "source": f"{backup_root}/{{host}}.cfg"})
    )
    assert job.status == "completed", job.error_message


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


# The old attack grew a child by ~275 MB per job; a job that keeps the source as data needs no more
# than a few MB. 32 MiB leaves room for the allocator and the driver's own buffers (64 KiB chunks).
PEAK_RSS_GROWTH_CAP_KIB = 32 * 1024


def test_row3a_format_width_does_not_grow_the_worker(client, users, wait_for_job, worker, backup_root):
    children = worker.child_pids()
    assert children
    before = {pid: _peak_rss_kib(pid) for pid in children}
    for _ in range(len(children) * 2):  # every child gets at least one, whichever takes it
        for arguments in (
            {"host": "sw", "source": f"{backup_root}/{{host:>50000000}}"},
            {"host": "sw", "source": "{host:>500000000}"},
        ):
            job = wait_for_job(launch_ok(client, users.admin, arguments))
            assert job.status == "failed"
        job = wait_for_job(
            launch_ok(
                client, users.bob, {"host": "sw", "driver": "url", "source": "http://{host:>50000000}/"}
            )
        )
        assert job.status == "failed"
    assert worker.child_pids() == children  # no child was killed on the way
    for pid in children:
        assert _peak_rss_kib(pid) - before[pid] < PEAK_RSS_GROWTH_CAP_KIB, pid


def test_row4_file_above_the_size_cap_is_refused(
    client, users, db_session, wait_for_job, settings, backup_root
):
    big = backup_root / "huge.cfg"
    with big.open("wb") as handle:  # sparse: the size counts, not the disk
        handle.truncate(settings.backup_max_bytes + 1)
    job = wait_for_job(launch_ok(client, users.admin, {"host": "x", "source": str(big)}))
    assert job.status == "failed" and "larger than" in job.error_message
    assert stored_counts(db_session) == (0, 0)


def test_row4_a_fifo_is_not_read(client, users, wait_for_job, backup_root):
    fifo = backup_root / "pipe.cfg"
    os.mkfifo(fifo)
    job = wait_for_job(launch_ok(client, users.admin, {"host": "x", "source": str(fifo)}))
    assert job.status == "failed" and "not a regular file" in job.error_message


@pytest.mark.parametrize("host", [".", "..", "../x", "a/b", "..\\x", "-oProxyCommand", "x..y", ".hidden"])
def test_row5_host_with_path_syntax_is_422_naming_host(client, users, db_session, host):
    for user, driver in ((users.bob, "url"), (users.admin, "file")):
        response = launch(client, user, {"host": host, "driver": driver, "source": "http://example.test/"})
        assert response.status_code == 422, host
        body = response.get_json()
        assert body["code"] == 422 and "host" in body["message"]
    assert not (VAR_DIR / "latest").exists() and not (VAR_DIR / "backups").exists()


def test_row5a_backup_lands_in_the_database_not_on_disk(client, users, db_session, wait_for_job, backup_root):
    config = backup_root / "edge-rtr-01.cfg"
    config.write_bytes(b"hostname edge-rtr-01\n")
    first = wait_for_job(launch_ok(client, users.admin, {"host": "edge-rtr-01", "source": str(config)}))
    config.write_bytes(b"hostname edge-rtr-01\nntp server 192.0.2.1\n")
    second = wait_for_job(launch_ok(client, users.admin, {"host": "edge-rtr-01", "source": str(config)}))
    assert (first.result["changed"], second.result["changed"]) == (False, True)
    assert second.result["previous_sha256"] == first.result["sha256"]
    assert "path" not in second.result and not (VAR_DIR / "backups").exists()

    history = client.get("/devices/edge-rtr-01/backups", headers=users.admin.headers).get_json()
    assert [v["sha256"] for v in history["versions"]] == [second.result["sha256"], first.result["sha256"]]
    assert history["versions"][0]["launched_by"] == users.admin.id
    assert [(v["lines_added"], v["lines_removed"]) for v in history["versions"]] == [(1, 0), (None, None)]
    content = client.get(
        f"/devices/edge-rtr-01/backups/{first.result['sha256']}", headers=users.admin.headers
    )
    assert content.get_json()["content"] == "hostname edge-rtr-01\n"
    diff = client.get(
        f"/devices/edge-rtr-01/backups/{second.result['sha256']}?diff={first.result['sha256']}",
        headers=users.admin.headers,
    ).get_json()["diff"]
    assert "+ntp server 192.0.2.1" in diff
    assert hashlib.sha256(config.read_bytes()).hexdigest() == second.result["sha256"]


def test_row5a_another_user_cannot_poison_a_device_history(client, users, db_session, settings):
    from netraven_tasks.backups.normalise import build_rules
    from netraven_tasks.backups.store import Comparison, store_backup

    generic = Comparison("generic", build_rules())
    shared = store_backup(
        db_session, device="edge-rtr-01", content=b"hostname edge-rtr-01\n", namespace_owner_id=None,
        launched_by_id=users.admin.id, driver="file", task_id=None, comparison=generic,
    )  # fmt: skip
    bobs = store_backup(
        db_session, device="edge-rtr-01", content=SECRET_LINE, namespace_owner_id=users.bob.id,
        launched_by_id=users.bob.id, driver="url", task_id=None, comparison=generic,
    )  # fmt: skip
    db_session.commit()
    assert bobs.previous_sha256 is None and not bobs.version.changed  # bob's own, separate history

    admin_view = client.get("/devices/edge-rtr-01/backups", headers=users.admin.headers).get_json()
    assert [v["sha256"] for v in admin_view["versions"]] == [shared.version.sha256]
    alice_view = client.get("/devices/edge-rtr-01/backups", headers=users.alice.headers).get_json()
    assert alice_view["versions"] == []
    bob_view = client.get("/devices/edge-rtr-01/backups", headers=users.bob.headers).get_json()
    assert [v["sha256"] for v in bob_view["versions"]] == [bobs.version.sha256]
    # Content is served only from the caller's own history, even for a known hash.
    for user, sha in ((users.alice, bobs.version.sha256), (users.bob, shared.version.sha256)):
        response = client.get(f"/devices/edge-rtr-01/backups/{sha}", headers=user.headers)
        assert response.status_code == 404 and response.is_json
    assert (
        client.get(
            f"/devices/edge-rtr-01/backups?owner={users.alice.id}", headers=users.bob.headers
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    "path", ["/devices/../backups", "/devices/x/backups/not-a-sha", "/devices/%2e%2e/backups"]
)
def test_row5_device_paths_with_bad_parts_are_json_errors(client, users, path):
    response = client.get(path, headers=users.bob.headers)
    assert 400 <= response.status_code < 500 and response.is_json


def test_row6_ssh_runs_only_allow_listed_commands(settings):
    from netraven_tasks.jobs.drivers.ssh import allowed_command

    assert allowed_command(settings, "ios", None) == "show running-config"
    assert allowed_command(settings, "ios", "  show   startup-config ") == "show startup-config"
    for source in ("cat /etc/shadow", "show running-config; id", "show running-config\nreload"):
        with pytest.raises(PermissionError):
            allowed_command(settings, "ios", source)
    with pytest.raises(ValueError, match="no allowed ssh commands"):
        allowed_command(settings, "unknown-os", None)


def test_row6_ssh_job_with_a_command_fails_before_connecting(client, users, wait_for_job):
    job = wait_for_job(
        launch_ok(client, users.admin, {"host": "127.0.0.1", "driver": "ssh", "source": "cat /etc/shadow"})
    )
    assert job.status == "failed" and job.error_type == "PermissionError"
    assert "show running-config" in job.error_message
