"""The optional parts (setup.cfg's extras): without Flower, ``netraven-tasks flower`` and ``up``
say how to install it; ``up`` runs the rest."""

from __future__ import annotations

import argparse
import sys

import pytest

from netraven_tasks import devserver
from netraven_tasks.cli import CommandError, services
from netraven_tasks.extras import FLOWER
from netraven_tasks.settings import get_settings

INSTALL_FLOWER = "pip install 'netraven-tasks[flower]'"


@pytest.fixture
def without_flower(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower not installed, as Python sees it: ``None`` in sys.modules stops its import."""
    monkeypatch.setitem(sys.modules, "flower", None)


def test_flower_is_installed_with_the_test_extras():
    assert FLOWER.installed()


def test_the_flower_command_without_flower_says_how_to_install_it(without_flower, monkeypatch):
    execed: list[list[str]] = []
    monkeypatch.setattr(services, "_exec", lambda command, extra_env=None: execed.append(command))
    args = argparse.Namespace(host="127.0.0.1", port=5555, celery_args=[])
    with pytest.raises(CommandError) as refused:
        services.cmd_flower(get_settings(), args)
    assert str(refused.value) == (
        f"Flower, the Celery monitor, is not installed: {INSTALL_FLOWER} "
        "(in a checkout of the repository, scripts/up installs it)"
    )
    assert execed == []


def test_up_without_flower_starts_the_rest_and_says_how_to_install_it(without_flower, capsys):
    settings = get_settings().model_copy(update={"broker_url": "redis://127.0.0.1:6379/0"})
    assert set(devserver._services(settings, 8000, 5555)) == {"api", "worker", "beat"}
    assert (
        f"note: starting without Flower. Flower, the Celery monitor, is not installed: {INSTALL_FLOWER}"
        in (capsys.readouterr().err)
    )
