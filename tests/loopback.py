"""Loopback servers for the tests: an HTTP stand-in's, and TCP proxies in front of a
PostgreSQL server that misbehave or watch the queries."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_after(unix_socket: str, chunks: int) -> Iterator[int]:
    """A TCP proxy to a PostgreSQL Unix socket that, on each connection, forwards the
    client's first ``chunks`` sends and then swallows everything, the connection kept open:
    a black hole like a failover or a stuck proxy. Yields the loopback port."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                sent += 1
                if limit is None or sent <= limit:
                    dst.sendall(data)
        except OSError:
            pass

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(unix_socket)
            held.extend((client, server))
            threading.Thread(target=pump, args=(client, server, chunks), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, None), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for s in held:
            s.close()


@contextmanager
def on_query(unix_socket: str, marker: bytes, before: Callable[[int], None]) -> Iterator[int]:
    """A TCP proxy to a PostgreSQL Unix socket that calls ``before(n)`` just before it passes
    on the n-th query (a simple Query or a Parse message) whose text holds ``marker``: the
    world changes as a given query reaches the server, not after a guessed time. Yields
    the loopback port (connect with ``sslmode=disable gssencmode=disable``)."""
    import socket
    import struct

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    seen = itertools.count(1)
    lock = threading.Lock()

    def messages(src: socket.socket) -> Iterator[bytes]:
        """The client's messages, whole: the untyped startup packet, then typed ones."""
        buffer, typed = b"", False
        while data := src.recv(65536):
            buffer += data
            while True:
                head = 5 if typed else 4
                if len(buffer) < head:
                    break
                size = struct.unpack("!I", buffer[head - 4:head])[0] + head - 4
                if len(buffer) < size:
                    break
                message, buffer, typed = buffer[:size], buffer[size:], True
                yield message

    def client_to_server(src: socket.socket, dst: socket.socket) -> None:
        try:
            for message in messages(src):
                if message[:1] in (b"Q", b"P") and marker in message:
                    with lock:
                        before(next(seen))
                dst.sendall(message)
        except OSError:
            pass

    def server_to_client(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(unix_socket)
            held.extend((client, server))
            threading.Thread(target=client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=server_to_client, args=(server, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for s in held:
            s.close()


@contextmanager
def cuttable(unix_socket: str) -> Iterator[tuple[int, Callable[[], None]]]:
    """A TCP proxy to a PostgreSQL Unix socket whose open connections can be cut (both
    ends closed), as a failed network or a proxy restart would; new connections pass.
    Yields the loopback port and ``cut``."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    pairs: list[tuple[socket.socket, socket.socket]] = []
    lock = threading.Lock()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):  # one end closed: so is the other's reading
            dst.shutdown(socket.SHUT_WR)

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(unix_socket)
            with lock:
                pairs.append((client, server))
            threading.Thread(target=pump, args=(client, server), daemon=True).start()
            threading.Thread(target=pump, args=(server, client), daemon=True).start()

    def cut() -> None:
        with lock:
            for pair in pairs:
                for s in pair:
                    with suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()
            pairs.clear()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], cut
    finally:
        listener.close()
        cut()
