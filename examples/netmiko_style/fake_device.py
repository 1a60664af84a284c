"""A pretend network device on loopback: answers ``show running-config`` with a configuration.

``python -m examples.netmiko_style.fake_device [PORT]`` (default 2222) serves until Ctrl-C; the
integration test starts ``FakeDevice`` in a thread.
"""

from __future__ import annotations

import contextlib
import socketserver
import sys
import threading

CONFIG = """hostname lab-rtr-01
!
interface GigabitEthernet0/0
 ip address 192.0.2.1 255.255.255.0
!
line vty 0 4
 transport input ssh
!
end
"""


class _Session(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        command = self.rfile.readline(1024).strip()
        answer = CONFIG if command == b"show running-config" else f"% Invalid input: {command!r}\n"
        self.wfile.write(answer.encode() + b"# ")


class FakeDevice(socketserver.ThreadingTCPServer):
    """One device on 127.0.0.1:``port`` (0: any free port, see ``port``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), _Session)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> FakeDevice:
        threading.Thread(target=self.serve_forever, daemon=True, name="fake-device").start()
        return self


if __name__ == "__main__":
    device = FakeDevice(int(sys.argv[1]) if len(sys.argv) > 1 else 2222)
    print(f"fake device on 127.0.0.1:{device.port}; Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        device.serve_forever()
