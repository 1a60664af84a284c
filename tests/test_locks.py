"""The locks (requirements/*.lock) and setup.cfg agree: what setup.cfg asks for is locked within
its range, nothing else is locked for setup.cfg's sake, and both locks pin the same versions.

A failure here means setup.cfg changed without the locks (or the other way round): run scripts/lock.
"""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.locks import (
    DEV_LOCK,
    FROM_SETUP_CFG,
    RUNTIME_EXTRAS,
    RUNTIME_LOCK,
    Pin,
    all_extras,
    read_lock,
    requirements,
)

LOCKS = {
    "runtime": (RUNTIME_LOCK, RUNTIME_EXTRAS),
    "dev": (DEV_LOCK, all_extras()),
}


def disagreements(lock: dict[str, Pin], wanted: list[Requirement]) -> list[str]:
    problems = []
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for Python 3.11 on Linux, which the locks are made for
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not locked")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement.name}=={pin.version} is outside setup.cfg's {requirement}")
    return problems


@pytest.mark.parametrize("name", LOCKS)
def test_the_lock_holds_every_requirement_of_setup_cfg_within_its_range(name):
    path, extras = LOCKS[name]
    problems = disagreements(read_lock(path), requirements(*extras))
    assert not problems, f"{path.name} and setup.cfg disagree (run scripts/lock): " + "; ".join(problems)


@pytest.mark.parametrize("name", LOCKS)
def test_the_lock_holds_only_what_setup_cfg_leads_to(name):
    """No pin left for a requirement setup.cfg dropped, and none that nothing needs (what
    ``pip-compile --upgrade-package`` of a package outside the requirements leaves)."""
    path, extras = LOCKS[name]
    wanted = {canonicalize_name(requirement.name) for requirement in requirements(*extras)}
    orphans = [
        package
        for package, pin in read_lock(path).items()
        if (FROM_SETUP_CFG in pin.via and package not in wanted) or not pin.needed_by()
    ]
    assert not orphans, f"{path.name} locks {orphans}, which setup.cfg does not lead to: run scripts/lock"


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_is_pinned_with_its_hashes(name):
    path, _ = LOCKS[name]
    lock = read_lock(path)
    assert len(lock) > 20, f"{path.name} looks empty"
    unhashed = [package for package, pin in lock.items() if not pin.hashes]
    assert not unhashed, f"{path.name} pins {unhashed} without a hash: run scripts/lock"


def test_both_locks_pin_the_same_version_of_every_package_they_share():
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    differ = {p: (str(runtime[p].version), str(dev[p].version)) for p in runtime if p in dev}
    differ = {p: versions for p, versions in differ.items() if versions[0] != versions[1]}
    assert set(runtime) <= set(dev), f"dev.lock lacks {sorted(set(runtime) - set(dev))}"
    assert not differ, f"runtime.lock and dev.lock pin different versions (run scripts/lock): {differ}"


def test_the_check_finds_a_missing_requirement_and_a_version_out_of_range():
    """The comparison itself: what a forgotten scripts/lock looks like is caught."""
    lock = read_lock(RUNTIME_LOCK)
    celery = lock["celery"].version
    assert disagreements(lock, [Requirement("netraven-nonexistent>=1")]) == [
        "netraven-nonexistent>=1 is not locked"
    ]
    assert disagreements(lock, [Requirement(f"celery>{celery}")]) == [
        f"celery=={celery} is outside setup.cfg's celery>{celery}"
    ]
