"""deploy/grafana and deploy/prometheus: the rules pass promtool's check and unit tests, the
dashboard imports, and every metric they name is one our ``/metrics`` really exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, eventually
from tests.ops.test_metrics import Samples, scrape

RULES = ROOT / "deploy/prometheus/netraven-tasks-rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/netraven-tasks-rules.test.yml"
DASHBOARD = ROOT / "deploy/grafana/netraven-tasks.json"
METRIC_NAME = re.compile(r"\bnetraven_[a-z0-9_]+\b")
# Grafana's variables, replaced by what they expand to, so that promtool can parse the queries.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job_type": ".*", "$site": ".*"}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    reason = "promtool is not installed (scripts/test installs it: apt-get install prometheus)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must check the alerting rules")
    pytest.skip(reason)


def run_promtool(promtool: str, *args: str | Path, cwd: Path = RULES.parent) -> str:
    done = subprocess.run([promtool, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"promtool {' '.join(map(str, args))}:\n{done.stdout}{done.stderr}"
    return done.stdout


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])]
    variables = [variable["query"]["query"] for variable in dashboard["templating"]["list"]]
    return queries + variables


def test_the_alerting_rules_pass_promtools_check(promtool):  # type: ignore[no-untyped-def]
    assert "SUCCESS" in run_promtool(promtool, "check", "rules", RULES)


def test_every_alert_is_unit_tested_firing_and_not_firing_and_the_tests_pass(promtool):  # type: ignore[no-untyped-def]
    run_promtool(promtool, "test", "rules", RULE_TESTS.name)

    cases: dict[str, list[bool]] = {}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    for rule in alerting_rules():
        assert sorted(set(cases.get(rule["alert"], []))) == [False, True], f"{rule['alert']}: firing and not"


def test_every_alert_waits_has_a_severity_and_says_what_to_do():
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names))
    for rule in alerting_rules():
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_dashboard_imports_with_a_prometheus_input_and_its_queries_parse(promtool, tmp_path):  # type: ignore[no-untyped-def]
    dashboard = json.loads(DASHBOARD.read_text())
    assert [(i["name"], i["pluginId"]) for i in dashboard["__inputs"]] == [("DS_PROMETHEUS", "prometheus")]
    panels = list(dashboard_panels())
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
            assert panel["targets"], panel["title"]
    titles = " | ".join(panel["title"] for panel in panels).lower()
    for wanted in ("by status", "by job type and site", "p95", "queue age", "recorder backlog",
                   "dead letters", "outbox backlog", "batches in progress"):  # fmt: skip
        assert wanted in titles, wanted

    # promtool parses PromQL in rule files: each query becomes a recording rule of a scratch file.
    expressions = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    for variable, value in GRAFANA_VARIABLES.items():
        expressions = [expression.replace(variable, value) for expression in expressions]
    scratch = tmp_path / "dashboard-queries.yml"
    rules = [{"record": f"dashboard:query_{n}", "expr": expr} for n, expr in enumerate(expressions)]
    scratch.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run_promtool(promtool, "check", "rules", scratch)


@pytest.mark.usefixtures("clean_db", "worker")
def test_every_metric_the_dashboard_and_rules_name_is_in_our_metrics(settings, wait_for_job):  # type: ignore[no-untyped-def]
    from api import create_app
    from netraven_tasks.batches.launch import launch_batch
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device
    from netraven_tasks.jobs.launch import launch_job

    with socket.socket() as listening:  # real activity: runs that complete, fail, and a fleet run
        listening.bind(("127.0.0.1", 0))
        listening.listen(16)
        port = listening.getsockname()[1]
        with session_factory(settings).begin() as session:
            session.add(Device(name="fra-lo", address="127.0.0.1", platform="generic", site="FRA"))
        wait_for_job(
            launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": port}, None).job_log_id
        )
        wait_for_job(launch_job(settings, "test_flaky", {"host": "lab-sw-01"}, None).job_log_id)
        launch_batch(settings, "reachability_check", {"site": "FRA"}, {"port": port}, None, is_admin=True)
        client = create_app(settings).test_client()

        def after_the_fleet_run() -> Samples | None:
            found = scrape(client)
            recent = [labels for name, labels in found if name == "netraven_jobs_finished_recently"]
            return found if any(("site", "FRA") in labels for labels in recent) else None

        samples = eventually(after_the_fleet_run, message="the fleet run's outcome in /metrics")

    exposed = {name for name, _ in samples}
    named: dict[str, set[str]] = {}
    for rule in alerting_rules():
        for name in METRIC_NAME.findall(rule["expr"]):
            named.setdefault(name, set()).add(f"alert {rule['alert']}")
    for query in dashboard_queries():
        for name in METRIC_NAME.findall(query):
            named.setdefault(name, set()).add("the Grafana dashboard")
    assert len(named) >= 15  # the extraction found the queries' metrics
    missing = {name: sorted(users) for name, users in named.items() if name not in exposed}
    assert not missing, f"named but not in /metrics: {missing}"
