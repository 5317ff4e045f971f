"""Memory benchmark: peak RSS a running `dlpgate serve` adds per large message in flight (issue 13).

    .venv/bin/python bench/memory.py --messages 4 --size-mb 30

Starts an aiosmtpd upstream that delivers to a Maildir (its own process, not measured) and `dlpgate serve`
with scanning on (the packaged policy and detectors, ``--workers`` scan workers), waits until the gateway
listens (its workers have loaded their models by then), samples the summed VmRSS of the gateway and every
process under it (the scan workers) from /proc for a baseline, then sends ``--messages`` messages of
``--size-mb`` MB at once, one connection each, and keeps sampling until every reply is in. Prints the
baseline, the peak, the peak added per message in flight and its ratio to the message size (the target is
at most 2x), the replies, how many messages reached the Maildir byte for byte, and the command to re-run.

The message is a short text body and one attachment of random control bytes (``application/octet-stream``,
no printable run for the strings extractor): it passes the packaged policy, so the figure is the relay path
(receive, scan, relay). ``--hold`` sends it to a lookalike of the organisation's domain instead, so the figure
is the quarantine path (receive, scan, store). Each process's RSS above its own baseline at the peak is shown,
and each transaction's decision from the gateway's log (a tag or an encryption changes the bytes on purpose).
Figures are for this machine; RSS depends on the allocator, so run it twice before comparing.

Measured on a shared 2-core VM, 2 workers, 30 MB messages (issue 13; target <= 2.00 x):
    --messages 1: 1.20 x    --messages 2: 1.16-1.22 x    --messages 4: 0.59 x   (all delivered byte for byte)
    --hold --messages 2: 1.15 x    --hold --messages 1: 1.19-1.21 x (SQLite), 1.18 x (PostgreSQL, --store-url)
    (--hold --messages 1 was 2.5 x before the quarantine stored messages in chunk rows, revision 0008; ``--hold``
    also reads each held message back from the quarantine and counts those that are byte for byte the one sent)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import aiosmtplib
import yaml

REPO = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, and a sibling named like a standard module (a queue.py, say)
# would shadow it (asyncio's thread pool imports ``queue``): drop the folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SINK = r"""
import asyncio, mailbox, sys
from aiosmtpd.smtp import SMTP
box = mailbox.Maildir(sys.argv[2], create=True)
class H:
    async def handle_DATA(self, server, session, envelope):
        box.add(envelope.original_content)
        return "250 2.0.0 Ok: delivered"
class Big(SMTP):
    line_length_limit = 1_000_000
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Big(H(), hostname="sink", data_size_limit=None, loop=loop),
                             "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"port {port} did not open")


def tree(root: int) -> list[int]:
    """The root pid and every descendant, from /proc/*/stat (field 4 is the parent pid)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the process tree's summed VmRSS every ``interval`` seconds; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = 0
        self.peak_parts: dict[int, int] = {}
        self.stop = threading.Event()

    def sample(self) -> tuple[int, dict[int, int]]:
        parts = {pid: rss_kib(pid) for pid in tree(self.root)}
        return sum(parts.values()), parts

    def run(self) -> None:
        while not self.stop.is_set():
            total, parts = self.sample()
            if total > self.peak:
                self.peak, self.peak_parts = total, parts
            time.sleep(self.interval)


_CONTROL = bytes([*range(0x00, 0x09), *range(0x0e, 0x20), *range(0x7f, 0xa0)])
_BINARY = bytes(_CONTROL[b % len(_CONTROL)] for b in range(256))
"""Maps every byte to a control byte: sniffed as binary (high bytes alone read as 8-bit text), with no printable
ASCII or UTF-16 run for the strings extractor."""


def message(i: int, size: int) -> bytes:
    """A text body and one base64 attachment of random bytes, ``size`` bytes in all (to within a line)."""
    # Random control bytes only (see _BINARY): fully random bytes hold ~10,000 printable runs per 20 MB for the
    # strings extractor, and now and then spaCy reads a name and a postcode into them; the message is then
    # tagged [encrypt] and its delivery is (rightly) not the bytes sent. That was the "intermittent
    # non-byte-exact delivery" (1 message in 8 in a run of 8); the benchmark measures the pass path only.
    payload = os.urandom(size * 3 // 4).translate(_BINARY)
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b"From: Sender <sender@cafcass.gov.uk>\r\nTo: Rcpt <rcpt@example.org>\r\n"
        b"Subject: Memory benchmark %d\r\nMessage-ID: <mem-%d@bench.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the data attached.\r\n"
        b'--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" % (i, i)
    ) + b64 + b"--b1--\r\n"


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common start of two byte strings (binary search over slice comparisons)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def transactions(log: Path) -> list[str]:
    """Each transaction's decision and rules from the gateway's JSON log (a tag or an encryption changes the
    bytes on purpose: that is not a relay fault)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "transaction":
            rules = ",".join(event.get("rules") or [])
            out.append(f"{event.get('decision')}" + (f"({rules})" if rules else ""))
    return sorted(out)


