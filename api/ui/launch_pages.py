"""Dashboard pages that launch jobs: the job types (``/ui/jobs``) and one type's launch form.

The form is generated from the job type's argument schema (``api.ui.argument_form``). The page's
script sends it to the API itself, ``POST /jobs/{type}/runs`` for one device or
``POST /jobs/{type}/batches`` for a fleet, so a launch from here is checked, limited and
audited exactly like one from a script; the API's 422 lands beside the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template

from api.context import current_settings
from api.ui.argument_form import LaunchOffer, argument_fields, device_argument, launch_offer
from api.ui.blueprint import blp
from api.ui.device_pages import inventory_choices
from api.ui.session import caller, signed_in
from netraven_tasks.jobs.registry import JobType, all_job_types, get_job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.schedules.wording import duration_words


@dataclass(frozen=True)
class JobTypeView:
    """A job type as the list shows it."""

    declared: JobType
    offer: LaunchOffer
    time_limit: str
    retries: str


def _seconds(value: float) -> str:
    return duration_words(round(value)) if value >= 1 else f"{value:g} seconds"


def retry_words(policy: RetryPolicy) -> str:
    """``up to 3 attempts, on TimeoutError; waits 5 seconds, then 2 times as long each time,
    at most 1 minute``: the policy as the list shows it."""
    if policy.max_attempts == 1 or not policy.retry_on:
        return "one attempt, never retried"
    errors = ", ".join(kind.__name__ for kind in policy.retry_on)
    growth = "" if policy.backoff_factor == 1 else f", then {policy.backoff_factor:g} times as long each time"
    return (
        f"up to {policy.max_attempts} attempts, on {errors}; waits {_seconds(policy.backoff_base)}"
        f"{growth}, at most {_seconds(policy.backoff_max)}"
    )


def job_type_view(declared: JobType) -> JobTypeView:
    me = caller()
    return JobTypeView(
        declared=declared,
        offer=launch_offer(declared, me.is_admin, current_settings()),
        time_limit=_seconds(declared.time_limit) if declared.time_limit else "none",
        retries=retry_words(declared.policy),
    )


def offered_job_type(name: str) -> tuple[JobTypeView | None, Any]:
    """The job type's view when the caller may launch it; else None and the page to answer."""
    declared = get_job_type(name) if len(name) <= 100 else None
    if declared is None:
        return None, (render_template("ui/not_found.html", title="Not found", what="such job type"), 404)
    view = job_type_view(declared)
    if not view.offer.offered:
        what = f"{declared.name} is not offered to you ({view.offer.note or 'admins only'})"
        return None, (render_template("ui/forbidden.html", title=declared.name, what=what), 403)
    return view, None


@blp.route("/jobs")
@signed_in
def jobs() -> str:
    views = [job_type_view(declared) for declared in all_job_types()]
    return render_template("ui/jobs.html", title="Jobs", job_types=views)


@blp.route("/jobs/<string:job_type>/launch")
@signed_in
def launch(job_type: str) -> Any:
    view, refused = offered_job_type(job_type)
    if view is None:
        return refused
    declared = view.declared
    return render_template(
        "ui/launch.html",
        title=f"Launch {declared.name}",
        job=view,
        arguments=argument_fields(declared),
        device=device_argument(declared),
        targets=None,
        **inventory_choices(),
    )
