"""setup.cfg's requirements and the locks made from them (requirements/*.lock), as the tests read them."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

SETUP_CFG = ROOT / "setup.cfg"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
DEV_LOCK = ROOT / "requirements" / "dev.lock"
# The extras runtime.lock holds beside install_requires (scripts/lock); dev.lock holds every extra.
RUNTIME_EXTRAS = ("flower", "ssh")
# pip-compile's mark of what setup.cfg asks for itself (the rest comes in as dependencies).
FROM_SETUP_CFG = "netraven-tasks (setup.cfg)"

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)  # pip-compile's "# via" lines: who needs it

    def needed_by(self) -> list[str]:
        """What needs it: the "via" lines but a constraint file (``-c …``), which needs nothing."""
        return [name for name in self.via if not name.startswith("-c ")]


def read_lock(path: Path) -> dict[str, Pin]:
    """Canonical name -> its pin, its number of hashes and what needs it."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        if pinned := _PIN.match(line):
            current = pins[canonicalize_name(pinned["name"])] = Pin(Version(pinned["version"]))
        elif current is None:
            continue
        current.hashes += len(_HASH.findall(line))
        comment = line.strip().removeprefix("#").strip()
        if line.startswith("    #") and comment != "via":
            current.via.append(comment.removeprefix("via").strip())
    return pins


def requirements(*extras: str) -> list[Requirement]:
    """install_requires, then each named extra's requirements, as setup.cfg writes them."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(SETUP_CFG)
    sections = [config["options"]["install_requires"]]
    sections += [config["options.extras_require"][extra] for extra in extras]
    return [
        Requirement(line.strip())
        for section in sections
        for line in section.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def all_extras() -> tuple[str, ...]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(SETUP_CFG)
    return tuple(config["options.extras_require"])
