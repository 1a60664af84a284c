"""PagerDuty (Events API v2) and Opsgenie (Alert API v2) lookalikes on 127.0.0.1 for the tests.

Each checks a request as the real API documents it and answers like it: PagerDuty takes
``POST /v2/enqueue`` with a 32-character ``routing_key``, ``event_action`` trigger, acknowledge or
resolve, a ``dedup_key`` of at most 255 characters, and for a trigger a ``payload`` with a
``summary`` (at most 1024), a ``source`` and a ``severity`` of critical, error, warning or info;
202 ``{"status": "success", "dedup_key"}``, else 400 ``{"status": "invalid event"}``. Opsgenie
takes ``Authorization: GenieKey <key>``, ``POST /v2/alerts`` with a ``message`` of at most 130
characters (``alias`` at most 512, ``description`` 15000, ``priority`` P1-P5, ``details`` a map of
strings, ``tags`` a list) and ``POST /v2/alerts/{alias}/close?identifierType=alias``; 202
``{"result": "Request will be processed", "requestId"}``, 401 or 422 otherwise.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_api import FakeApi, json_body

SEVERITIES = {"critical", "error", "warning", "info"}
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}


def _pagerduty_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = []
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        problems.append("'routing_key' must be a 32-character integration key")
    if body.get("event_action") not in {"trigger", "acknowledge", "resolve"}:
        problems.append("'event_action' must be trigger, acknowledge or resolve")
    key = body.get("dedup_key")
    if body.get("event_action") != "trigger" and not key:
        problems.append("'dedup_key' is required to acknowledge or resolve")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        problems.append("'dedup_key' must be a string of at most 255 characters")
    if body.get("event_action") == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "'payload' is required to trigger"]
        if not isinstance(payload.get("summary"), str) or not 0 < len(payload["summary"]) <= 1024:
            problems.append("'payload.summary' is required (at most 1024 characters)")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("'payload.source' is required")
        if payload.get("severity") not in SEVERITIES:
            problems.append("'payload.severity' must be critical, error, warning or info")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("'payload.custom_details' must be an object")
        for link in body.get("links") or []:
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                problems.append("each of 'links' needs an 'href'")
    return problems


class PagerDutyApi(FakeApi):
    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json_body(raw)
        if path != "/v2/enqueue":
            return 404, {"status": "not found"}
        if problems := _pagerduty_problems(body):
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
        self.accepted.append(body)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")}


def _opsgenie_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = []
    if not isinstance(body.get("message"), str) or not 0 < len(body["message"]) <= 130:
        problems.append("message: required, at most 130 characters")
    if "alias" in body and (not isinstance(body["alias"], str) or len(body["alias"]) > 512):
        problems.append("alias: at most 512 characters")
    if "description" in body and len(str(body["description"])) > 15_000:
        problems.append("description: at most 15000 characters")
    if "priority" in body and body["priority"] not in PRIORITIES:
        problems.append("priority: one of P1..P5")
    details = body.get("details", {})
    if not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values()):
        problems.append("details: a map of strings")
    if not isinstance(body.get("tags", []), list):
        problems.append("tags: a list")
    return problems


class OpsgenieApi(FakeApi):
    def __init__(self, port: int, key: str):
        super().__init__(port)
        self.key = key

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json_body(raw)
        if headers.get("authorization") != f"GenieKey {self.key}":
            return 401, {"message": "Could not authenticate", "took": 0.0, "requestId": str(uuid.uuid4())}
        parts = urlsplit(path)
        request_id = str(uuid.uuid4())
        if parts.path == "/v2/alerts":
            if problems := _opsgenie_problems(body):
                return 422, {"message": "; ".join(problems), "took": 0.0, "requestId": request_id}
            self.accepted.append({"request": "create", "body": body})
        elif parts.path.startswith("/v2/alerts/") and parts.path.endswith("/close"):
            if parse_qs(parts.query).get("identifierType") != ["alias"] or not isinstance(body, dict):
                return 422, {"message": "identifierType=alias and a JSON body", "took": 0.0}
            alias = unquote(parts.path[len("/v2/alerts/") : -len("/close")])
            self.accepted.append({"request": "close", "alias": alias, "body": body})
        else:
            return 404, {"message": "not found", "took": 0.0}
        return 202, {"result": "Request will be processed", "took": 0.01, "requestId": request_id}
