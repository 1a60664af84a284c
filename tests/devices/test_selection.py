"""Selecting devices: a selector resolves to exactly the enabled devices a plain Python filter picks,
on PostgreSQL and SQLite, by indexes on PostgreSQL at 10,000 devices."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from netraven_tasks.devices.inventory import new_device
from netraven_tasks.devices.models import Device, DeviceTag
from netraven_tasks.devices.selection import NoDevicesMatched, Selector, UnknownDevices, select_devices
from netraven_tasks.models import utcnow

SITES = ["FRA", "AMS", "LON"]
PLATFORMS = ["cisco_ios", "arista_eos", "juniper_junos"]
TAGS = ["core", "edge", "pop:fra", "lab"]


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """The embedded default's database, migrated by Alembic (a unit test: no server)."""
    from netraven_tasks.db import make_engine
    from netraven_tasks.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('inventory') / 'inventory.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_session(sqlite_engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(sqlite_engine) as session:
        yield session


@pytest.fixture
def pg_session(clean_db, db_session) -> Session:  # type: ignore[no-untyped-def]
    return db_session  # type: ignore[no-any-return]


def store(session: Session, fleet: list[dict]) -> None:  # type: ignore[type-arg]
    session.execute(sa.delete(DeviceTag))
    session.execute(sa.delete(Device))
    now = utcnow()
    session.add_all(new_device({"address": spec["name"], **spec}, now) for spec in fleet)
    session.flush()


def python_filter(fleet: list[dict], selector: Selector) -> list[str]:  # type: ignore[type-arg]
    if selector.devices:
        return sorted(d["name"] for d in fleet if d["name"] in selector.devices and d["enabled"])
    return sorted(
        d["name"]
        for d in fleet
        if d["enabled"]
        and (selector.site is None or d["site"] == selector.site)
        and (selector.platform is None or d["platform"] == selector.platform)
        and set(selector.tags) <= set(d["tags"])
    )


devices = st.fixed_dictionaries(
    {
        "site": st.sampled_from([*SITES, None]),
        "platform": st.sampled_from(PLATFORMS),
        "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
        "enabled": st.booleans(),
    }
)
fleets = st.lists(devices, max_size=25).map(
    lambda specs: [{"name": f"dev-{i:02d}", **spec} for i, spec in enumerate(specs)]
)
filter_selectors = st.builds(
    Selector,
    site=st.sampled_from([*SITES, None]),
    platform=st.sampled_from([*PLATFORMS, None]),
    tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=3).map(tuple),
).filter(lambda s: s.site or s.platform or s.tags)
# Names among the first 30 possible ones: some are in the fleet, some (past its end) are not.
name_selectors = st.builds(
    Selector, devices=st.lists(st.integers(0, 29).map(lambda i: f"dev-{i:02d}"), min_size=1).map(tuple)
)


def check_selection(session: Session, fleet: list[dict], selector: Selector) -> None:  # type: ignore[type-arg]
    store(session, fleet)
    unknown = sorted(set(selector.devices) - {d["name"] for d in fleet})
    try:
        selected: list[str] | str = [device.name for device in select_devices(session, selector)]
    except UnknownDevices as error:
        selected = f"unknown {error.names}"
    except NoDevicesMatched:
        selected = []
    finally:
        session.rollback()
    assert selected == (f"unknown {unknown}" if unknown else python_filter(fleet, selector))


PROPERTY = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(fleet=fleets, selector=filter_selectors | name_selectors)
def test_selection_is_the_python_filter_of_the_same_devices_on_postgresql(pg_session, fleet, selector):
    check_selection(pg_session, fleet, selector)


@PROPERTY
@given(fleet=fleets, selector=filter_selectors | name_selectors)
def test_selection_is_the_python_filter_of_the_same_devices_on_sqlite(sqlite_session, fleet, selector):
    check_selection(sqlite_session, fleet, selector)


