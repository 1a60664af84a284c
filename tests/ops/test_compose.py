"""compose.yaml and worker.Dockerfile, checked without a Docker engine.

The files are parsed and linted, and every command they would run in a container is run here,
outside one: the dependency layer, the package install and migration, the API, worker, beat and
Flower commands (Flower: tests/ops/test_flower.py) and the healthchecks.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netraven_tasks.cli import PASSTHROUGH, build_parser
from tests.conftest import ROOT, TEST_ENV, free_port, stop_process, until_ready
from tests.ops.compose_file import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    MissingVariable,
    command_of,
    dockerfile_instructions,
    example_env,
    healthcheck_argv,
    load_compose,
    required_variables,
    variables,
)
from tests.support.locks import RUNTIME_LOCK, read_lock

OUR_IMAGE = "netraven-tasks:local"
CLI = str(Path(sys.executable).with_name("netraven-tasks"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return dict(compose["services"])


def ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if s.get("image") == OUR_IMAGE}


def _env(**extra: str) -> dict[str, str]:
    """The test settings, with the venv's scripts first on PATH as the image's /opt/netraven/bin."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **TEST_ENV, "PATH": path, **extra}


# --- compose.yaml ----------------------------------------------------------------------------


def test_every_service_has_a_healthcheck_or_says_why_not(services):
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if check.get("disable"):
            assert len(service.get("x-healthcheck-reason", "")) > 40, f"{name}: give x-healthcheck-reason"
        else:
            assert check.get("test"), f"{name} has no healthcheck"
            assert check.get("interval") and check.get("timeout"), name
    # The image's own HEALTHCHECK pings a worker: every other role must replace or disable it.
    assert {name for name, s in ours(services).items() if not s.get("healthcheck")} == set()


def test_images_are_pinned_to_a_major_version(services):
    for name, service in services.items():
        if name in ours(services):
            continue
        image, _, tag = service["image"].rpartition(":")
        assert image and re.fullmatch(r"v?\d+(\.\d+)*(-[a-z0-9.]+)?", tag), f"{name}: {service['image']}"


def _parse_cli(argv: list[str]) -> Any:
    assert argv[0] == "netraven-tasks", argv
    args, extra = build_parser().parse_known_args(argv[1:])
    assert not extra or args.command in PASSTHROUGH, f"unknown options {extra} for {argv}"
    return args


def test_our_services_run_commands_of_our_cli(services):
    commands = {name: _parse_cli(command_of(s)) for name, s in ours(services).items()}
    assert (commands["migrate"].command, commands["migrate"].db_command) == ("db", "upgrade")
    assert commands["api"].command == "api" and commands["api"].host == "0.0.0.0" and not commands["api"].dev
    assert commands["worker"].command == "worker"
    assert commands["beat"].command == "beat"
    assert commands["flower"].command == "flower" and commands["flower"].port == 5555
    cmd = next(args for keyword, args in dockerfile_instructions() if keyword == "CMD")
    _parse_cli(__import__("json").loads(cmd))


