"""Incidents as structured syslog events (issue 17): the store commits, the ``Notifier`` sends one event per
incident to a loopback syslog listener (UDP and TCP, RFC 5424 and CEF), with no personal data in it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.notify.notifier import Notifier
from gateway.store import Store
from gateway.upstream import make_upstream
from tests.store_fixtures import (
    FrozenClock,
    assert_no_secrets,
    load_config,
    make_scan,
    make_submission,
    quarantine_decision,
    reject_decision,
    write_config,
)


class UdpCollector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.events: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.events.put_nowait(data)


@asynccontextmanager
async def udp_collector() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    transport, proto = await asyncio.get_running_loop().create_datagram_endpoint(
        UdpCollector, local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1], proto.events
    finally:
        transport.close()


@asynccontextmanager
async def tcp_collector() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    """RFC 6587 octet-counting frames: ``LEN SP MSG``."""
    events: asyncio.Queue[bytes] = asyncio.Queue()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = await reader.readuntil(b" ")
                events.put_nowait(await reader.readexactly(int(length[:-1])))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], events
    finally:
        server.close()


@asynccontextmanager
async def store_with_notifier(tmp_path: Path, syslog: dict[str, Any]) -> AsyncIterator[tuple[Store, Notifier]]:
    cfg = load_config(write_config(tmp_path, syslog=syslog, alerts={"email": False}))
    store = await Store.open(cfg, clock=FrozenClock())
    notifier = Notifier(cfg, store, make_upstream("smtp://127.0.0.1:9", local_hostname="t", timeout=5))
    store.attach_listener(notifier)
    try:
        yield store, notifier
    finally:
        await notifier.close()
        await notifier.upstream.close()
        await store.close()


def _no_personal_data(event: str) -> None:
    assert_no_secrets(event, "syslog event")
    for value in ("gmail.com", "cafcass.gov.uk", "alice", "report.pdf", "old.zip", "127.0.0.1 "):
        assert value not in event, value


async def test_rfc5424_events_over_udp(tmp_path: Path) -> None:
    async with udp_collector() as (port, events):
        async with store_with_notifier(tmp_path, {"enabled": True, "target": f"udp://127.0.0.1:{port}"}) as (
            store, notifier
        ):
            sub = make_submission()
            held = await store.quarantine(sub, make_scan(sub), quarantine_decision())
            stopped = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
            await notifier.drain()
            first = (await asyncio.wait_for(events.get(), 10)).decode()
            second = (await asyncio.wait_for(events.get(), 10)).decode()
    by_ref = {ref: e for e in (first, second) for ref in (held, stopped) if f'reference="{ref}"' in e}
    assert set(by_ref) == {held, stopped}
    event = by_ref[held]
    # <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG, PRI = facility 13 * 8 + warning (4)
    assert re.match(r"<108>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ dlpgate - INCIDENT \[dlpgate@32473 ", event), event
    assert 'action="quarantine"' in event and 'rules="personal-data-freemail"' in event
    assert 'entities="PERSON:2,UK_FAMILY_CASE_NUMBER:1,UK_NHS:1,UK_NINO:1"' in event
    assert 'recipient_classes="freemail:1,internal:1"' in event and 'node="node-a"' in event
    assert 'action="reject"' in by_ref[stopped] and 'rules="case-data-to-ai"' in by_ref[stopped]
    for e in (first, second):
        _no_personal_data(e)


async def test_cef_events_over_tcp(tmp_path: Path) -> None:
    async with tcp_collector() as (port, events):
        settings = {"enabled": True, "target": f"tcp://127.0.0.1:{port}", "format": "cef", "facility": 16}
        async with store_with_notifier(tmp_path, settings) as (store, notifier):
            sub = make_submission()
            ref = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
            await notifier.drain()
            event = (await asyncio.wait_for(events.get(), 10)).decode()
    assert event.startswith("<132>1 ")  # local0 (16) * 8 + warning
    cef = event[event.index("CEF:0|"):]
    assert cef.startswith("CEF:0|dlpgate|dlpgate|")
    assert "|dlp:reject|DLP incident reject|6|" in cef
    assert f"externalId={ref}" in cef and "cs1Label=rules cs1=case-data-to-ai" in cef
    assert "cn1Label=recipients cn1=2" in cef
    _no_personal_data(event)


async def test_collector_down_never_reaches_the_caller(tmp_path: Path) -> None:
    """A SIEM that is down costs a logged error; the incident is committed and the caller gets its reference."""
    async with store_with_notifier(tmp_path, {"enabled": True, "target": "tcp://127.0.0.1:9", "timeout": 1}) as (
        store, notifier
    ):
        sub = make_submission()
        ref = await store.record_incident(sub, make_scan(sub), reject_decision(), delivered=False)
        await notifier.drain()
        assert await store.get_incident(ref) is not None
