"""The wheel a release ships: built from the files git would ship, installed in a fresh venv, its
console script answers ``--help`` and ``--version`` and migrates an empty SQLite database.

What this catches is what an editable install hides: templates, static files, migrations or the
Alembic ini missing from ``package_data``, a version that does not reach the metadata.

The fresh venv gets the wheel alone (``--no-deps``); its dependencies come from this test run's
environment through a path file placed after the venv's own site-packages, and ``pip check``
proves the wheel's declared requirements are met by what it sees. A full ``pip install`` of the
wheel with its dependencies took about 40 s from a local wheel mirror (more from PyPI); this takes
a few seconds, so it runs in every full ``scripts/test`` (not in ``--fast``: it starts processes).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import netraven_tasks
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
PACKAGES = ("netraven_tasks/", "api/")


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def shipped_files() -> list[str]:
    """The files git tracks (or would: untracked, not ignored), so no stale build/ slips in."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    # A file deleted in the working tree is still listed as cached.
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def copy_tree(names: list[str], into: Path) -> Path:
    for name in names:
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes((ROOT / name).read_bytes())
    return into


def test_the_wheel_installs_in_a_fresh_venv_and_migrates_sqlite(tmp_path):  # type: ignore[no-untyped-def]
    shipped = shipped_files()
    source = copy_tree(shipped, tmp_path / "source")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", tmp_path / "dist", source], tmp_path)  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("netraven_tasks-*.whl")
    assert wheel.name.startswith(f"netraven_tasks-{netraven_tasks.__version__}-")
    # Every file of the packages: templates, static files, migrations, the Alembic ini and mako.
    with zipfile.ZipFile(wheel) as archive:
        missing = sorted(set(name for name in shipped if name.startswith(PACKAGES)) - set(archive.namelist()))
    assert not missing, f"not in the wheel (setup.cfg [options.package_data]): {missing}"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel], tmp_path)
    fresh_site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip()
    )
    (fresh_site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "check"], tmp_path)

    work = tmp_path / "elsewhere"  # not the source tree: only the installed package can be imported
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(work),
        "NETRAVEN_VAR_DIR": str(work / "var"),
        "NETRAVEN_DATABASE_URL": f"sqlite:///{work / 'release.db'}",
    }
    imported = run(
        [python, "-c", "import api, netraven_tasks; print(netraven_tasks.__file__, api.__file__)"], work, env
    )
    assert all(path.startswith(str(fresh_site)) for path in imported.split()), imported
    netraven = venv / "bin" / "netraven-tasks"
    assert "db" in run([netraven, "--help"], work, env)
    assert run([netraven, "--version"], work, env).strip() == f"netraven-tasks {netraven_tasks.__version__}"

    run([netraven, "db", "upgrade"], work, env)

    heads = {
        path.stem.split("_")[0] for path in (ROOT / "netraven_tasks/migrations/versions").glob("[0-9]*.py")
    }
    with sqlite3.connect(work / "release.db") as database:
        [(revision,)] = database.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert revision.startswith(max(heads)), (revision, max(heads))  # the last migration ran from the wheel
    assert {"job_logs", "users", "notification_outbox", "batches", "devices"} <= tables
