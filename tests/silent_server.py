"""A loopback TCP server that accepts connections and never answers: the host that times out.

`connected` is set at the first accepted connection, so a test knows a client got that far.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class SilentServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connected = threading.Event()
        self.accepted: list[socket.socket] = []  # held open, unanswered, until close()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted.append(conn)
            self.connected.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        self.sock.close()
        for conn in self.accepted:
            conn.close()
