"""Load benchmark: a fixed mix of mail through dlpgate to Postfix's smtp-sink, and the same load straight to it.

    .venv/bin/python bench/load.py --messages 1000 --concurrency 20
    .venv/bin/python bench/load.py --quick          # smoke run, under half a minute

The mix (built once, seeded): plain text 35%, HTML 25%, a PDF attachment 15%, a DOCX attachment 15%, and 10%
protected information (a child's name, DOB, NHS number, case number, postcode) to an external recipient; the
rest is benign business mail with a signature, also to external recipients.

Paths, each measured the same way: straight to `smtp-sink`; a minimal aiosmtpd relay with pooled upstream
connections (the reference for "scanning off"); `dlpgate serve` with `scan.enabled: false`; `dlpgate serve`
with scanning (workers = cores). Per path:

- throughput: Postfix's `smtp-source`, one process per message kind in parallel, sessions and messages in the
  mix's proportions, `--concurrency` sessions in all, connections reused (`-d`); median of `--repeat` runs.
  The minimal relay and dlpgate without scanning run side by side and take turns, so their ratio holds up
  when other work comes and goes on the machine; the server's CPU time a message is reported too (from
  /proc), with the share of the machine other processes took meanwhile;
- latency: an aiosmtplib client sends the mix (seeded order) at 1 connection (no queueing) and at
  `--concurrency`, one queue feeding every connection; added latency = through minus direct, per percentile;
- peak memory: the highest sum of VmRSS over the process and its children (dlpgate's spawned scan workers),
  sampled every 50 ms from /proc; for the direct path, smtp-sink's.

dlpgate's own transaction log (stderr, JSON) is parsed for decisions, reply codes and scan time per message.
Figures are for the machine it runs on.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import aiosmtplib
import yaml

REPO = Path(__file__).resolve().parents[1]
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

SENDER = "jane.smith@cafcass.gov.uk"
# kind, share of the messages (%), external recipient
MIX: tuple[tuple[str, int, str], ...] = (
    ("plain", 35, "d.harris@northfield-venues.co.uk"),
    ("html", 25, "events@midshire-training.co.uk"),
    ("pdf", 15, "accounts@brightwell-print.co.uk"),
    ("docx", 15, "s.patel@meridian-research.org.uk"),
    ("protected", 10, "n.okafor@okafor-law.co.uk"),
)

GOAL_RATE = 100.0  # messages/s of the mix at 20 connections, scanning on
GOAL_ADDED_P99_MS = 100.0  # added p99 at one connection
GOAL_MINIMAL_SHARE = 0.90  # scanning off vs a minimal pooled relay
REFERENCE_MINIMAL_RATE = 350.0  # the figure for a minimal pooled relay

# A minimal relay: aiosmtpd in, a pool of aiosmtplib connections out, nothing else.
MINIMAL_RELAY = r"""
import asyncio, sys
import aiosmtplib
from aiosmtpd.smtp import SMTP

