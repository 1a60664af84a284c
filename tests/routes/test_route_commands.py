"""``netraven-tasks routes list|create|delete``: the operator's routes, checked like the API's."""

from __future__ import annotations

import contextlib
import io

import pytest

from tests.routes.conftest import PAGERDUTY_KEY

pytestmark = pytest.mark.usefixtures("clean_db")


def cli(*args: str) -> tuple[int, str]:
    from netraven_tasks.cli import CommandError, build_parser
    from netraven_tasks.settings import get_settings

    parsed = build_parser().parse_args(list(args))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            parsed.func(get_settings(), parsed)
        except CommandError as error:
            return 2, str(error)
    return 0, out.getvalue()


def test_create_list_and_delete_a_route():
    match = ("--site", "FRA", "--site", "MUC", "--event", "failed", "--event", "recovered")
    route = ("--name", "fra pager", "--channel", "pagerduty", "--target", PAGERDUTY_KEY)
    code, out = cli("routes", "create", *route, *match)
    assert code == 0, out
    assert "fra pager  pagerduty → …23ab  [sites=FRA|MUC, events=failed|recovered]  admins" in out
    assert PAGERDUTY_KEY not in out
    code, out = cli("routes", "list")
    assert code == 0 and "fra pager" in out and PAGERDUTY_KEY not in out
    route_id = out.split()[0]
    assert cli("routes", "delete", route_id) == (0, f"deleted route {route_id} (fra pager) with its pending "
                                                     "messages and history\n")  # fmt: skip
    assert cli("routes", "list")[1].startswith("no routes")


def test_a_bad_route_is_refused_naming_the_field():
    code, message = cli("routes", "create", "--name", "x", "--channel", "opsgenie", "--target", "k",
                        "--event", "batch_finished")  # fmt: skip
    assert code == 2 and "match" in message and "batch_finished" in message
    code, message = cli(
        "routes", "create", "--name", "x", "--channel", "slack", "--target", "file:///etc/passwd"
    )
    assert code == 2 and message.startswith("target:")
    assert cli("routes", "delete", "999") == (2, "no route 999")
