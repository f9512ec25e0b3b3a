"""A TCP relay on 127.0.0.1 that a test switches off and on, in front of PostgreSQL: an outage on demand.

While down nothing listens on its port (new connections are refused) and every established connection has
been cut (both sides closed), which is what clients see when the server restarts, fails over or the
network between goes away. Threads, no asyncio: the relay runs beside a test that blocks on requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Proxy:
    """`Proxy(url)` relays to the host and port of a database URL; `proxy.url` is that URL through it."""

    def __init__(self, url: str):
        target = make_url(url)
        self.target = (target.host or "127.0.0.1", target.port or 5432)
        self.port = free_port()
        self.url = target.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        self.accepted = 0  # connections relayed so far
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._links: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def up(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        listener.settimeout(0.1)  # the accept loop notices `down` within this
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True, name="proxy-accept")
        self._acceptor.start()

    def down(self) -> None:
        """Refuse new connections and cut the established ones."""
        listener, self._listener = self._listener, None
        if self._acceptor is not None:  # out of accept() (within its timeout): the port is free for `up`
            self._acceptor.join()
            self._acceptor = None
        if listener is not None:
            listener.close()
        with self._lock:
            links, self._links = self._links, set()
        for link in links:
            _close(link)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by `down`
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client)
                    _close(server)
                    return
                self._links.update((client, server))
                self.accepted += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="proxy-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:  # one side ended: end the other too, as a real link would
            with self._lock:
                self._links.difference_update((source, sink))
            _close(source)
            _close(sink)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.down()


def _close(link: socket.socket) -> None:
    with contextlib.suppress(OSError):
        link.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        link.close()
