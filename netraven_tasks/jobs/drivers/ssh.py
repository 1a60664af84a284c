"""Reads a running configuration over SSH with paramiko (install the ``ssh`` extra).

Only commands of the platform's allow-list (NETRAVEN_SSH_COMMANDS) run; ``source`` picks one of
them and is never run as given.
"""

from __future__ import annotations

import time

from netraven_tasks.extras import SSH
from netraven_tasks.jobs.drivers import FetchRequest, TooLarge
from netraven_tasks.settings import Settings

_CHUNK = 64 * 1024


def allowed_command(settings: Settings, platform: str, source: str | None) -> str:
    """The command to run: ``source`` if the platform's allow-list has it, else refused."""
    commands = dict(settings.ssh_commands).get(platform)
    if not commands:
        known = ", ".join(sorted(dict(settings.ssh_commands))) or "none"
        raise ValueError(f"platform {platform[:50]!r} has no allowed ssh commands; known: {known}")
    if source is None:
        return commands[0]
    wanted = " ".join(source.split())
    if wanted not in commands:
        raise PermissionError(f"source must be one of the {platform} commands: {', '.join(commands)}")
    return wanted


class SshDriver:
    name = "ssh"

    def fetch(self, request: FetchRequest, settings: Settings) -> bytes:
        command = allowed_command(settings, request.platform, request.source)
        try:
            import paramiko
        except ImportError:
            raise RuntimeError(SSH.missing_message()) from None
        timeout = settings.backup_timeout_seconds
        deadline = time.monotonic() + timeout
        client = paramiko.SSHClient()
        client.load_system_host_keys()
        if settings.ssh_known_hosts:
            client.load_host_keys(settings.ssh_known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                request.host.strip("[]"),
                port=settings.ssh_port,
                username=settings.ssh_username,
                password=settings.ssh_password,
                key_filename=settings.ssh_key_file,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                allow_agent=False,
                look_for_keys=settings.ssh_key_file is None and settings.ssh_password is None,
            )
            _stdin, stdout, _stderr = client.exec_command(command, timeout=timeout)
            chunks: list[bytes] = []
            size = 0
            while chunk := stdout.read(_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if size > settings.backup_max_bytes:
                    raise TooLarge(f"the output of {command!r}", settings.backup_max_bytes)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{command!r} did not finish within {timeout:g}s")
            return b"".join(chunks)
        except (TimeoutError, paramiko.ssh_exception.NoValidConnectionsError) as error:
            raise ConnectionError(f"ssh to {request.host}: {error}") from None
        finally:
            client.close()