def check_delivered(delivered: list[bytes], bodies: list[bytes]) -> tuple[int, list[str]]:
    """How many deliveries end with exactly the message sent (matched by Message-ID), and a line for each one
    that does not, naming the first difference."""
    exact, notes = 0, []
    for d in delivered:
        head = d.find(b"\r\nFrom: ") + 2
        sent = next((b for i, b in enumerate(bodies) if b"<mem-%d@bench.test>" % i in d[:head + 4096]), None)
        if sent is not None and d.endswith(sent):
            exact += 1
            continue
        best = sent or max(bodies, key=lambda b: common_prefix(d[head:head + 4096], b[:4096]))
        at = common_prefix(d[head:], best)
        lo = max(at - 40, 0)
        notes.append(f"# not byte-exact: {len(d) - head} bytes delivered for {len(best)} sent; first difference "
                     f"at {at}: sent {best[lo:at + 40]!r}, got {d[head + lo:head + at + 40]!r}")
    return exact, notes


async def send_all(port: int, messages: list[bytes], rcpt: str) -> list[str]:
    async def one(data: bytes) -> str:
        try:
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=600) as client:
                _refused, text = await client.sendmail("sender@cafcass.gov.uk", [rcpt], data)
                return f"250 {text}"[:80]
        except aiosmtplib.SMTPResponseException as exc:
            return f"{exc.code} {exc.message}"[:80]
        except Exception as exc:  # the benchmark reports every outcome, it never stops at the first
            traceback.print_exc()
            return f"error {exc.__class__.__name__}: {exc}"[:80]

    return list(await asyncio.gather(*(one(m) for m in messages)))