class Relay:
    def __init__(self, port):
        self.port, self.idle = port, []
    async def handle_DATA(self, server, session, envelope):
        client = self.idle.pop() if self.idle else None
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port, timeout=60)
            await client.connect()
        try:
            await client.sendmail(envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
        except Exception:
            client.close()
            return "451 4.3.0 upstream failed"
        self.idle.append(client)
        return "250 2.0.0 Ok"

class Big(SMTP):
    line_length_limit = 1_000_000

async def main():
    loop = asyncio.get_running_loop()
    relay = Relay(int(sys.argv[2]))
    await loop.create_server(lambda: Big(relay, hostname="relay", decode_data=False, loop=loop),
                             "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()

asyncio.run(main())
"""


# --------------------------------------------------------------------------------------------- the mix

BENIGN = (
    "Thank you for hosting the regional practitioners' workshop last week; the feedback was very positive.",
    "Could you send the invoice for the venue hire when it is ready, quoting purchase order PO-4471?",
    "The agenda for the next quarterly review is attached to the calendar invitation.",
    "We would like to book the larger meeting room for two days in March if it is still free.",
    "Please confirm the catering numbers by Friday so that we can finalise the order.",
    "The training materials have been updated to reflect the new practice guidance.",
    "I have copied in our facilities team, who will arrange parking passes for the visitors.",
    "Our finance colleagues have approved the revised quotation, so please go ahead with the booking.",
    "Attendance was lower than expected because of the rail strike, so we may repeat the session.",
    "Let me know if you need anything else from us before the contract is signed.",
    "The evaluation forms will be collated and shared with the steering group next month.",
    "We are reviewing our supplier list this year and would welcome an updated price schedule.",
)

SIGNATURE = (
    "Kind regards,\n\nJane Smith\nBusiness Support Officer\nCafcass\n"
    "Mobile: 07700 900123\nhttps://www.cafcass.gov.uk\n\n"
    "This email and any attachments are intended for the named recipient only. If you have received it in\n"
    "error, please tell the sender and delete it.\n"
)

PROTECTED = (
    "Further to the hearing, here are the details for the child in case number ZW24C50123.\n\n"
    "Child: Amelia Rose Thompson\nDOB: 14/03/2017\nNHS number: 943 476 5919\n"
    "Address: 12 Willow Crescent, Leeds LS6 2QT\n\n"
    "Amelia told me she feels safe living with her grandmother and wants to stay at her school.\n"
)


def _paragraphs(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.sample(BENIGN, 3)) for _ in range(n)]


def _pdf(rng: random.Random) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1)
    for page in range(2):
        text = c.beginText(50, 790)
        text.setFont("Helvetica", 10)
        text.textLine(f"Regional workshop report - page {page + 1}")
        for para in _paragraphs(rng, 8):
            for i in range(0, len(para), 95):
                text.textLine(para[i : i + 95])
            text.textLine("")
        c.drawText(text)
        c.showPage()
    c.save()
    return buf.getvalue()


def _docx(rng: random.Random) -> bytes:
    import datetime

    from docx import Document

    doc = Document()
    doc.core_properties.created = datetime.datetime(2024, 1, 16, 9, 0)
    doc.add_heading("Quarterly supplier review", level=1)
    for para in _paragraphs(rng, 6):
        doc.add_paragraph(para)
    table = doc.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Item", "Quantity", "Price"), strict=True):
        cell.text = text
    for i in range(8):
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = f"Workshop pack {i + 1}", str(rng.randint(5, 60)), f"{i * 12.5:.2f}"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _html(body: str) -> str:
    paras = "".join(f'<p class="MsoNormal" style="margin:0 0 12px 0">{p}</p>\n' for p in body.split("\n\n"))
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        "<style>p.MsoNormal{margin:0;font-size:11pt;font-family:Calibri,sans-serif}</style></head>\n"
        f'<body lang="EN-GB"><div class="WordSection1">\n{paras}'
        '<table border="1" cellpadding="4"><tr><th>Session</th><th>Date</th><th>Room</th></tr>\n'
        "<tr><td>Report writing</td><td>12 March</td><td>Oak</td></tr>\n"
        "<tr><td>Practice guidance</td><td>13 March</td><td>Elm</td></tr></table>\n"
        '<p class="MsoNormal"><b>Jane Smith</b><br>Business Support Officer<br>Cafcass<br>'
        'Mobile: 07700 900123<br><a href="https://www.cafcass.gov.uk">www.cafcass.gov.uk</a></p>\n'
        "</div></body></html>\n"
    )


def build_mix(folder: Path, seed: int = 7) -> dict[str, Path]:
    """One .eml per kind with CRLF line ends (the Python client) and a .lf copy (smtp-source adds the CRs)."""
    rng = random.Random(seed)
    files: dict[str, Path] = {}
    for n, (kind, _, rcpt) in enumerate(MIX):
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["From"] = f"Jane Smith <{SENDER}>"
        msg["To"] = rcpt
        msg["Date"] = "Tue, 16 Jan 2024 09:25:00 +0000"
        msg["Message-ID"] = f"<bench-load-{n}-{kind}@cafcass.gov.uk>"
        greeting = "Dear colleague,\n\n"
        if kind == "protected":
            msg["Subject"] = "Amelia - details"
            body = greeting + PROTECTED + "\n" + "\n\n".join(_paragraphs(rng, 1)) + "\n\n" + SIGNATURE
        else:
            msg["Subject"] = {"plain": "Workshop invoice", "html": "Training dates", "pdf": "Workshop report",
                              "docx": "Supplier review"}[kind]
            body = greeting + "\n\n".join(_paragraphs(rng, 3)) + "\n\n" + SIGNATURE
        msg.set_content(body)
        if kind == "html":
            msg.add_alternative(_html(body.split(SIGNATURE)[0]), subtype="html")
        elif kind == "pdf":
            msg.add_attachment(_pdf(rng), maintype="application", subtype="pdf", filename="workshop-report.pdf")
        elif kind == "docx":
            msg.add_attachment(
                _docx(rng),
                maintype="application",
                subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                filename="supplier-review.docx",
            )
        raw = msg.as_bytes()
        path = folder / f"{kind}.eml"
        path.write_bytes(raw)
        path.with_suffix(".lf").write_bytes(raw.replace(b"\r\n", b"\n"))
        files[kind] = path
    return files


def split(total: int, weights: Sequence[int], minimum: int = 0) -> list[int]:
    """Largest-remainder split of ``total`` in proportion to ``weights`` (each at least ``minimum``)."""
    s = sum(weights)
    exact = [total * w / s for w in weights]
    parts = [max(minimum, int(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    i = 0
    while sum(parts) < total:
        parts[order[i % len(order)]] += 1
        i += 1
    while sum(parts) > total:
        j = max(range(len(parts)), key=lambda k: parts[k])
        parts[j] -= 1
    return parts


def sequence(total: int, seed: int = 11) -> list[int]:
    """The mix as a seeded order of kind indexes, in the mix's proportions."""
    counts = split(total, [w for _, w, _ in MIX])
    order = [k for k, n in enumerate(counts) for _ in range(n)]
    random.Random(seed).shuffle(order)
    return order


# --------------------------------------------------------------------------------------------- processes


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


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return kids


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (the scan pool's spawned workers, the resource tracker)."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.append(p)
            todo.extend(_children(p))
    return seen


def tree_rss_kib(pid: int) -> int:
    return sum(_rss_kib(p) for p in tree_pids(pid))


def tree_cpu_ticks(pid: int) -> dict[int, int]:
    """utime + stime (clock ticks) of each live process of a tree."""
    ticks: dict[int, int] = {}
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            ticks[p] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks


def machine_busy_ticks() -> int:
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return f[0] + f[1] + f[2] + sum(f[5:8])  # user nice system irq softirq steal


def own_ticks() -> int:
    """CPU of this process and of its reaped children (smtp-source), in clock ticks."""
    import resource

    hz = os.sysconf("SC_CLK_TCK")
    return round(sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                        resource.getrusage(resource.RUSAGE_CHILDREN))) * hz)


@dataclass
class CpuUse:
    """CPU while the smtp-source runs were going: the server's per message, and everyone else's share."""

    server_ms_per_msg: float
    parallel: int  # processes of the server that did real work (>= 5% of its CPU): the cores it can use
    load_gen_share: float  # smtp-source, smtp-sink and this script, of the whole machine
    other_share: float  # processes that are not part of the benchmark, of the whole machine


Window = tuple[int, dict[int, int], int, int, float]


def cpu_window(server_pid: int, sink_pid: int) -> Window:
    sink = sum(tree_cpu_ticks(sink_pid).values()) if sink_pid != server_pid else 0
    return machine_busy_ticks(), tree_cpu_ticks(server_pid), sink, own_ticks(), time.perf_counter()


def cpu_use(before: Window, after: Window, messages: int) -> CpuUse:
    hz = os.sysconf("SC_CLK_TCK")
    per_process = {p: t - before[1].get(p, 0) for p, t in after[1].items()}
    server = sum(per_process.values())
    busy, sink, own = after[0] - before[0], after[2] - before[2], after[3] - before[3]
    capacity = (after[4] - before[4]) * hz * (os.cpu_count() or 1)
    other = max(0, busy - server - sink - own)
    parallel = max(1, sum(1 for t in per_process.values() if t >= 0.05 * server))
    return CpuUse(server * 1000 / hz / messages, parallel, (sink + own) / capacity, other / capacity)


class PeakRss:
    """Samples the summed RSS of a process tree in a thread; ``peak`` is the highest sum seen (KiB)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_sink(port: int) -> subprocess.Popen[bytes]:
    cmd = [SMTP_SINK]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
    cmd += [f"127.0.0.1:{port}", "256"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def dlpgate_config(tmp: Path, name: str, *, scan: bool) -> Path:
    cfg = tmp / f"config-{name}"
    shutil.copytree(REPO / "config", cfg)
    data = yaml.safe_load((cfg / "gateway.yaml").read_text())
    data["state_dir"] = str(tmp / f"state-{name}")
    data["scan"]["enabled"] = scan
    data["metrics"]["listen"] = None
    data["digest"]["enabled"] = False
    data["alerts"]["email"] = False
    data["notifications"]["notify_sender_on_quarantine"] = False
    (cfg / "gateway.yaml").write_text(yaml.safe_dump(data))
    return cfg


# --------------------------------------------------------------------------------------------- load


@dataclass
class Pass:
    """One path's figures."""

    name: str
    source_rate: float = float("nan")  # smtp-source, messages/s at C
    source_failed: int = 0
    source_runs: list[float] = field(default_factory=list)  # smtp-source, messages/s of each repeat
    cpu_runs: list[CpuUse] = field(default_factory=list)  # the server's CPU in each smtp-source run
    cpu: CpuUse | None = None  # the median run by CPU a message
    client_rate: float = float("nan")  # aiosmtplib client, messages/s at C
    lat_c: list[float] = field(default_factory=list)  # seconds, at C
    lat_1: list[float] = field(default_factory=list)  # seconds, at 1
    by_kind_1: dict[int, list[float]] = field(default_factory=dict)  # seconds at 1, per kind
    failed: int = 0
    peak_kib: int = 0
    log: dict[str, object] = field(default_factory=dict)


def smtp_source_mix(port: int, files: dict[str, Path], total: int, concurrency: int) -> tuple[float, int]:
    """Run one smtp-source per kind in parallel, messages and sessions in the mix's proportions (each session
    then sends about the same number of messages); returns (messages/s, failures)."""
    weights = [w for _, w, _ in MIX]
    counts, sessions = split(total, weights), split(concurrency, weights, minimum=1)
    procs = []
    t0 = time.perf_counter()
    for (kind, _, rcpt), s, m in zip(MIX, sessions, counts, strict=True):
        if m == 0:
            continue
        cmd = [SMTP_SOURCE, "-A", "-d", "-s", str(min(s, m)), "-m", str(m), "-f", SENDER, "-t", rcpt,
               "-F", str(files[kind].with_suffix(".lf")), f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    failed = 0
    for p in procs:
        _, err = p.communicate()
        lines = [x for x in err.decode(errors="replace").splitlines() if "warning:" in x or "fatal:" in x]
        failed += len(lines) or (1 if p.returncode else 0)
    elapsed = time.perf_counter() - t0
    return total / elapsed, failed


async def client_mix(
    port: int, messages: Sequence[bytes], order: Sequence[int], concurrency: int
) -> tuple[float, list[tuple[int, float]], int]:
    """Send ``order`` (indexes into ``messages``) over ``concurrency`` reused connections; returns elapsed
    seconds, (kind, seconds) per delivered message, failures."""
    latencies: list[tuple[int, float]] = []
    failures = 0
    todo: Iterator[int] = iter(order)

    async def worker() -> None:
        nonlocal failures
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=120)
        await client.connect()
        try:
            for k in todo:
                rcpt = MIX[k][2]
                t0 = time.perf_counter()
                try:
                    await client.sendmail(SENDER, [rcpt], messages[k])
                except aiosmtplib.SMTPException:
                    failures += 1
                    if not client.is_connected:
                        await client.connect()
                    continue
                latencies.append((k, time.perf_counter() - t0))
        finally:
            if client.is_connected:
                await client.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, failures


def pct(values: Sequence[float], p: int) -> float:
    """p-th percentile in ms (exclusive method: with fewer than 100 values, p99 lies between the two largest)."""
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100)[p - 1] * 1000


