"""The package's optional parts (setup.cfg's extras): whether one is installed, and how to get it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    """An extra of netraven-tasks, known by the module it brings."""

    name: str  # pip install 'netraven-tasks[<name>]'
    module: str
    purpose: str

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def missing_message(self) -> str:
        return (
            f"{self.purpose} is not installed: pip install 'netraven-tasks[{self.name}]' "
            f"(in a checkout of the repository, scripts/up installs it)"
        )


FLOWER = Extra("flower", "flower", "Flower, the Celery monitor,")
SSH = Extra("ssh", "paramiko", "paramiko, which the ssh driver needs,")
