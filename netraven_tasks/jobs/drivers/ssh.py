"""Reads a running configuration over SSH with paramiko (install the ``ssh`` extra)."""

from __future__ import annotations

from netraven_tasks.settings import Settings

DEFAULT_COMMAND = "show running-config"


class SshDriver:
    name = "ssh"

    def fetch(self, host: str, source: str | None, settings: Settings) -> str:
        try:
            import paramiko
        except ImportError:
            raise RuntimeError("the ssh driver needs paramiko: pip install 'netraven-tasks[ssh]'") from None
        client = paramiko.SSHClient()
        client.load_system_host_keys()
        if settings.ssh_known_hosts:
            client.load_host_keys(settings.ssh_known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                host.strip("[]"),
                port=settings.ssh_port,
                username=settings.ssh_username,
                password=settings.ssh_password,
                key_filename=settings.ssh_key_file,
                timeout=30,
                allow_agent=False,
                look_for_keys=settings.ssh_key_file is None and settings.ssh_password is None,
            )
            _stdin, stdout, _stderr = client.exec_command(source or DEFAULT_COMMAND, timeout=60)
            return stdout.read().decode("utf-8", errors="replace")
        except (TimeoutError, paramiko.ssh_exception.NoValidConnectionsError) as error:
            raise ConnectionError(f"ssh to {host}: {error}") from None
        finally:
            client.close()
