"""Review-queue latency at 1,000 and 100,000 held messages (issue 14), on SQLite and PostgreSQL, measured through
the console's real HTTP app: ``dlpgate console`` in its own process (uvicorn, the session cookie, CSRF, the
templates), driven over loopback by httpx from this process.

The store is filled with synthetic held messages (bulk INSERTs of rows built by the store's own
``incident_values``; 200 senders, 50 recipient domains, 3 holding rules, 3 sensitivities, 30 days of ages, 5%
already released), then it times:

- ``queue first``: ``GET /queue``, newest first (page of 50, total count, counts by rule);
- ``queue deep``: ``GET /queue?after=ID`` half-way down (keyset paging);
- ``queue oldest``: ``GET /queue?sort=oldest``;
- ``filter rule`` / ``filter sender`` / ``filter domain`` / ``filter sensitivity+age``: ``GET /queue`` with that
  filter kept in the session (set once by ``POST /queue/filter``);
- ``bulk reject 50`` / ``bulk release 50``: one confirmed ``POST /queue/bulk`` deciding 50 ticked messages (each
  through the same per-message path as a single decision; the release goes to a recording SMTP server on loopback).

Page loads are the median and 95th percentile of ``--repeat`` requests after two warm-ups; bulk actions the median
of three runs on different messages. The filled database is vacuumed and analysed first, as a running one
would be by autovacuum (PostgreSQL) or ``ANALYZE`` (SQLite).

    .venv/bin/python bench/console_queue.py                      # SQLite, 1,000 and 100,000
    DLPGATE_TEST_POSTGRES_URL=postgresql+asyncpg://... \
        .venv/bin/python bench/console_queue.py --backends sqlite,postgresql
    (scripts/pg-test-cluster start prints such a URL)

Figures (2 cores, this machine, 2026-12-02; milliseconds, median / p95; with revision 0006's ``quarantine_rules``
and the queries that use it):

| measure (ms)           | sqlite 1,000 | sqlite 100,000 | postgresql 1,000 | postgresql 100,000 |
|------------------------|--------------|----------------|------------------|--------------------|
| queue first            | 68 / 127     | 152 / 168      | 72 / 92          | 170 / 236          |
| queue deep             | 68 / 188     | 176 / 260      | 68 / 164         | 173 / 281          |
| queue oldest           | 84 / 120     | 126 / 157      | 68 / 88          | 188 / 371          |
| filter rule            | 68 / 92      | 192 / 227      | 72 / 96          | 232 / 280          |
| filter sender          | 60 / 104     | 236 / 268      | 69 / 87          | 394 / 776          |
| filter domain          | 92 / 136     | 370 / 599      | 68 / 76          | 432 / 560          |
| filter sensitivity+age | 80 / 112     | 321 / 396      | 76 / 88          | 444 / 629          |
| bulk reject 50         | 559          | 705            | 415              | 388                |
| bulk release 50        | 1547         | 1829           | 1487             | 1252               |
| (fill, seconds)        | 0            | 24             | 0                | 28                 |

The machine was shared (load average about 3 on 2 cores), so the 95th percentiles are noisy. Before revision
0006 and the queries of ``gateway/store/review.py`` that go with it, SQLite at 100,000 gave: queue first
2720 / 3576, queue deep 2195, filter rule 3056, filter sender 1317, filter domain 1622, filter
sensitivity+age 1976: each page sorted every held row (``state IN (...)`` cannot walk the ``(state, id)`` index
in order), joined the large incident rows to count, and parsed every incident's ``rules`` JSON for the counts by
rule. What is left at 100,000 is mostly the exact counts (the total, by rule, and a substring filter on
sender or recipient, which no index serves); a bulk action costs one claim, one SMTP transaction and a few
audited writes per message (about 25 ms each for a release, 8-14 ms for a reject).
"""

# ruff: noqa: E402  (the path is fixed before the other imports; see below)
from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``queue`` (which urllib3 imports): run as a script, its own
# folder would come first on the path and shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.findings import Sensitivity
from gateway.console.security import hash_password
from gateway.policy.model import Action, Decision
from gateway.store import Store
from gateway.store.records import incident_values
from gateway.store.schema import incidents, quarantine
from tests.store_fixtures import (
    RecordingUpstream,
    free_port,
    hit,
    load_config,
    make_scan,
    make_submission,
    write_config,
)

PASSWORD = "bench password 123"
RULES = ("personal-data-freemail", "special-category-external", "multiple-cases-external")
SENSITIVITIES = (Sensitivity.NONE, Sensitivity.PERSONAL, Sensitivity.SPECIAL_CATEGORY)
BATCH = 5000


