"""Relay benchmark: dlpgate with scanning off against a minimal pooled aiosmtpd relay (issue 17's goal: >= 90%).

    .venv/bin/python bench/relay.py --messages 2000 --concurrency 20 --repeat 5
    .venv/bin/python bench/relay.py --quick                     # smoke run, about half a minute
    .venv/bin/python bench/relay.py --repeat 5 --scan            # also dlpgate with scanning on (loads the models)

Processes: a sink (aiosmtpd that accepts everything), the minimal relay (aiosmtpd in, a pool of aiosmtplib
connections out, nothing else: the reference the issue names), `dlpgate serve` with `scan.enabled: false`
in front of the same sink, and with `--scan` a second dlpgate with scanning on. The load generator (this
process, aiosmtplib) reuses `--concurrency` connections as Exchange does and sends 4 KB plain messages.

The machine has 2 cores and is shared, so one run says little: each round runs every path once, in an order
that alternates between rounds, and the figures are medians over `--repeat` rounds. Per path: messages/s, p50
and p99 latency, and the relay process's own CPU time per message (utime + stime from /proc, which other work on
the machine disturbs far less than throughput). The verdict is the median of the per-round ratios
dlpgate / minimal, by throughput and by CPU per message. Figures are for the machine it runs on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import yaml

# The reference of issue 17: aiosmtpd in, a pool of aiosmtplib connections out (bench/load.py's).
from load import MINIMAL_RELAY

REPO = Path(__file__).resolve().parents[1]
GOAL_SHARE = 0.90

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
    srv = await loop.create_server(lambda: Big(H(), hostname="sink", decode_data=False, loop=loop),
                                   "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"process for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


def tree_cpu_ticks(pid: int) -> int:
    """utime + stime of a process and its descendants (dlpgate's scan workers), in clock ticks."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(x) for x in fh.read().split())
        except (OSError, IndexError, ValueError):
            pass
    return total


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
    payloads = [message(i, size) for i in range(64)]

    async def worker() -> None:
        nonlocal failures
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        try:
            for i in counter:
                t0 = time.perf_counter()
                try:
                    await client.sendmail("sender@cafcass.gov.uk", ["rcpt@example.org"], payloads[i % 64])
                except aiosmtplib.SMTPException:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - t0)
        finally:
            await client.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, failures


def pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[p - 1] if len(values) >= 100 else max(values)


@dataclass
class Path_:
    name: str
    port: int
    pid: int
    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    failed: int = 0

    def run(self, messages: int, concurrency: int, size: int) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        before = tree_cpu_ticks(self.pid)
        elapsed, lat, failed = asyncio.run(drive(self.port, messages, concurrency, size))
        ticks = tree_cpu_ticks(self.pid) - before
        self.rates.append(len(lat) / elapsed)
        self.p50.append(pct(lat, 50) * 1000)
        self.p99.append(pct(lat, 99) * 1000)
        self.cpu_ms.append(ticks * 1000 / hz / max(1, messages))
        self.failed += failed


def dlpgate_config(tmp: Path, name: str, *, scan: bool) -> Path:
    cfg = tmp / f"config-{name}"
    shutil.copytree(REPO / "config", cfg)
    data = yaml.safe_load((cfg / "gateway.yaml").read_text())
    data["state_dir"] = str(tmp / f"state-{name}")
    data["scan"]["enabled"] = scan
    data["metrics"]["listen"] = None
    data["digest"]["enabled"] = False
    data["console"]["enabled"] = False
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--size", type=int, default=4000, help="approximate body bytes")
    ap.add_argument("--repeat", type=int, default=5, help="rounds; medians are reported")
    ap.add_argument("--scan", action="store_true", help="also measure dlpgate with scanning on")
    ap.add_argument("--quick", action="store_true", help="500 messages, 3 rounds")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.repeat = 500, 3
    print(f"# command: .venv/bin/python bench/relay.py --messages {args.messages} --concurrency "
          f"{args.concurrency} --size {args.size} --repeat {args.repeat}{' --scan' if args.scan else ''}")
    print(f"# machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    procs: list[subprocess.Popen[bytes]] = []
    paths: list[Path_] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sink_port = free_port()
            procs.append(subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)]))
            wait_port(sink_port, procs[-1])
            minimal_port = free_port()
            procs.append(subprocess.Popen([sys.executable, "-c", MINIMAL_RELAY, str(minimal_port), str(sink_port)]))
            wait_port(minimal_port, procs[-1])
            paths.append(Path_("minimal pooled relay", minimal_port, procs[-1].pid))
            for name, scan in (("dlpgate, scan off", False), ("dlpgate, scan on", True))[: 2 if args.scan else 1]:
                port = free_port()
                cfg = dlpgate_config(Path(tmp), "on" if scan else "off", scan=scan)
                procs.append(subprocess.Popen(
                    [str(REPO / ".venv/bin/dlpgate"), "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}",
                     "--upstream", f"smtp://127.0.0.1:{sink_port}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))
                wait_port(port, procs[-1])
                paths.append(Path_(name, port, procs[-1].pid))
            for path in paths:  # warm-up: pools filled, code paths loaded
                asyncio.run(drive(path.port, 200, args.concurrency, args.size))
            for r in range(args.repeat):
                order = paths if r % 2 == 0 else paths[::-1]
                for path in order:
                    path.run(args.messages, args.concurrency, args.size)
                print(f"# round {r + 1}: " + ", ".join(f"{p.name} {p.rates[-1]:.0f} msg/s {p.cpu_ms[-1]:.2f} ms CPU"
                                                         for p in paths), flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    med = statistics.median
    print(f"\n{'path':<22} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/msg':>11} {'failed':>7}"
          f"   (C={args.concurrency}, medians of {args.repeat} rounds)")
    for p in paths:
        print(f"{p.name:<22} {med(p.rates):8.1f} {med(p.p50):8.2f} {med(p.p99):8.2f} {med(p.cpu_ms):11.3f} "
              f"{p.failed:7d}")
    minimal, off = paths[0], paths[1]
    share = med(o / m for o, m in zip(off.rates, minimal.rates, strict=True))
    cpu_share = med(m / o for o, m in zip(off.cpu_ms, minimal.cpu_ms, strict=True))
    ok = share >= GOAL_SHARE
    print(f"\n{'MET ' if ok else 'MISSED'} scanning off >= {GOAL_SHARE:.0%} of the minimal pooled relay: median of "
          f"paired rounds {share:.1%} by throughput (rounds: "
          f"{', '.join(f'{o / m:.0%}' for o, m in zip(off.rates, minimal.rates, strict=True))}); "
          f"by CPU per message {cpu_share:.1%}")
    failures = sum(p.failed for p in paths)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
