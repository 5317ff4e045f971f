"""Relay benchmark: N messages over C connections, straight to a sink and through dlpgate (scanning off).

    .venv/bin/python bench/relay.py --messages 2000 --concurrency 20

The sink (an aiosmtpd server that accepts everything) and the gateway (`dlpgate serve`) each run in their
own process; the load generator reuses its connections like Exchange does. Prints messages/s, p50/p99
latency per message, and the gateway's added latency and throughput ratio. Figures are for this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib
import yaml

REPO = Path(__file__).resolve().parents[1]

SINK = r"""
import asyncio, sys
from aiosmtpd.smtp import SMTP
class H:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok"
class Big(SMTP):
    line_length_limit = 1_000_000
async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Big(H(), hostname="sink", loop=loop), "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


def message(i: int, size: int) -> bytes:
    body = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30 + b"\r\n") * max(1, size // 1800)
    return (
        b"From: Sender <sender@cafcass.gov.uk>\r\nTo: Rcpt <rcpt@example.org>\r\n"
        b"Subject: Benchmark message %d\r\nMessage-ID: <bench-%d@test>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" % (i, i)
    ) + body


async def drive(port: int, total: int, concurrency: int, size: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal failures
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        try:
            for i in counter:
                data = message(i, size)
                t0 = time.perf_counter()
                try:
                    await client.sendmail("sender@cafcass.gov.uk", ["rcpt@example.org"], data)
                except aiosmtplib.SMTPException:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - t0)
        finally:
            await client.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, failures


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) >= 100 else max(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--size", type=int, default=4000, help="approximate body bytes")
    args = ap.parse_args()
    print(f"# command: .venv/bin/python bench/relay.py --messages {args.messages} "
          f"--concurrency {args.concurrency} --size {args.size}")
    print(f"# machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sink_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)], stdout=subprocess.DEVNULL))
        wait_port(sink_port)
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "config"
            import shutil

            shutil.copytree(REPO / "config", cfg)
            gw_port = free_port()
            data = yaml.safe_load((cfg / "gateway.yaml").read_text())
            data["state_dir"] = str(Path(tmp) / "state")
            data["scan"]["enabled"] = False
            data["metrics"]["listen"] = None
            data["digest"]["enabled"] = False
            (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
            procs.append(subprocess.Popen(
                [str(REPO / ".venv/bin/dlpgate"), "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{gw_port}",
                 "--upstream", f"smtp://127.0.0.1:{sink_port}"],
                stderr=subprocess.DEVNULL,
            ))
            wait_port(gw_port)
            asyncio.run(drive(gw_port, 50, 2, args.size))  # warm-up
            asyncio.run(drive(sink_port, 50, 2, args.size))
            rows = []
            for name, port in (("direct to sink", sink_port), ("through dlpgate", gw_port)):
                elapsed, lat, failed = asyncio.run(drive(port, args.messages, args.concurrency, args.size))
                rows.append((name, len(lat) / elapsed, pct(lat, 50) * 1000, pct(lat, 99) * 1000, failed))
            one = []
            for port in (sink_port, gw_port):
                _, lat, _ = asyncio.run(drive(port, 300, 1, args.size))
                one.append((pct(lat, 50) * 1000, pct(lat, 99) * 1000))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    print(f"\n{'path':<18} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}   (C={args.concurrency})")
    for name, rate, p50, p99, failed in rows:
        print(f"{name:<18} {rate:8.1f} {p50:8.2f} {p99:8.2f} {failed:7d}")
    print(f"\nthroughput ratio (dlpgate / direct): {rows[1][1] / rows[0][1]:.2f}")
    print(f"added latency at C={args.concurrency}: p50 {rows[1][2] - rows[0][2]:.2f} ms, "
          f"p99 {rows[1][3] - rows[0][3]:.2f} ms")
    print(f"added latency at C=1: p50 {one[1][0] - one[0][0]:.2f} ms, p99 {one[1][1] - one[0][1]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
