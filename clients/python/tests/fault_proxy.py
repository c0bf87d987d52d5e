"""A TCP proxy in front of a gateway that a test can cut: real connection faults, no mock server."""
from __future__ import annotations

import socket
import threading
from typing import List, Optional, Tuple


class FaultProxy:
    """Forwards 127.0.0.1:<port> to ``target``. ``cut()`` resets every open connection at once (as a
    gateway killed mid-answer would); ``lose_next_answer()`` forwards the next request but resets the
    connection before any byte of its answer reaches the client (the answer lost after the server
    acted on the request)."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: List[socket.socket] = []
        self._lose_answers = 0
        self.connections = 0
        self.answers_lost = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> int:
        """Resets every open connection; returns how many there were."""
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            _reset(s)
        return len(sockets) // 2

    def lose_next_answer(self) -> None:
        with self._lock:
            self._lose_answers += 1

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self.connections += 1
                lose = self._lose_answers > 0
                if lose:
                    self._lose_answers -= 1
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, (client, upstream) if lose else None),
                             daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, lose: Optional[Tuple[socket.socket, socket.socket]]) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if lose is not None:
                    # The server answered: it acted on the request. The client never hears it.
                    with self._lock:
                        self.answers_lost += 1
                    for s in lose:
                        _reset(s)
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def _reset(s: socket.socket) -> None:
    """Ends the connection at once, as a killed process's socket ends. shutdown() first: close()
    alone would wait for the other pipe thread's blocked recv() to let go of the socket."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