def read_log(path: Path) -> dict[str, object]:
    """Summarise dlpgate's transaction log lines: decisions, reply classes, mean scan seconds, errors."""
    decisions: collections.Counter[str] = collections.Counter()
    rules: collections.Counter[str] = collections.Counter()
    replies: collections.Counter[str] = collections.Counter()
    problems: collections.Counter[str] = collections.Counter()
    scan: list[float] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "transaction":
            decisions[ev.get("decision", "?")] += 1
            replies[str(ev.get("reply", ""))] += 1
            for r in ev.get("rules", []):
                rules[r] += 1
            if "scan" in ev.get("timings", {}):
                scan.append(ev["timings"]["scan"])
        elif ev.get("level") in ("warning", "error", "critical"):
            problems[str(ev.get("event"))] += 1
    return {"decisions": dict(decisions), "rules": dict(rules), "replies": dict(replies),
            "problems": dict(problems), "scan_ms_mean": statistics.fmean(scan) * 1000 if scan else None,
            "scan_ms_p99": pct(scan, 99) if len(scan) > 1 else None}


@dataclass
class Server:
    """A path under test: the sink itself (direct), the minimal relay, or a dlpgate."""

    res: Pass
    port: int
    pid: int
    proc: subprocess.Popen[bytes] | None = None  # None: not ours to stop here (the sink)
    logfile: Path | None = None
    rss: PeakRss | None = None

    def __post_init__(self) -> None:
        self.rss = PeakRss(self.pid)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.rss is not None:
            self.res.peak_kib = self.rss.stop()
        if self.logfile is not None:
            self.res.log = read_log(self.logfile)