class _Rows:
    """Row builder: the incident values are made by the store's own ``incident_values`` once per (rule,
    sensitivity) and the sealed message once per sender, then copied with each row's own reference, time,
    sender and recipients (building every row from scratch took 4 ms a row)."""

    def __init__(self, store: Store, size: int, now: datetime, upstream: str) -> None:
        self.store, self.size, self.now, self.upstream = store, size, now, upstream
        self.templates: dict[tuple[int, int], dict[str, Any]] = {}
        self.sealed: dict[str, tuple[bytes, str, str, int]] = {}

    def template(self, rule: int, sens: int) -> dict[str, Any]:
        if (rule, sens) not in self.templates:
            sub = make_submission(marker="bench")
            scan = dataclasses.replace(make_scan(sub), sensitivity=SENSITIVITIES[sens])
            decision = Decision(Action.QUARANTINE, hits=(hit(RULES[rule], Action.QUARANTINE),))
            self.templates[(rule, sens)] = incident_values(
                sub, scan, decision, reference="x", node="bench", now=self.now, delivered=False,
                quarantined=True, upstream_reply=None)
        return self.templates[(rule, sens)]

    def seal(self, sender: str) -> tuple[bytes, str, str, int]:
        if sender not in self.sealed:
            raw = make_submission(mail_from=sender, marker=sender).raw
            blob, scheme = self.store.cipher.seal(raw)
            self.sealed[sender] = (bytes(blob), scheme, hashlib.sha256(raw).hexdigest(), len(raw))
        return self.sealed[sender]

    def rows(self, start: int, n: int, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        inc_rows, q_rows = [], []
        for i in range(start, start + n):
            sender = f"user{i % 200}@cafcass.gov.uk"
            rcpt = [f"person{i % 997}@domain{i % 50}.example", f"colleague{i % 13}@cafcass.gov.uk"]
            stored = self.now - timedelta(days=30 * (self.size - i) / self.size)
            ref = f"INC-B-{i:07d}"
            inc_rows.append(self.template(i % 3, rng.randrange(3)) | {
                "id": i, "reference": ref, "created_at": stored, "received_at": stored, "sender": sender,
                "txn_id": f"bench{i}", "recipients": [{"address": rcpt[0], "class": "external"},
                                                       {"address": rcpt[1], "class": "internal"}]})
            blob, scheme, sha, size = self.seal(sender)
            q_rows.append({
                "id": i, "incident_id": i, "reference": ref, "stored_at": stored, "mail_from": sender,
                "rcpt_tos": rcpt, "raw": blob, "encryption": scheme, "sha256": sha, "size": size,
                "state": "released" if i % 20 == 0 else "held", "state_changed_at": stored,
                "route": {"upstream": self.upstream}, "release_plan": {"action": "pass", "headers": []},
            })
        return inc_rows, q_rows


async def fill(store: Store, size: int, upstream: str) -> None:
    rng = random.Random(14)
    build = _Rows(store, size, datetime.now(UTC), upstream)
    for start in range(1, size + 1, BATCH):
        n = min(BATCH, size + 1 - start)
        inc_rows, q_rows = build.rows(start, n, rng)
        async with store.engine.begin() as conn:
            await conn.execute(sa.insert(incidents), inc_rows)
            await conn.execute(sa.insert(quarantine), q_rows)
    if store.backend == "postgresql":
        async with store.engine.begin() as conn:
            for table in ("incidents", "quarantine"):
                await conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    # What autovacuum / a long-running database would have by now: statistics, and PostgreSQL's visibility map
    # (without it a count cannot be answered from the (state, id) index alone).
    async with store.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(sa.text("VACUUM ANALYZE" if store.backend == "postgresql" else "ANALYZE"))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def _time(client: httpx.AsyncClient, path: str, repeat: int) -> tuple[float, float]:
    for _ in range(2):
        (await client.get(path)).raise_for_status()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = await client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


async def measure(base: str, size: int, repeat: int, up: RecordingUpstream) -> dict[str, str]:
    out: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        token = _csrf((await client.get("/signin")).text)
        r = await client.post("/signin", data={"csrf": token, "username": "bench", "password": PASSWORD})
        assert r.status_code == 303, r.text[:300]
        token = _csrf((await client.get("/queue")).text)
        for name, path in (("queue first", "/queue"), ("queue deep", f"/queue?after={size // 2}"),
                           ("queue oldest", "/queue?sort=oldest")):
            med, p95 = await _time(client, path, repeat)
            out[name] = f"{med:.0f} / {p95:.0f}"
        filters = {
            "filter rule": {"rule": RULES[1]},
            "filter sender": {"sender": "user17@"},
            "filter domain": {"recipient_domain": "domain7.example"},
            "filter sensitivity+age": {"sensitivity": "personal", "older_than_hours": "48"},
        }
        for name, values in filters.items():
            await client.post("/queue/filter", data={"csrf": token, **values})
            med, p95 = await _time(client, "/queue", repeat)
            out[name] = f"{med:.0f} / {p95:.0f}"
        await client.post("/queue/filter", data={"csrf": token, "clear": "1"})
        # Bulk: 50 held, not special-category (so a release is sent, not an approval request), per run.
        for action in ("reject", "release"):
            runs = []
            for run in range(3):
                refs = [f"INC-B-{i:07d}" for i in _pick(size, action, run)]
                t = time.perf_counter()
                r = await client.post("/queue/bulk", data={
                    "csrf": token, "confirmed": "1", "scope": "selected", "action": action,
                    "justification": "benchmark bulk decision", "ref": refs})
                runs.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and "could not be decided" not in r.text, r.text[:2000]
            out[f"bulk {action} 50"] = f"{statistics.median(runs):.0f}"
    return out


def _pick(size: int, action: str, run: int) -> list[int]:
    """50 ids of held, non-special messages (the fill's sensitivity sequence is replayed), different for each
    action and run."""
    rng = random.Random(14)
    sens = [SENSITIVITIES[rng.randrange(3)] for _ in range(size)]
    ids = [i for i in range(1, size + 1) if i % 20 and sens[i - 1] != Sensitivity.SPECIAL_CATEGORY]
    chunk = (0 if action == "reject" else 3) + run
    return ids[chunk * 50:(chunk + 1) * 50]


@contextlib.contextmanager
def _folder(keep: bool) -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="dlpgate-bench-queue-")
    try:
        yield tmp
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


