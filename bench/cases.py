"""Case directory cost (issue 16): import, snapshot, worker memory and per-message look-up at organisation size.

Generates a synthetic directory (default 100,000 cases, 1,000,000 rows: per case 2 children with dates of birth,
3 parties and 5 professionals with addresses or a domain), imports it through ``dlpgate cases import`` into a
fresh SQLite store, builds the workers' snapshot the way ``serve`` does, loads it in a fresh process to measure
the resident memory it adds, and times ``CaseMatcher.match`` over synthetic messages (CPU time per message).

    .venv/bin/python bench/cases.py [--cases 100000] [--rows-per-case 10] [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "bench-cases-key-0123456789abcdef"


def _letters(n: int) -> str:
    """Names are letters only (detection's name words drop digits): 0 -> "a", 27 -> "bb"..."""
    out = ""
    while True:
        out += "abcdefghijklmnopqrstuvwxyz"[n % 26]
        n //= 26
        if not n:
            return out


FORENAMES = [f"Fore{_letters(n)}" for n in range(3000)]
SURNAMES = [f"Sur{_letters(n)}" for n in range(20000)]
FIRMS = [f"firm{n}.co.uk" for n in range(5000)]


def case_number(i: int) -> str:
    return f"ZX{20 + i % 6}C{i:05d}" if i < 100000 else f"ZY{20 + i % 6}P{i % 100000:05d}"


def write_directory(path: Path, cases: int, per_case: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """The CSV; returns (case number, child name, dob) of each case's first child for the look-up messages."""
    children = []
    with path.open("w", encoding="utf-8") as fh:
        fh.write("case_number,role,name,date_of_birth,email\n")
        for i in range(cases):
            num = case_number(i)
            surname = rng.choice(SURNAMES)
            rows = []
            for c in range(2):
                name = f"{rng.choice(FORENAMES)} {surname}"
                dob = f"{rng.randint(2008, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                rows.append(f"{num},child,{name},{dob},")
                if c == 0:
                    children.append((num, name, dob))
            for _ in range(3):
                rows.append(f"{num},party,{rng.choice(FORENAMES)} {rng.choice(SURNAMES)},,")
            for p in range(per_case - 5):
                firm = rng.choice(FIRMS)
                email = f"@{firm}" if p == 0 else f"person{rng.randint(0, 10**6)}@{firm}"
                rows.append(f"{num},professional,,,{email}")
            fh.write("\n".join(rows[:per_case]) + "\n")
    return children


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_child(snapshot: Path) -> None:
    """Run in a fresh process: RSS before and after loading the snapshot and building the matcher."""
    import numpy  # noqa: F401  (imported by every worker anyway: spaCy needs it)

    from detectors.cases import CaseMatcher, CaseSnapshot

    before = rss_kb()
    snap = CaseSnapshot.load(snapshot)
    matcher = CaseMatcher(snap, KEY.encode())
    after = rss_kb()
    print(f"{before} {after} {snap.nbytes} {len(matcher.snapshot.case_ids)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--rows-per-case", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--memory-child", metavar="SNAPSHOT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["DLPGATE_CASES_KEY"] = KEY
    if args.memory_child:
        memory_child(Path(args.memory_child))
        return 0

    from detectors.cases import CaseMatcher
    from gateway.cli import main as cli_main
    from gateway.config import load
    from gateway.store import Store
    from tests.smtp_fixtures import make_config

    rng = random.Random(16)
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        cfg_dir = make_config(tmp, {})
        csv = tmp / "directory.csv"
        t0 = time.perf_counter()
        children = write_directory(csv, args.cases, args.rows_per_case, rng)
        rows = args.cases * args.rows_per_case
        print(f"directory: {args.cases} cases, {rows} rows, {csv.stat().st_size / 1e6:.0f} MB CSV "
              f"(generated in {time.perf_counter() - t0:.1f}s)")

        t0, c0 = time.perf_counter(), time.process_time()
        rc = cli_main(["cases", "import", str(csv), "--config", str(cfg_dir)])
        print(f"import (validate, hash, replace in SQLite): {time.perf_counter() - t0:.1f}s wall, "
              f"{time.process_time() - c0:.1f}s CPU (rc {rc})")
        cfg = load(cfg_dir)
        print(f"database: {(cfg.state_dir / 'dlpgate.db').stat().st_size / 1e6:.0f} MB")

        async def snapshot() -> Path | None:
            store = await Store.open(cfg)
            try:
                return await store.write_case_snapshot(cfg.state_dir / "cases")
            finally:
                await store.close()

        t0 = time.perf_counter()
        snap_path = asyncio.run(snapshot())
        assert snap_path is not None
        print(f"snapshot (read rows, build, write): {time.perf_counter() - t0:.1f}s, "
              f"file {snap_path.stat().st_size / 1e6:.1f} MB")

        out = subprocess.run([sys.executable, __file__, "--memory-child", str(snap_path)],
                             capture_output=True, text=True, check=True).stdout.split()
        before, after, nbytes, ncases = (int(x) for x in out)
        print(f"worker memory: +{(after - before) / 1024:.1f} MB RSS for the loaded snapshot "
              f"({int(nbytes) / 1e6:.1f} MB of arrays, {ncases} cases)")

        from detectors.cases import CaseSnapshot

        t0 = time.perf_counter()
        matcher = CaseMatcher(CaseSnapshot.load(snap_path), KEY.encode())
        print(f"snapshot load in a worker: {time.perf_counter() - t0:.2f}s")
        filler = ("The hearing was adjourned and the parties agreed a timetable for the next steps. "
                  "Please confirm that the bundle will be ready by Friday and that the report is filed. ") * 8
        msgs = []
        for i in range(args.messages):
            num, name, dob = children[rng.randrange(len(children))]
            d = f"{dob[8:10]}/{dob[5:7]}/{dob[0:4]}"
            body = f"Dear Ms Smith,\n\nRe {name} (DOB {d}), case {num}.\n\n{filler}\nKind regards,\nJane Doe\n"
            if i % 2:
                body = f"Dear Ms Smith,\n\nThank you for your message.\n\n{filler}\nKind regards,\nJane Doe\n"
            msgs.append((body, [num] if i % 2 == 0 else [], [f"x{i}@firm{i % 5000}.co.uk"]))
        c0 = time.process_time()
        held = 0
        for body, numbers, rcpts in msgs:
            got = matcher.match([("body", body), ("subject", "Update")], numbers, rcpts)
            held += bool(got.unlinked)
        cpu = (time.process_time() - c0) / len(msgs)
        words = len(msgs[0][0].split())
        print(f"look-up: {cpu * 1e3:.3f} ms CPU per message on average ({len(msgs)} messages of ~{words} words, "
              f"half naming a directory child with DOB and case number; {held} with an unlinked recipient)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
