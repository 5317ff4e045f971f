"""Exchange Online admission (issue 17): real STARTTLS on loopback with certificates made here.

The connector client connects from 127.0.0.2, outside allowed_networks (127.0.0.1/32), as Microsoft's shared
addresses are. It may relay only with a client certificate that chains to the configured CA bundle and names
the connector, and then only messages whose tenant header equals the configured tenant id.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

import pytest

from gateway.config import load
from gateway.config_errors import ConfigError
from tests.smtp_fixtures import MESSAGE, Upstream, make_config, send
from tests.tls_fixtures import CertAuthority, send_tls

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0b1f6f3e-5d1c-4c1e-9d4e-2a7f6c3b9e10"
CONNECTOR = "mail.protection.outlook.com"


class Certs:
    """A 'Microsoft' CA for the connector, an unrelated CA, the gateway's server certificate, client certs."""

    def __init__(self, folder: Path) -> None:
        self.ms = CertAuthority.create(folder, "Test Microsoft Root")
        self.other = CertAuthority.create(folder, "Test Other Root")
        self.server = self.other.issue(folder, "server", cn="dlpgate.test", dns=["dlpgate.test"], client=False,
                                       ips=("127.0.0.1",))
        self.connector = self.ms.issue(folder, "connector", cn=CONNECTOR, dns=[CONNECTOR], client=True)
        self.wrong_name = self.ms.issue(folder, "wrong-name", cn="smtp.example.org", dns=["smtp.example.org"],
                                        client=True)
        self.wrong_ca = self.other.issue(folder, "wrong-ca", cn=CONNECTOR, dns=[CONNECTOR], client=True)


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return Certs(tmp_path / "pki")


def tenant_message(*tenants: str) -> bytes:
    head = b"".join(b"X-MS-Exchange-CrossTenant-Id: %s\r\n" % t.encode() for t in tenants)
    return head + MESSAGE


def exo_settings(upstream: Upstream, certs: Certs, **extra: object) -> dict[str, object]:
    return {
        "upstream": {"url": upstream.url},
        "server": {
            "tls": {"cert": str(certs.server[0]), "key": str(certs.server[1])},
            "exchange_online": {"tenant_id": TENANT, "ca_bundle": str(certs.ms.path), **extra},
        },
    }


async def test_connector_certificate_and_tenant_header_relay(gateway_factory, upstream: Upstream,
                                                             certs: Certs) -> None:
    """The connector's certificate from the configured CA plus our tenant id in the header: relayed, once, with
    the original bytes after our Received field."""
    app = await gateway_factory(exo_settings(upstream, certs))
    data = tenant_message(TENANT.upper())  # the id compares in any case
    refused = await asyncio.to_thread(send_tls, app.port, certs.other.path, data, client=certs.connector)
    assert refused == {}
    assert len(upstream.handler.messages) == 1
    got = upstream.handler.messages[0]
    assert got.rcpt_tos == ["n.okafor@okafor-law.co.uk"] and got.data.endswith(data)
    assert got.data.startswith(b"Received: from outbound.protection.test ([127.0.0.2])")


@pytest.mark.parametrize(
    "tenants",
    [(OTHER_TENANT,), (), (TENANT, OTHER_TENANT), (OTHER_TENANT, TENANT)],
    ids=["other-tenant", "no-header", "ours-then-other", "other-then-ours"],
)
async def test_wrong_or_missing_tenant_is_refused_at_end_of_data(gateway_factory, upstream: Upstream,
                                                                 certs: Certs, tenants: tuple[str, ...]) -> None:
    """Another tenant shares Microsoft's certificate and addresses: a message whose tenant header is missing,
    another tenant's, or ours beside another's gets 554 5.7.1 at end of DATA and nothing reaches the next hop."""
    app = await gateway_factory(exo_settings(upstream, certs))
    with pytest.raises(smtplib.SMTPDataError) as exc:
        await asyncio.to_thread(send_tls, app.port, certs.other.path, tenant_message(*tenants),
                                client=certs.connector)
    assert exc.value.smtp_code == 554 and b"5.7.1" in exc.value.smtp_error
    await asyncio.sleep(0.2)
    assert upstream.handler.messages == []


