"""Reads a configuration from a local file: exports, lab devices, and tests."""

from __future__ import annotations

from pathlib import Path

from netraven_tasks.settings import Settings


class FileDriver:
    name = "file"

    def fetch(self, host: str, source: str | None, settings: Settings) -> str:
        if not source:
            raise ValueError("the file driver needs source, the path of the configuration file")
        path = Path(source.format(host=host)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no configuration file at {path}")
        return path.read_text(encoding="utf-8", errors="replace")
