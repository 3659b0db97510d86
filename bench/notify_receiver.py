"""The merchants' side of bench/notifications.py, in its own process: a fast notify receiver.

A minimal HTTP/1.1 server on asyncio streams (keep-alive, ``Content-Length`` bodies, answers 200 with
an empty body) so that the receiver is never what limits the emulator's delivery rate: uvicorn with h11
(no httptools here) answers ~2,000 requests/s on one core, about the rate being measured. It is a
benchmark fixture on 127.0.0.1, not part of the emulator. Paths under ``/hang`` are read and never
answered (a merchant endpoint that hangs). Each notification's ``id`` (plain in every APIv3 envelope)
and its arrival time (``time.time()``) are kept; ``GET /dump`` writes them as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from pathlib import Path

ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.arrivals: list[tuple[str, float]] = []
        self.hanging = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, rest = head.partition(b"\r\n")
                method, path, _version = request_line.split(b" ", 2)
                length = 0
                for line in rest.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if path.startswith(b"/hang"):
                    self.hanging += 1
                    await asyncio.sleep(3600)  # never answers: the emulator's 5 s timeout ends it
                    return
                if method == b"GET" and path == b"/dump":
                    self.out.write_text(json.dumps({"arrivals": self.arrivals, "hanging": self.hanging}))
                elif method == b"GET" and path == b"/count":
                    payload = str(len(self.arrivals)).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                    await writer.drain()
                    continue
                else:
                    found = ID.search(body)
                    self.arrivals.append((found.group(1).decode() if found else "", time.time()))
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def main(port: int, out: Path, seconds: float, hang_ports: list[int]) -> None:
    receiver = Receiver(out)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", port, backlog=1024)

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        receiver.hanging += 1
        await asyncio.sleep(3600)  # reads nothing, answers nothing
        writer.close()

    # Each a merchant endpoint of its own (its own host:port) that accepts and never answers.
    hanging = [await asyncio.start_server(hang, "127.0.0.1", p, backlog=1024) for p in hang_ports]
    async with server:
        await asyncio.sleep(seconds)  # stops by itself even if the bench dies
    for h in hanging:
        h.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--hang", default="", help="comma-separated ports that accept and never answer")
    args = parser.parse_args()
    ports = [int(p) for p in args.hang.split(",") if p]
    asyncio.run(main(args.port, args.out, args.seconds, ports))
