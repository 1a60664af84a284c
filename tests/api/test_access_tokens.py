"""Personal access tokens through the real API: made, shown once, stored hashed, used as bearer
tokens, revoked one by one (the next request is 401), expired, and ended by a password change."""

from __future__ import annotations

import sqlalchemy as sa

from netraven_tasks.db import session_factory


def make(client, user, name="script", **extra):  # type: ignore[no-untyped-def]
    answer = client.post("/users/me/tokens", json={"name": name, **extra}, headers=user.headers)
    assert answer.status_code == 201, answer.get_json()
    return answer


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_is_shown_once_stored_hashed_and_works_as_a_bearer_token(client, users, settings):
    answer = make(client, users.alice, "backup script", expires_in_days=30)
    body = answer.get_json()
    secret = body["token"]
    assert secret.startswith("nrt_") and len(secret) >= 40
    assert answer.headers["Cache-Control"] == "no-store"
    assert body["prefix"] == secret[:8] and body["state"] == "active" and body["last_used_at"] is None
    assert client.get("/job-logs", headers=bearer(secret)).status_code == 200
    listed = client.get("/users/me/tokens", headers=users.alice.headers).get_json()
    assert [token["name"] for token in listed] == ["backup script"]
    assert "token" not in listed[0] and listed[0]["last_used_at"] is not None
    with session_factory(settings)() as session:
        stored = session.execute(sa.text("SELECT * FROM personal_access_tokens")).mappings().one()
    assert secret not in {str(value) for value in stored.values()}, "the secret is stored in clear"


def test_revoking_one_token_refuses_it_at_once_and_the_other_still_works(client, users):
    first, second = make(client, users.alice, "one").get_json(), make(client, users.alice, "two").get_json()
    assert client.delete(f"/users/me/tokens/{first['id']}", headers=users.alice.headers).status_code == 204
    refused = client.get("/job-logs", headers=bearer(first["token"]))
    assert refused.status_code == 401 and "revoked" in refused.get_json()["message"]
    assert client.get("/job-logs", headers=bearer(second["token"])).status_code == 200
    states = {
        t["name"]: t["state"] for t in client.get("/users/me/tokens", headers=users.alice.headers).get_json()
    }
    assert states == {"one": "revoked", "two": "active"}


def test_an_expired_token_is_refused(client, users, settings):
    secret = make(client, users.alice).get_json()["token"]
    with session_factory(settings).begin() as session:
        session.execute(sa.text("UPDATE personal_access_tokens SET expires_at = now() - interval '1 second'"))
    refused = client.get("/job-logs", headers=bearer(secret))
    assert refused.status_code == 401 and "expired" in refused.get_json()["message"]


def test_a_password_change_or_deactivation_ends_the_users_tokens(client, users, settings):
    from netraven_tasks.users import deactivate_user, set_password

    secret = make(client, users.alice).get_json()["token"]
    with session_factory(settings).begin() as session:
        set_password(session, "alice", "a-new-password-123")
    assert client.get("/job-logs", headers=bearer(secret)).status_code == 401
    bob_secret = make(client, users.bob).get_json()["token"]
    with session_factory(settings).begin() as session:
        deactivate_user(session, "bob")
    assert client.get("/job-logs", headers=bearer(bob_secret)).status_code == 401


def test_admins_list_and_revoke_anyones_tokens_users_only_their_own(client, users):
    token = make(client, users.alice).get_json()
    assert client.get(f"/users/{users.alice.id}/tokens", headers=users.bob.headers).status_code == 403
    assert (
        client.delete(f"/users/{users.alice.id}/tokens/{token['id']}", headers=users.bob.headers).status_code
        == 403
    )
    assert client.delete(f"/users/me/tokens/{token['id']}", headers=users.bob.headers).status_code == 404
    assert client.get("/job-logs", headers=bearer(token["token"])).status_code == 200
    listed = client.get(f"/users/{users.alice.id}/tokens", headers=users.admin.headers).get_json()
    assert [t["id"] for t in listed] == [token["id"]]
    made_for_other = client.post(
        f"/users/{users.alice.id}/tokens", json={"name": "x"}, headers=users.admin.headers
    )
    assert made_for_other.status_code == 403
    revoked = client.delete(f"/users/{users.alice.id}/tokens/{token['id']}", headers=users.admin.headers)
    assert revoked.status_code == 204
    assert client.get("/job-logs", headers=bearer(token["token"])).status_code == 401


def test_bad_token_requests_name_the_field(client, users):
    bad = [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
           ({"name": "x", "expires_in_days": 10_000}, "expires_in_days")]  # fmt: skip
    for body, field in bad:
        answer = client.post("/users/me/tokens", json=body, headers=users.alice.headers)
        assert answer.status_code == 422 and field in answer.get_json()["message"], (body, answer.get_json())
    for secret in ("nrt_" + "x" * 43, "nrt_", "nrt_" + "é" * 300):
        assert client.get("/job-logs", headers=bearer(secret)).status_code == 401
    assert client.get("/users/me/tokens", headers=bearer("nrt_forged")).status_code == 401


def test_last_use_is_written_at_most_once_a_minute(client, users, settings):
    secret = make(client, users.alice).get_json()["token"]
    read = sa.text("SELECT last_used_at FROM personal_access_tokens")
    client.get("/job-logs", headers=bearer(secret))
    with session_factory(settings)() as session:
        first = session.scalar(read)
    client.get("/job-logs", headers=bearer(secret))
    with session_factory(settings)() as session:
        assert session.scalar(read) == first, "a second use within the minute wrote again"
        session.execute(
            sa.text("UPDATE personal_access_tokens SET last_used_at = last_used_at - interval '2 minutes'")
        )
        session.commit()
    client.get("/job-logs", headers=bearer(secret))
    with session_factory(settings)() as session:
        assert session.scalar(read) >= first, "a use more than a minute after the last is written"


def test_a_user_holds_at_most_fifty_active_tokens(client, users):
    from netraven_tasks.access.tokens import MAX_ACTIVE_PER_USER

    for i in range(MAX_ACTIVE_PER_USER):
        make(client, users.bob, f"t{i}")
    over = client.post("/users/me/tokens", json={"name": "one more"}, headers=users.bob.headers)
    assert over.status_code == 422 and "at most 50" in over.get_json()["message"]


def test_the_cli_makes_lists_and_revokes_tokens(client, users):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import ROOT, TEST_ENV

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "netraven-tasks"), "tokens", *args],
            cwd=ROOT, env={**os.environ, **TEST_ENV, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    made = cli("create", "alice", "--name", "nightly backup", "--days", "7")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("nrt_") and "shown this once only" in made.stderr
    assert client.get("/job-logs", headers=bearer(secret)).status_code == 200
    listed = cli("list", "alice")
    assert "nightly backup" in listed.stdout and "\tactive\t" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split("\t", 1)[0]
    assert cli("revoke", "alice", token_id).returncode == 0
    assert client.get("/job-logs", headers=bearer(secret)).status_code == 401
    assert "\trevoked\t" in cli("list", "alice").stdout
    wrong = cli("revoke", "bob", token_id)
    assert wrong.returncode == 2 and f"no token {token_id} of bob" in wrong.stderr
    too_long = cli("create", "alice", "--name", "x", "--days", "1000")
    assert too_long.returncode == 2 and "expires_in_days" in too_long.stderr