async def test_no_client_certificate_is_refused_at_rcpt(gateway_factory, upstream: Upstream, certs: Certs) -> None:
    """STARTTLS without a client certificate, even with our tenant header: 554 5.7.1 at RCPT, no upstream
    transaction opened (not an open relay)."""
    app = await gateway_factory(exo_settings(upstream, certs))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        await asyncio.to_thread(send_tls, app.port, certs.other.path, tenant_message(TENANT), client=None)
    code, text = exc.value.recipients["n.okafor@okafor-law.co.uk"]
    assert code == 554 and b"5.7.1" in text
    assert upstream.handler.messages == [] and upstream.handler.transactions == 0


async def test_certificate_with_another_name_is_refused_at_rcpt(gateway_factory, upstream: Upstream,
                                                                certs: Certs) -> None:
    """A certificate the configured CA issued to another name verifies, but is not the connector: 554 at RCPT."""
    app = await gateway_factory(exo_settings(upstream, certs))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        await asyncio.to_thread(send_tls, app.port, certs.other.path, tenant_message(TENANT),
                                client=certs.wrong_name)
    assert exc.value.recipients["n.okafor@okafor-law.co.uk"][0] == 554
    assert upstream.handler.messages == [] and upstream.handler.transactions == 0


async def test_connector_name_from_another_ca_is_refused(gateway_factory, upstream: Upstream,
                                                         certs: Certs) -> None:
    """The connector's name on a certificate from a CA outside the bundle (the system store is never used)
    fails verification: the TLS handshake is refused and no mail is accepted."""
    app = await gateway_factory(exo_settings(upstream, certs))
    with pytest.raises((smtplib.SMTPException, ssl.SSLError, OSError)):
        await asyncio.to_thread(send_tls, app.port, certs.other.path, tenant_message(TENANT),
                                client=certs.wrong_ca)
    await asyncio.sleep(0.2)
    assert upstream.handler.messages == [] and upstream.handler.transactions == 0
    assert app.tls_context is not None and app.tls_context.cert_store_stats()["x509_ca"] == 1


async def test_wildcard_name_and_custom_header(gateway_factory, upstream: Upstream, certs: Certs) -> None:
    """certificate_names accepts `*.` for one label; tenant_header names another field."""
    app = await gateway_factory(exo_settings(upstream, certs, certificate_names=["*.protection.outlook.com"],
                                             tenant_header="X-Test-Tenant"))
    data = b"X-Test-Tenant: " + TENANT.encode() + b"\r\n" + MESSAGE
    assert await asyncio.to_thread(send_tls, app.port, certs.other.path, data, client=certs.connector) == {}
    with pytest.raises(smtplib.SMTPDataError):
        await asyncio.to_thread(send_tls, app.port, certs.other.path, tenant_message(TENANT),
                                client=certs.connector)
    assert len(upstream.handler.messages) == 1


async def test_allowed_networks_are_unaffected(gateway_factory, upstream: Upstream, certs: Certs) -> None:
    """The on-premises path stays as it was: a client in allowed_networks relays without a certificate or a
    tenant header, with or without STARTTLS."""
    app = await gateway_factory(exo_settings(upstream, certs))
    await asyncio.to_thread(send, app.port, "alice@cafcass.gov.uk", ["bob@cafcass.gov.uk"], MESSAGE)
    await asyncio.to_thread(send_tls, app.port, certs.other.path, MESSAGE, client=None, source="127.0.0.1")
    assert len(upstream.handler.messages) == 2


def test_config_needs_tls_and_a_ca_bundle(tmp_path: Path) -> None:
    """tenant_id without server.tls or without ca_bundle is a config error naming the key."""
    cfg = make_config(tmp_path, {"server": {"exchange_online": {"tenant_id": TENANT}}})
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    keys = {p.key for p in exc.value.problems}
    assert {"server.exchange_online.tenant_id", "server.exchange_online.ca_bundle"} <= keys
    cfg = make_config(tmp_path, {"server": {"exchange_online": {"tenant_id": "not-a-guid"}}})
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    assert any("tenant_id" in p.key for p in exc.value.problems)
