"""``netraven-tasks devices import|list`` from a shell, on the session's PostgreSQL database: all rows
or none, every bad row named by its line, and a second import of the same file changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_ENV
from tests.support.console import Outcome, in_process

GOOD_CSV = """name,address,platform,site,tags
core-rtr-01,10.0.0.1,cisco_ios,FRA,core;pop:fra
core-rtr-02,10.0.0.2,cisco_ios,FRA,core
edge-sw-01,,arista_eos,AMS,edge
lab-box,,,,
"""
BAD_CSV = GOOD_CSV.replace("edge-sw-01,,arista_eos", "edge-sw-01,http://10.0.0.9/,arista_os")
YAML = """
- name: core-rtr-01
  address: 10.0.0.1
  platform: cisco_ios
  site: FRA
  tags: [core, pop:fra]
- name: nxos-01
  platform: cisco_nxos
  site: LON
  tags: [core]
  enabled: false
"""


def console(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script itself, as a shell runs it (its exit status and stderr)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "netraven-tasks"), "devices", *args],
        cwd=ROOT,
        env={**os.environ, **TEST_ENV, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli(*args: str) -> Outcome:
    return in_process("devices", *args)


@pytest.fixture
def inventory_file(tmp_path, clean_db):  # type: ignore[no-untyped-def]
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def test_a_csv_with_a_bad_row_imports_nothing_and_names_the_line_then_the_fixed_file_imports_all(
    inventory_file,
):
    bad = console("import", inventory_file("devices.csv", BAD_CSV + "core-rtr-01,,,,\n"))
    assert bad.returncode == 2, bad.stderr
    assert "devices.csv:4: address: must be a host name or an IP address" in bad.stderr
    assert "devices.csv:4: " in bad.stderr and "platform: must be one of" in bad.stderr
    assert "devices.csv:6: name: core-rtr-01 is already on line 2" in bad.stderr
    assert "2 invalid row(s)" in bad.stderr and "nothing imported" in bad.stderr
    assert cli("list").stdout.strip() == "0 device(s)"

    good = cli("import", inventory_file("devices.csv", GOOD_CSV))
    assert good.returncode == 0, good.stderr
    assert "4 created, 0 updated, 0 unchanged, 0 invalid" in good.stdout
    listed = cli("list").stdout.splitlines()
    assert [line.split()[0] for line in listed[:-1]] == [
        "core-rtr-01",
        "core-rtr-02",
        "edge-sw-01",
        "lab-box",
    ]
    assert listed[0].split() == ["core-rtr-01", "10.0.0.1", "cisco_ios", "FRA", "enabled", "core,pop:fra"]
    assert listed[3].split() == ["lab-box", "lab-box", "generic", "-", "enabled", "-"]  # the defaults

    again = cli("import", inventory_file("devices.csv", GOOD_CSV))
    assert again.returncode == 0 and "0 created, 0 updated, 4 unchanged" in again.stdout

    changed = GOOD_CSV.replace(
        "core-rtr-02,10.0.0.2,cisco_ios,FRA,core", "core-rtr-02,10.0.0.2,cisco_ios,FRA,"
    )
    third = cli("import", inventory_file("devices.csv", changed))
    assert "0 created, 1 updated, 3 unchanged" in third.stdout
    assert "core-rtr-02" in cli("list", "--site", "FRA").stdout
    assert [line.split()[0] for line in cli("list", "--tag", "core").stdout.splitlines()[:-1]] == [
        "core-rtr-01"
    ]


def test_yaml_import_and_list_filters(inventory_file):
    done = cli("import", inventory_file("fleet.yaml", YAML))
    assert done.returncode == 0, done.stderr
    assert "2 created" in done.stdout
    disabled = cli("list", "--disabled").stdout.splitlines()
    assert disabled[0].split() == ["nxos-01", "nxos-01", "cisco_nxos", "LON", "disabled", "core"]
    assert disabled[-1] == "1 device(s)"
    assert cli("list", "--platform", "cisco_ios", "--tag", "core", "--tag", "pop:fra").stdout.startswith(
        "core-rtr-01 "
    )
    assert cli("list", "--q", "nx").stdout.splitlines()[-1] == "1 device(s)"

    bad = cli("import", inventory_file("bad.yaml", YAML.replace("platform: cisco_nxos", "platform: [x]")))
    assert bad.returncode == 2 and "bad.yaml:7: platform: Not a valid string." in bad.stderr
    broken = cli("import", inventory_file("broken.yml", "- name: [unclosed\n"))
    assert broken.returncode == 2 and "not valid YAML" in broken.stderr and "Traceback" not in broken.stderr
    missing = cli("import", "/nonexistent/devices.csv")
    assert missing.returncode == 2 and "cannot read /nonexistent/devices.csv" in missing.stderr