@pytest.mark.parametrize("database", ["pg_session", "sqlite_session"])
def test_unknown_names_are_an_error_naming_them_and_nothing_left_is_another(request, database, clean_db):
    session = request.getfixturevalue(database)
    fleet = [
        {"name": "r1", "site": "FRA", "platform": "cisco_ios", "tags": ["core"], "enabled": True},
        {"name": "r2", "site": "FRA", "platform": "cisco_ios", "tags": [], "enabled": False},
    ]
    store(session, fleet)
    with pytest.raises(UnknownDevices, match="no device named r3, r9 in the inventory") as unknown:
        select_devices(session, Selector(devices=("r1", "r3", "r9")))
    assert unknown.value.names == ["r3", "r9"] and unknown.value.field == "targets"
    with pytest.raises(NoDevicesMatched, match="devices r2"):
        select_devices(session, Selector(devices=("r2",)))  # disabled: left out, so nothing is left
    with pytest.raises(NoDevicesMatched, match="site FRA, tags core, edge"):
        select_devices(session, Selector(site="FRA", tags=("core", "edge")))
    assert [d.name for d in select_devices(session, Selector(site="FRA"))] == ["r1"]


def test_selection_at_10000_devices_is_one_indexed_query_on_postgresql(clean_db, db_session):
    """Indexes, not scans: each filter of a selector is served by its index (EXPLAIN), and the
    selection of 10,000 devices takes milliseconds."""
    rows = [
        {"id": i + 1, "name": f"dev-{i:05d}", "address": f"dev-{i:05d}", "platform": PLATFORMS[i % 3],
         "site": f"S{i % 100:03d}", "enabled": i % 7 != 0, "created_at": utcnow(), "updated_at": utcnow()}
        for i in range(10_000)
    ]  # fmt: skip
    tags = [{"device_id": i + 1, "tag": f"t{i % 50}"} for i in range(10_000)]
    tags += [{"device_id": i + 1, "tag": "core"} for i in range(0, 10_000, 20)]
    db_session.execute(sa.insert(Device), rows)
    db_session.execute(sa.insert(DeviceTag), tags)
    db_session.commit()
    db_session.execute(sa.text("ANALYZE devices"))
    db_session.execute(sa.text("ANALYZE device_tags"))

    def plan(selector: Selector) -> str:
        from netraven_tasks.devices.selection import filtered

        query = filtered(
            sa.select(Device.id).where(Device.enabled.is_(True)),
            site=selector.site,
            platform=selector.platform,
            tags=selector.tags,
        )
        compiled = query.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
        return "\n".join(db_session.scalars(sa.text(f"EXPLAIN {compiled}")))

    assert "ix_devices_site_platform" in plan(Selector(site="S007"))
    assert "ix_device_tags_tag" in plan(Selector(tags=("core",)))
    started = time.perf_counter()
    selected = select_devices(db_session, Selector(site="S000", tags=("core",)))
    elapsed = time.perf_counter() - started
    assert [d.name for d in selected] == [f"dev-{i:05d}" for i in range(0, 10_000, 100) if i % 7]
    started = time.perf_counter()
    everything = select_devices(db_session, Selector(tags=("core",)))
    elapsed_all = time.perf_counter() - started
    print(f"selection at 10,000 devices: site+tag {elapsed * 1000:.1f} ms, tag ({len(everything)}) "
          f"{elapsed_all * 1000:.1f} ms")  # fmt: skip
    assert elapsed < 1.0 and elapsed_all < 2.0


def test_the_list_filter_means_the_same_on_sqlite_a_name_prefix_is_case_sensitive(sqlite_session):
    from netraven_tasks.devices.inventory import DeviceFilter, page_of_devices

    fleet = [
        {"name": name, "site": "FRA", "platform": "cisco_ios", "tags": tags, "enabled": True}
        for name, tags in (("core-rtr-01", ["core"]), ("Core-rtr-02", ["core", "edge"]), ("core_x", []))
    ]
    store(sqlite_session, fleet)

    def listed(where: DeviceFilter) -> list[str]:
        return [device.name for device in page_of_devices(sqlite_session, where, 50, 0)[0]]

    assert listed(DeviceFilter(name_prefix="core")) == ["core-rtr-01", "core_x"]
    assert listed(DeviceFilter(name_prefix="core-")) == ["core-rtr-01"]  # no LIKE wildcard in "_" or "-"
    assert listed(DeviceFilter(tags=("core", "edge"))) == ["Core-rtr-02"]
    sqlite_session.rollback()
