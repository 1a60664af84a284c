"""Accounts (row 12): password changes and deactivation revoke tokens, bounded token lifetimes,
a minimum password length, and the CLI that does it all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netraven_tasks.users import UserError, create_user, deactivate_user, set_password
from tests.conftest import ROOT, TEST_ENV


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", *args],
        env={**os.environ, **TEST_ENV}, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_old_tokens_are_401_after_a_password_change_and_new_ones_work(client, users, settings, db_session):
    assert client.get("/job-logs", headers=users.bob.headers).status_code == 200
    set_password(db_session, "bob", "a-brand-new-password")
    db_session.commit()
    old = client.get("/job-logs", headers=users.bob.headers)
    assert old.status_code == 401 and "revoked" in old.get_json()["message"]
    assert (
        client.post("/auth/token", json={"username": "bob", "password": users.bob.password}).status_code
        == 401
    )
    fresh = client.post("/auth/token", json={"username": "bob", "password": "a-brand-new-password"})
    assert fresh.status_code == 200
    token = fresh.get_json()["access_token"]
    assert client.get("/job-logs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Nobody else is affected.
    assert client.get("/job-logs", headers=users.alice.headers).status_code == 200


def test_deactivation_revokes_tokens_even_after_reactivation(client, users, db_session):
    deactivate_user(db_session, "alice")
    db_session.commit()
    assert client.get("/job-logs", headers=users.alice.headers).status_code == 401
    from netraven_tasks.users import find_user

    alice = find_user(db_session, "alice")
    assert alice is not None
    alice.active = True  # an admin turning the account back on does not revive old tokens
    db_session.commit()
    assert client.get("/job-logs", headers=users.alice.headers).status_code == 401


@pytest.mark.parametrize("password", ["", "x", "eleven-char"])
def test_passwords_shorter_than_12_are_refused(db_session, clean_db, password):
    with pytest.raises(UserError, match="at least 12 characters"):
        create_user(db_session, "shorty", "shorty@example.test", password)


def test_token_ttl_is_positive_and_bounded(settings, users, db_session):
    from netraven_tasks.auth import issue_token
    from netraven_tasks.users import find_user

    bob = find_user(db_session, "bob")
    assert bob is not None
    for ttl in (-100, 0, 59, 1_000_000_000):
        with pytest.raises(ValueError, match="between 60 and"):
            issue_token(bob, settings, ttl)
    assert issue_token(bob, settings, 60).count(".") == 2


@pytest.mark.slow
def test_cli_users_set_password_deactivate_list_and_token_ttl(client, users):
    short = cli("users", "set-password", "bob", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    changed = cli("users", "set-password", "bob", stdin="another-long-password\n")
    assert changed.returncode == 0, changed.stderr
    assert client.get("/job-logs", headers=users.bob.headers).status_code == 401
    assert (
        client.post("/auth/token", json={"username": "bob", "password": "another-long-password"}).status_code
        == 200
    )

    for ttl in ("-100", "1000000000"):
        refused = cli("token", "alice", "--ttl", ttl)
        assert refused.returncode == 2 and "between 60 and" in refused.stderr
    assert cli("token", "alice", "--ttl", "120").returncode == 0

    assert cli("users", "deactivate", "alice").returncode == 0
    assert client.get("/job-logs", headers=users.alice.headers).status_code == 401
    listed = cli("users", "list").stdout.splitlines()
    assert any(
        line.split("\t")[1:] == ["alice", "alice@example.test", "user", "deactivated"] for line in listed
    )
    assert any(line.split("\t")[1:] == ["root", "root@example.test", "admin", "active"] for line in listed)
    assert cli("users", "deactivate", "nobody").returncode == 2


@pytest.mark.slow
def test_cli_run_enforces_launch_roles_for_the_owner(users, backup_root):
    refused = cli("run", "config_backup", "--owner", "bob", "--arg", "host=x", "--arg", "source=/etc/passwd")
    assert refused.returncode == 2 and "only admin may launch config_backup" in refused.stderr