async def check_held(cfg_dir: Path, bodies: list[bytes]) -> int:
    """How many of ``bodies`` the quarantine gives back byte for byte (``Store.reveal_message``, as the CLI and
    the console read a held message)."""
    from gateway.config import load
    from gateway.store import Store

    store = await Store.open(load(cfg_dir), create=False)
    try:
        wanted = set(bodies)
        exact = 0
        for record in await store.list_quarantine():
            if await store.reveal_message(record.reference, actor="bench", reason="bench/memory.py") in wanted:
                exact += 1
        return exact
    finally:
        await store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=4, help="messages sent at once (one connection each)")
    ap.add_argument("--size-mb", type=float, default=30.0, help="size of each message in MB (10^6 bytes)")
    ap.add_argument("--workers", type=int, default=2, help="scan worker processes")
    ap.add_argument("--no-scan", action="store_true", help="scanning off: the SMTP edge and relay alone")
    ap.add_argument("--hold", action="store_true",
                    help="send to a lookalike of the organisation's domain: the quarantine path (needs scanning)")
    ap.add_argument("--store-url", default=None,
                    help="store.url (a PostgreSQL database; default: SQLite in the temporary state folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = ap.parse_args()
    size = int(args.size_mb * 1_000_000)
    command = (f".venv/bin/python bench/memory.py --messages {args.messages} --size-mb {args.size_mb:g} "
               f"--workers {args.workers}" + (" --no-scan" if args.no_scan else "") + (" --hold" if args.hold else "")
               + (f" --store-url {args.store_url}" if args.store_url else ""))
    rcpt = "rcpt@cafcas.gov.uk" if args.hold else "rcpt@example.org"
    print(f"# command: {command}")
    print(f"# machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    tmp = Path(tempfile.mkdtemp(prefix="dlpgate-mem-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        maildir = tmp / "maildir"
        sink_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", SINK, str(sink_port), str(maildir)]))
        wait_port(sink_port, procs[-1])
        cfg = tmp / "config"
        shutil.copytree(REPO / "config", cfg)
        data = yaml.safe_load((cfg / "gateway.yaml").read_text())
        data["state_dir"] = str(tmp / "state")
        data["scan"]["enabled"] = not args.no_scan
        data["scan"]["workers"] = args.workers
        data["scan"]["deadline_seconds"] = 600
        data["scan"]["queue_wait_seconds"] = 600
        data["metrics"]["listen"] = None
        data["digest"]["enabled"] = False
        data["notifications"]["notify_sender_on_quarantine"] = False
        data["alerts"]["email"] = False
        if args.store_url:
            data.setdefault("store", {}).update({"url": args.store_url, "auto_upgrade": True})
        (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
        gw_port = free_port()
        gateway = subprocess.Popen(
            [str(REPO / ".venv/bin/dlpgate"), "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{gw_port}",
             "--upstream", f"smtp://127.0.0.1:{sink_port}"],
            stderr=open(tmp / "gateway.log", "wb"),
        )
        procs.append(gateway)
        wait_port(gw_port, gateway)
        time.sleep(2)
        sampler = Sampler(gateway.pid)
        base_parts: dict[int, int] = {}
        for _ in range(10):  # the smallest of ten samples, per process
            time.sleep(0.1)
            for pid, kib in sampler.sample()[1].items():
                base_parts[pid] = min(base_parts.get(pid, kib), kib)
        baseline = sum(base_parts.values())
        bodies = [message(i, size) for i in range(args.messages)]
        sampler.start()
        t0 = time.perf_counter()
        results = asyncio.run(send_all(gw_port, bodies, rcpt))
        elapsed = time.perf_counter() - t0
        time.sleep(0.2)
        sampler.stop.set()
        sampler.join()
        decisions = transactions(tmp / "gateway.log")
        delivered = [p.read_bytes() for p in sorted((maildir / "new").glob("*"))] if (maildir / "new").is_dir() else []
        exact, notes = check_delivered(delivered, bodies)
        for note in notes:
            print(note)
        held_exact = asyncio.run(check_held(cfg, bodies)) if args.hold else 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        if args.keep:
            print(f"# kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    mb = 1024 / 1_000_000  # KiB -> MB
    added = (sampler.peak - baseline) * 1024
    per_message = added / args.messages
    print(f"\nmessages in flight      {args.messages} x {size / 1e6:.1f} MB, scan workers {args.workers}"
          f"{' (scan off)' if args.no_scan else ''}{' (held: quarantine path)' if args.hold else ''}")
    print(f"baseline RSS (tree)     {baseline * mb:8.1f} MB")
    print(f"peak RSS (tree)         {sampler.peak * mb:8.1f} MB")
    for pid, kib in sorted(sampler.peak_parts.items()):
        role = "gateway" if pid == gateway.pid else "worker "
        print(f"  {role} {pid:>7}       {kib * mb:8.1f} MB   (+{(kib - base_parts.get(pid, 0)) * mb:.1f} at the peak)")
    print(f"peak added              {added / 1e6:8.1f} MB")
    print(f"added per message       {per_message / 1e6:8.1f} MB = {per_message / size:.2f} x message size"
          f"   (target <= 2.00 x)")
    print(f"elapsed                 {elapsed:8.1f} s")
    print(f"replies                 {sorted(set(results))}")
    print(f"decisions (gateway log) {decisions}")
    if not args.hold:
        print(f"delivered byte-exact    {exact} of {len(delivered)} delivered, {args.messages} sent")
    else:
        print(f"held byte-exact         {held_exact} of {args.messages} sent (read back from the quarantine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
