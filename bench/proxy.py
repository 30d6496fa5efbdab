"""A delaying TCP proxy for S11: ``python -m bench.proxy --upstream-port 5432 --delay-ms 0.5``.

It stands for the network between app servers and their database: every chunk read from
either side is written to the other ``delay`` later (0.5 ms each way, so about 1 ms per
round trip), in order, without holding back the chunks behind it (a latency, not a
bandwidth limit). Loopback only, at most ``--max-connections`` at once, and it exits by
itself after ``--lifetime`` seconds or when its parent process goes away.

asyncio's default selector on Linux is epoll, whose timeout has a resolution of one
millisecond (Python rounds a 0.5 ms wait up to 1 ms, so a round trip would gain 2 ms);
``select()`` takes microseconds, so the loop runs on a ``SelectSelector`` (its 1,024
file descriptors are plenty for a bounded proxy). The runner measures the round trip the
proxy really adds (``measure_round_trip``) and reports it.

Prints ``listening on <port>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import statistics
import sys
import time

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CHUNK = 64 * 1024


async def _pump(reader, writer, delay: float, loop) -> None:
    """Forward ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    queue: asyncio.Queue = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
    finally:
        writer.close()


class Proxy:
    """Accepts on loopback, connects each client to the upstream, delays both directions."""

    def __init__(self, upstream: tuple[str, int], delay: float, max_connections: int):
        self.upstream = upstream
        self.delay = delay
        self.max_connections = max_connections
        self.open = 0

    async def handle(self, client_reader, client_writer) -> None:
        """One client connection, for as long as both sides keep it."""
        if self.open >= self.max_connections:
            client_writer.close()  # bounded: refuse rather than queue
            return
        self.open += 1
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                client_writer.close()
                return
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                _pump(client_reader, server_writer, self.delay, loop),
                _pump(server_reader, client_writer, self.delay, loop),
                return_exceptions=True,
            )
        finally:
            self.open -= 1


async def serve(args) -> None:
    """Run until the lifetime is over or the parent has gone."""
    proxy = Proxy((args.upstream_host, args.upstream_port), args.delay_ms / 1000, args.max_conn)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + args.lifetime
    async with server:
        while time.monotonic() < deadline and os.getppid() == parent:
            await asyncio.sleep(0.5)


def measure_round_trip(connect: dict, proxied_port: int, rounds: int = 200) -> dict:
    """Median seconds of a ``SELECT 1`` round trip to PostgreSQL (psycopg ``connect``
    arguments), direct and through the proxy, one connection each after a warm-up: what
    the proxy adds."""
    import psycopg

    medians = {}
    for name, port in (("direct", connect["port"]), ("proxied", proxied_port)):
        with psycopg.connect(**{**connect, "port": port}) as conn:
            times = []
            for i in range(rounds + 20):
                began = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                if i >= 20:
                    times.append(time.perf_counter() - began)
            medians[name] = statistics.median(times)
    return medians


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="listen on (0: a free port)")
    parser.add_argument("--upstream-host", default="127.0.0.1")
    parser.add_argument("--upstream-port", type=int, default=5432)
    parser.add_argument("--delay-ms", type=float, default=0.5, help="per chunk, each way")
    parser.add_argument("--max-conn", type=int, default=256)
    parser.add_argument("--lifetime", type=float, default=3 * 3600, help="seconds at most")
    args = parser.parse_args()
    if args.upstream_host not in LOOPBACK:
        sys.exit("bench.proxy only forwards to loopback")
    if not 0 <= args.delay_ms <= 50 or not 1 <= args.max_conn <= 900:
        sys.exit("bench.proxy: --delay-ms 0-50, --max-conn 1-900")
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