def start_dlpgate(tmp: Path, name: str, sink_port: int, *, scan: bool) -> Server:
    cfg = dlpgate_config(tmp, name, scan=scan)
    port = free_port()
    logfile = tmp / f"{name}.log"
    t0 = time.perf_counter()
    with logfile.open("wb") as log:
        proc = subprocess.Popen(
            [str(REPO / ".venv/bin/dlpgate"), "serve", "--config", str(cfg), "--listen", f"127.0.0.1:{port}",
             "--upstream", f"smtp://127.0.0.1:{sink_port}"],
            stdout=subprocess.DEVNULL, stderr=log, cwd=tmp,
        )
    server = Server(Pass(name), port, proc.pid, proc, logfile)
    try:
        wait_port(port, proc)
    except BaseException:
        server.stop()
        raise
    print(f"  {name}: ready after {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return server


def start_minimal(sink_port: int) -> Server:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", MINIMAL_RELAY, str(port), str(sink_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(Pass("minimal pooled relay"), port, proc.pid, proc)
    try:
        wait_port(port, proc)
    except BaseException:
        server.stop()
        raise
    return server


def latencies(sv: Server, messages: Sequence[bytes], args: argparse.Namespace) -> None:
    """Warm up (every worker), then the mix one at a time (C=1) and at C, with the aiosmtplib client."""
    res = sv.res
    asyncio.run(client_mix(sv.port, messages, sequence(4 * len(MIX), seed=3), 2))
    _, serial, f1 = asyncio.run(client_mix(sv.port, messages, sequence(args.serial, seed=5), 1))
    res.lat_1 = [t for _, t in serial]
    for k, t in serial:
        res.by_kind_1.setdefault(k, []).append(t)
    elapsed, loaded, f2 = asyncio.run(client_mix(sv.port, messages, sequence(args.messages), args.concurrency))
    res.lat_c = [t for _, t in loaded]
    res.client_rate = len(loaded) / elapsed
    res.failed += f1 + f2


def throughput(servers: Sequence[Server], sink_pid: int, files: dict[str, Path], args: argparse.Namespace) -> None:
    """smtp-source runs, taking turns between the servers (so a busy spell on a shared machine hits all of
    them alike), with the CPU each server used per run."""
    for _ in range(args.repeat):
        for sv in servers:
            before = cpu_window(sv.pid, sink_pid)
            rate, failed = smtp_source_mix(sv.port, files, args.messages, args.concurrency)
            sv.res.cpu_runs.append(cpu_use(before, cpu_window(sv.pid, sink_pid), args.messages))
            sv.res.source_runs.append(rate)
            sv.res.source_failed += failed
    for sv in servers:
        r = sv.res
        r.source_rate = statistics.median(r.source_runs)
        r.cpu = sorted(r.cpu_runs, key=lambda c: c.server_ms_per_msg)[len(r.cpu_runs) // 2]
        print(f"  {r.name}: {r.source_rate:.1f} msg/s (smtp-source runs {[round(x, 1) for x in r.source_runs]}), "
              f"{r.client_rate:.1f} msg/s (client)", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- report


def _ms(a: float, b: float) -> str:
    return f"{a:6.1f} /{b:7.1f}"


def table(title: str, direct: Pass, through: Pass, concurrency: int) -> None:
    print(f"\n## {title}")
    head = (f"{'path':<24} {'msg/s C=' + str(concurrency):>11} {'client':>7} {'p50 / p99 ms C=' + str(concurrency):>19}"
            f" {'p50 / p99 ms C=1':>17} {'peak RSS MiB':>12} {'failed':>6}")
    print(head)
    print("-" * len(head))
    for r in (direct, through):
        print(f"{r.name:<24} {r.source_rate:11.1f} {r.client_rate:7.1f} {_ms(pct(r.lat_c, 50), pct(r.lat_c, 99)):>19}"
              f" {_ms(pct(r.lat_1, 50), pct(r.lat_1, 99)):>17} {r.peak_kib / 1024:12.1f}"
              f" {r.source_failed + r.failed:6d}")
    print(f"{'added (through - direct)':<24} {'':>11} {'':>7} "
          f"{_ms(pct(through.lat_c, 50) - pct(direct.lat_c, 50), pct(through.lat_c, 99) - pct(direct.lat_c, 99)):>19}"
          f" {_ms(pct(through.lat_1, 50) - pct(direct.lat_1, 50), pct(through.lat_1, 99) - pct(direct.lat_1, 99)):>17}"
          f" {(through.peak_kib - direct.peak_kib) / 1024:12.1f}")
    print(f"{'ratio (through / direct)':<24} {through.source_rate / direct.source_rate:11.2f}"
          f" {through.client_rate / direct.client_rate:7.2f}"
          f" {_ms(pct(through.lat_c, 50) / pct(direct.lat_c, 50), pct(through.lat_c, 99) / pct(direct.lat_c, 99)):>19}"
          f" {_ms(pct(through.lat_1, 50) / pct(direct.lat_1, 50), pct(through.lat_1, 99) / pct(direct.lat_1, 99)):>17}"
          f" {through.peak_kib / max(1, direct.peak_kib):12.1f}")
    kinds = "/".join(k for k, _, _ in MIX)
    runs = ", ".join(f"{r:.1f}" for r in through.source_runs)
    print(f"smtp-source runs (msg/s, median shown): {runs}; C=1 p50 ms by kind ({kinds}): "
          + ", ".join(f"{pct(through.by_kind_1.get(k, []), 50):.1f}" for k in range(len(MIX))))
    if through.cpu is not None:
        c = through.cpu
        print(f"CPU during the smtp-source runs: {through.name} {c.server_ms_per_msg:.2f} ms a message "
              f"({usable_cores(c)} core(s) to itself would carry {cpu_bound(c):.0f} msg/s); load generator and sink "
              f"{c.load_gen_share:.0%} of the machine, other processes {c.other_share:.0%}")
    if through.log:
        lg = through.log
        scan = lg.get("scan_ms_mean") or None
        print(f"dlpgate log: decisions {lg['decisions']}, rules {lg['rules']}, replies {lg['replies']}"
              + (f", scan mean {scan:.1f} ms p99 {lg['scan_ms_p99']:.1f} ms" if isinstance(scan, float) else "")
              + (f", warnings/errors {lg['problems']}" if lg["problems"] else ", no warnings or errors"))


def usable_cores(c: CpuUse) -> int:
    return min(os.cpu_count() or 1, c.parallel)


def cpu_bound(c: CpuUse) -> float:
    """Messages/s the server could carry with the cores it can use to itself, from its CPU per message."""
    return 1000 * usable_cores(c) / c.server_ms_per_msg if c.server_ms_per_msg else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000, help="messages per throughput/latency pass")
    ap.add_argument("--concurrency", type=int, default=20, help="connections for the loaded passes")
    ap.add_argument("--serial", type=int, default=300, help="messages sent one at a time (C=1) per path")
    ap.add_argument("--repeat", type=int, default=3, help="smtp-source throughput runs per path (median shown)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 messages, 60 serial, 1 smtp-source run")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.quick:
        args.messages, args.serial, args.repeat = 200, 60, 1
    if args.concurrency < len(MIX):
        ap.error(f"--concurrency must be at least {len(MIX)} (one smtp-source per message kind)")
    for tool in (SMTP_SOURCE, SMTP_SINK):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} not found: apt-get install postfix")
    cmd = ".venv/bin/python bench/load.py" + (" --quick" if args.quick else
                                               f" --messages {args.messages} --concurrency {args.concurrency}"
                                               f" --serial {args.serial} --repeat {args.repeat}")
    print(f"# command: {cmd}")
    print(f"# machine: {os.cpu_count()} cores, python {platform.python_version()}, {platform.system()} "
          f"{platform.release()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dlpgate-load-") as tmpname:
        tmp = Path(tmpname)
        files = build_mix(tmp)
        sizes = ", ".join(f"{k} {w}% {files[k].stat().st_size // 1024} KiB" for k, w, _ in MIX)
        print(f"# mix: {sizes}; all to external recipients")
        weights = [w for _, w, _ in MIX]
        print(f"# smtp-source: one process per kind in parallel, sessions {split(args.concurrency, weights, 1)}, "
              f"messages {split(args.messages, weights)}, median of {args.repeat} runs; e.g. smtp-source -A -d "
              f"-s S -m M -f {SENDER} -t RCPT -F KIND.lf 127.0.0.1:PORT")
        load1 = os.getloadavg()[0]
        print(f"# load average before the run: {load1:.2f}"
              + ("  (other work is running: figures will be low)" if load1 > 0.5 else ""))
        messages = [files[kind].read_bytes() for kind, _, _ in MIX]
        sink_port = free_port()
        sink = start_sink(sink_port)
        running: list[Server] = []
        try:
            running.append(Server(Pass("direct to smtp-sink"), sink_port, sink.pid))
            direct = running[-1].res
            latencies(running[-1], messages, args)
            throughput(running, sink.pid, files, args)
            running.pop().stop()
            # The minimal relay and dlpgate without scanning run side by side and take turns, so their ratio
            # (a goal) compares like with like even when other work comes and goes on the machine.
            running += [start_minimal(sink_port), start_dlpgate(tmp, "dlpgate, scanning off", sink_port, scan=False)]
            minimal, off = running[0].res, running[1].res
            for sv in running:
                latencies(sv, messages, args)
            throughput(running, sink.pid, files, args)
            while running:
                running.pop().stop()
            running.append(start_dlpgate(tmp, "dlpgate, scanning on", sink_port, scan=True))
            on = running[-1].res
            latencies(running[-1], messages, args)
            throughput(running, sink.pid, files, args)
            running.pop().stop()
        finally:
            for sv in running:
                sv.stop()
            sink.terminate()
            sink.wait(10)
    print(f"# client = aiosmtplib at the same concurrency (its CPU competes with the server on this machine); "
          f"C=1 passes: {args.serial} messages each")
    table("reference: minimal pooled relay (aiosmtpd + aiosmtplib pool, no checks)", direct, minimal,
          args.concurrency)
    table("dlpgate, scan.enabled: false", direct, off, args.concurrency)
    table(f"dlpgate, scanning on ({os.cpu_count()} workers)", direct, on, args.concurrency)

    added_p99 = pct(on.lat_1, 99) - pct(direct.lat_1, 99)
    share = statistics.median(o / m for o, m in zip(off.source_runs, minimal.source_runs, strict=True))
    print("\n## goals")
    on_cpu = f" (CPU {on.cpu.server_ms_per_msg:.1f} ms a message: {cpu_bound(on.cpu):.0f} msg/s on an idle machine)" \
        if on.cpu else ""
    print(f"{verdict(on.source_rate >= GOAL_RATE)}  >= {GOAL_RATE:.0f} msg/s of the mix at C={args.concurrency}, "
          f"scanning on: {on.source_rate:.1f} msg/s{on_cpu}")
    print(f"{verdict(added_p99 < GOAL_ADDED_P99_MS)}  added p99 < {GOAL_ADDED_P99_MS:.0f} ms at C=1, scanning on: "
          f"{added_p99:.1f} ms (p50 {pct(on.lat_1, 50) - pct(direct.lat_1, 50):.1f} ms)")
    print(f"{verdict(share >= GOAL_MINIMAL_SHARE)}  scanning off >= {GOAL_MINIMAL_SHARE:.0%} of a minimal pooled "
          f"relay: {off.source_rate:.1f} vs {minimal.source_rate:.1f} msg/s, median of paired runs {share:.1%} "
          f"(vs the issue's {REFERENCE_MINIMAL_RATE:.0f} msg/s: {off.source_rate / REFERENCE_MINIMAL_RATE:.0%})")
    if off.cpu_runs and minimal.cpu_runs:
        cpu_share = statistics.median(m.server_ms_per_msg / o.server_ms_per_msg
                                      for m, o in zip(minimal.cpu_runs, off.cpu_runs, strict=True))
        print(f"      by CPU a message: minimal {minimal.cpu.server_ms_per_msg if minimal.cpu else 0:.2f} ms, "
              f"dlpgate {off.cpu.server_ms_per_msg if off.cpu else 0:.2f} ms; median of paired runs {cpu_share:.1%}")
    failures = sum(r.source_failed + r.failed for r in (direct, minimal, off, on))
    print(f"{'PASS' if failures == 0 else 'MISS'}  no failed messages: {failures} failed")
    print(f"# total run time {time.perf_counter() - started:.0f} s, load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
