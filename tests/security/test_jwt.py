"""Bearer tokens: every forged, stale or misdirected token, and every unusable user, gets a JSON 401."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from sqlalchemy import update

from netraven_tasks.auth import ALGORITHM, AUDIENCE, ISSUER

SECRET = "test-secret-key-0123456789abcdef"  # NETRAVEN_SECRET_KEY of the test session


def claims(user_id: int, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    values: dict[str, object] = {
        "sub": str(user_id), "iat": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE,
    }  # fmt: skip
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_unauthorized(client, token: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    response = client.get("/job-logs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized" and body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


def test_a_valid_token_is_accepted(client, users):
    token = jwt.encode(claims(users.alice.id), SECRET, algorithm=ALGORITHM)
    assert client.get("/job-logs", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_expired_token_is_refused(client, users):
    past = int(time.time()) - 3600
    token = jwt.encode(claims(users.alice.id, iat=past - 60, exp=past), SECRET, algorithm=ALGORITHM)
    assert "expired" in str(assert_unauthorized(client, token)["message"])


def test_alg_none_token_is_refused(client, users):
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(users.admin.id))}."
    assert_unauthorized(client, token)


def test_token_signed_with_another_key_is_refused(client, users):
    token = jwt.encode(claims(users.admin.id), "another-secret-key-0123456789abcdef", algorithm=ALGORITHM)
    assert_unauthorized(client, token)


def test_tampered_payload_breaks_the_signature(client, users):
    header, _payload, signature = users.alice.token.split(".")
    forged = f"{header}.{b64(claims(users.admin.id))}.{signature}"  # alice's signature on admin's claims
    assert "signature" in str(assert_unauthorized(client, forged)["message"]).lower()


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_hmac_algorithm_is_refused(client, users):
    token = jwt.encode(claims(users.alice.id), SECRET, algorithm="HS512")
    assert_unauthorized(client, token)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"aud": "some-other-api"}, "audience"),
        ({"iss": "someone-else"}, "issuer"),
        ({"exp": None}, "exp"),
        ({"sub": None}, "sub"),
        ({"sub": "not-a-number"}, ""),
    ],
    ids=["wrong-aud", "wrong-iss", "missing-exp", "missing-sub", "non-numeric-sub"],
)
def test_token_with_wrong_or_missing_claims_is_refused(client, users, overrides, words):
    token = jwt.encode(claims(users.alice.id, **overrides), SECRET, algorithm=ALGORITHM)
    assert words in str(assert_unauthorized(client, token)["message"]).lower()


def test_token_of_a_deactivated_user_is_refused(client, users, settings, db_session):
    from netraven_tasks.models import User

    assert client.get("/job-logs", headers=users.bob.headers).status_code == 200
    db_session.execute(update(User).where(User.id == users.bob.id).values(active=False))
    db_session.commit()
    assert "deactivated" in str(assert_unauthorized(client, users.bob.token)["message"])


def test_token_of_an_unknown_user_is_refused(client, users):
    token = jwt.encode(claims(999999), SECRET, algorithm=ALGORITHM)
    assert "unknown" in str(assert_unauthorized(client, token)["message"])


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Token abc", "Bearer a.b.c"]
)
def test_missing_or_malformed_authorization_header_is_refused(client, users, header):
    response = client.get("/job-logs", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_token_from_the_cli_helper_has_the_pinned_claims(users):
    decoded = jwt.decode(users.alice.token, SECRET, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER)
    assert decoded["sub"] == str(users.alice.id)
    assert {"sub", "exp", "iat", "iss", "aud"} <= set(decoded)
    assert jwt.get_unverified_header(users.alice.token)["alg"] == "HS256"