async def one(backend: str, size: int, repeat: int, pg_url: str | None, keep: bool = False) -> dict[str, str]:
    up = RecordingUpstream()
    up.start()
    with _folder(keep) as tmp:
        store_url = None
        if backend == "postgresql":
            assert pg_url
            store_url = await _fresh_pg(pg_url)
        port = free_port()
        cfg_dir = write_config(Path(tmp), upstream_port=up.port, store_url=store_url,
                               console={"enabled": True, "listen": f"127.0.0.1:{port}"})
        cfg = load_config(cfg_dir)
        store = await Store.open(cfg, upgrade=True if store_url else None)
        t = time.perf_counter()
        await fill(store, size, up.url)
        fill_s = time.perf_counter() - t
        await store.add_account("bench", "reviewer", hash_password(PASSWORD), actor="bench")
        await store.close()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "console", "--config", str(cfg_dir), "--log-format", "console",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    async with httpx.AsyncClient() as c:
                        await c.get(base + "/signin")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            result = await measure(base, size, repeat, up)
            assert len(up.messages) == 150, len(up.messages)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
            up.stop()
            if keep:
                print(f"kept: {cfg_dir} ({store_url or 'SQLite in its state folder'})", file=sys.stderr)
            elif store_url:
                await _drop_pg(pg_url or "", store_url)
    return {"fill s": f"{fill_s:.0f}"} | result


async def _fresh_pg(base: str) -> str:
    import asyncpg

    u = sa.engine.make_url(base)
    name = f"dlpgate_bench_{os.getpid()}_{int(time.time())}"
    conn = await asyncpg.connect(user=u.username, password=u.password, host=u.host, port=u.port, database=u.database)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return str(u.set(database=name).render_as_string(hide_password=False))


async def _drop_pg(base: str, url: str) -> None:
    import asyncpg

    u = sa.engine.make_url(base)
    name = sa.engine.make_url(url).database
    conn = await asyncpg.connect(user=u.username, password=u.password, host=u.host, port=u.port, database=u.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg-url", default=os.environ.get("DLPGATE_TEST_POSTGRES_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the databases (to look at query plans)")
    args = parser.parse_args()
    rows: list[tuple[str, int, dict[str, str]]] = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (no --pg-url or DLPGATE_TEST_POSTGRES_URL)", file=sys.stderr)
            continue
        for size in (int(s) for s in args.sizes.split(",")):
            result = asyncio.run(one(backend, size, args.repeat, args.pg_url, args.keep))
            rows.append((backend, size, result))
            print(f"{backend} {size}: {result}", file=sys.stderr, flush=True)
    keys = list(rows[0][2]) if rows else []
    print("| measure | " + " | ".join(f"{b} {s:,}" for b, s, _ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in keys:
        print(f"| {k} | " + " | ".join(r.get(k, "-") for _, _, r in rows) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