def test_published_ports_listen_on_loopback_only(services):
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert published, "the API at least is published"
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_secrets_come_from_dot_env_and_compose_refuses_to_start_without_them():
    text = COMPOSE.read_text()
    example = example_env()
    assert variables(text) <= set(example), "every variable compose.yaml uses is in .env.example"
    required = required_variables(text)
    assert required == {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "NETRAVEN_SECRET_KEY", "FLOWER_BASIC_AUTH"}
    assert all(example[name] == "" for name in required), "no usable secret in .env.example"
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        load_compose(example)
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_docs_one_liner_fills_every_secret_of_the_env_file(tmp_path):
    """The commands README.md gives to create .env."""
    doc = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(cp \.env\.example \.env\n.*?)```", doc, re.S)
    assert block, "README.md shows how to create .env"
    (tmp_path / ".env.example").write_text(ENV_EXAMPLE.read_text())
    subprocess.run(["bash", "-euo", "pipefail", "-c", block[1]], cwd=tmp_path, check=True)
    env = example_env(tmp_path / ".env")
    compose = load_compose(env)  # no MissingVariable
    assert len(env["NETRAVEN_SECRET_KEY"]) >= 32
    assert re.fullmatch(r"admin:[0-9a-f]{16,}", env["FLOWER_BASIC_AUTH"])
    url = compose["services"]["api"]["environment"]["NETRAVEN_DATABASE_URL"]
    assert env["POSTGRES_PASSWORD"] in url


def test_the_rabbitmq_override_switches_every_service_of_ours_to_amqp(services):
    """deploy/compose.rabbitmq.yaml: the broker of each of our services, nothing else; RabbitMQ
    itself runs only with its profile (tests/rabbitmq runs the same commands against RabbitMQ)."""
    import yaml

    override = yaml.safe_load((ROOT / "deploy" / "compose.rabbitmq.yaml").read_text())
    assert set(override["services"]) == set(ours(services)), "every service of ours, and only those"
    for name, service in override["services"].items():
        assert service["environment"]["NETRAVEN_BROKER_URL"].startswith("amqp://netraven:"), name
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert all("NETRAVEN_REDIS_URL" in service["environment"] for service in ours(services).values())


# --- worker.Dockerfile -----------------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck():
    instructions = dockerfile_instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) == 2 and all("slim" in stage for stage in stages), stages
    runtime = instructions[[k for k, _ in instructions].index("FROM", 1) :]
    user = [args for keyword, args in runtime if keyword == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}, user
    assert any(keyword == "COPY" and args.startswith("--from=build") for keyword, args in runtime)
    assert [keyword for keyword, _ in runtime].count("HEALTHCHECK") == 1
    for keyword, args in instructions:
        if keyword in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|BASIC_AUTH)\w*=", args), args


def test_dependency_layer_installs_the_runtime_lock():
    """The image's dependencies are exactly runtime.lock (tests/test_locks.py: it satisfies every
    requirement of setup.cfg), hash-checked, before any of our code is copied."""
    instructions = dockerfile_instructions()
    run = next(args for keyword, args in instructions if keyword == "RUN" and "runtime.lock" in args)
    argv = shlex.split(run)
    assert argv[:2] == ["pip", "install"] and "--require-hashes" in argv, run
    assert argv[argv.index("--requirement") + 1] == "requirements/runtime.lock", run
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    lock_copy = copies.index("requirements/runtime.lock ./requirements/")
    assert lock_copy < copies.index("netraven_tasks ./netraven_tasks")
    locked = read_lock(RUNTIME_LOCK)
    assert {"celery", "sqlalchemy", "psycopg2-binary", "gunicorn", "prometheus-client"} <= set(locked)
    assert {"flower", "paramiko"} <= set(locked)  # the flower extra, and ssh: config backups over SSH
    assert "pytest" not in locked
    # That install step, here against the venv the tests run in, offline: every locked version is
    # already the one installed, so the tests run what the image ships.
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", *argv[2:]],
        cwd=ROOT, env=_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0 and "Would install" not in install.stdout, install.stdout + install.stderr


def tracked_copy(destination: Path) -> Path:
    """The tracked files alone: a stale build/ in the working tree (left by an earlier install of
    another checkout) would otherwise ship files that are gone."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


@pytest.mark.slow
def test_the_package_builds_without_setuptools_warnings(tmp_path):
    """Folders of data (migrations, templates, the dashboard's files) are declared, not guessed."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path / "dist"),
         str(tracked_copy(tmp_path / "source"))],
        capture_output=True, text=True, check=False, env=_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    warnings = [line for line in (built.stdout + built.stderr).splitlines() if "Warning:" in line]
    assert not [line for line in warnings if "absent from the `packages`" in line], warnings


def test_package_installs_with_migrations_and_templates_then_migrates(tmp_path, database_url):
    """``pip install --no-deps .`` as the image does; its ``netraven-tasks db upgrade`` works."""
    target = tmp_path / "site"
    source = tracked_copy(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, env=_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )  # fmt: skip
    for shipped in (
        "netraven_tasks/migrations/alembic.ini",
        "netraven_tasks/migrations/versions/0001_initial.py",
        "netraven_tasks/migrations/versions/0002_notifications.py",
        "netraven_tasks/notifications/templates/job_outcome.txt",
        "api/app.py",
        "api/metrics.py",
    ):
        assert (target / shipped).is_file(), shipped
    # Run from elsewhere, so the installed copy is imported, not the working tree.
    migrate = subprocess.run(
        [sys.executable, "-c", "from netraven_tasks.cli import main; main()", "db", "upgrade"],
        cwd=tmp_path, env=_env(PYTHONPATH=str(target)), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    assert "upgraded to head" in migrate.stdout


# --- the containers' commands, run here ------------------------------------------------------


def _wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except OSError:
            return False

    until_ready(process, answers, url, log.read_text)


def _local(argv: list[str], port: int) -> list[str]:
    """A container command made to listen on a free loopback port instead of 0.0.0.0:<fixed>."""
    swapped = {"0.0.0.0": "127.0.0.1", "8000": str(port), "5555": str(port)}
    return [CLI, *(swapped.get(part, part) for part in argv[1:])]


@pytest.fixture
def api_server(services, database_url, tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    port = free_port()
    log = tmp_path / "api.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            _local(command_of(services["api"]), port), cwd=ROOT, env=_env(), stdout=out, stderr=out
        )
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/openapi.json", process, log)
        yield port
    finally:
        stop_process(process)


def _healthcheck(
    service: dict[str, Any], port: int | None = None, **replace: str
) -> subprocess.CompletedProcess[str]:
    argv = healthcheck_argv(service)
    if port is not None:
        argv = [part.replace(":8000/", f":{port}/").replace(":5555/", f":{port}/") for part in argv]
    for old, new in replace.items():
        argv = [part.replace(old, new) for part in argv]
    argv = [sys.executable if part == "python" else part for part in argv]
    # PYTHONPATH: the test job types (NETRAVEN_JOB_MODULES) live in tests/, not in the package.
    env = _env(PYTHONPATH=str(ROOT))
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60)


def test_api_command_serves_health_and_metrics_through_gunicorn(services, api_server):
    assert _healthcheck(services["api"], api_server).returncode == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{api_server}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert 'netraven_metrics_source_up{source="database"} 1.0' in body


def test_worker_healthcheck_pings_its_own_node_and_fails_for_a_missing_one(services, worker):
    host = socket.gethostname()
    # In a container the node is celery@$HOSTNAME; the session worker here is test@<host>.
    alive = _healthcheck(services["worker"], None, **{"celery@$HOSTNAME": f"test@{host}"})
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert "pong" in alive.stdout
    # No node answers: the ping waits out its timeout, shortened here (the command is the same).
    gone = _healthcheck(
        services["worker"], None, **{"celery@$HOSTNAME": f"nobody@{host}", "--timeout 10": "--timeout 2"}
    )
    assert gone.returncode != 0
    dockerfile_check = next(args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK")
    assert healthcheck_argv(services["worker"])[-1] in dockerfile_check.replace('\\"', '"')


def test_beat_command_starts_and_stops(services, database_url, tmp_path):
    log = tmp_path / "beat.log"
    argv = [CLI, *command_of(services["beat"])[1:]]
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=_env(NETRAVEN_VAR_DIR=str(tmp_path)), stdout=out, stderr=out
        )
    try:
        until_ready(
            process, lambda: "beat: Starting..." in log.read_text(), "beat", log.read_text, timeout=30
        )
    finally:
        stop_process(process)
    # Schedules: the database scheduler (state in PostgreSQL and Redis, not in a local file).
    assert "netraven_tasks.schedules.beat.DatabaseScheduler" in log.read_text()
