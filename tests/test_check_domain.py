"""`[subscribe] check_domain`: a sign-up's domain must take mail (an MX record, or else a
globally reachable A or AAAA one), asked of a real DNS server on loopback that the test
starts. Other addresses get the same page as anyone, and nothing is stored or sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from mailservers import Sink, running
from newsroom import add_subscribers, run, sample_config
from support.dnsserver import DnsServer
from test_subscribe import ACTIVE, mails, post, row, served
from web import settle

from digest.config import load_config
from digest.errors import ConfigError
from digest.subscribers import domain_takes_mail

ZONE = {
    "mx.example.net": {"MX": ["10 mail.mx.example.net."]},
    "mail.mx.example.net": {"A": ["93.184.216.34"]},
    "web.example.net": {"A": ["93.184.216.34"]},  # no MX: the A record is the fallback
    "v6.example.net": {"AAAA": ["2606:2800:220:1:248:1893:25c8:1946"]},
    "empty.example.net": {"TXT": ["\"v=spf1 -all\""]},  # the name exists, no mail records
    "private.example.net": {"A": ["10.0.0.7"]},  # not globally reachable: no fallback
    "nullmx.example.net": {"MX": ["0 ."]},  # RFC 7505: takes no mail
}
TAKE = ("mx.example.net", "web.example.net", "v6.example.net")
REFUSE = ("empty.example.net", "private.example.net", "nullmx.example.net",
          "nowhere.example.net")  # the last one does not exist (NXDOMAIN)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer(ZONE)
    try:
        yield server
    finally:
        server.close()


def refusals(config: Path) -> dict[str, int]:
    with closing(sqlite3.connect(config.parent / "state" / "digest.sqlite3")) as db:
        return dict(db.execute("SELECT reason, count FROM signup_refusals").fetchall())


def test_the_domain_check_asks_the_dns_server(dns_server: DnsServer):
    server = ("127.0.0.1", dns_server.port)
    assert [domain_takes_mail(f"a@{d}", server) for d in TAKE] == [True] * len(TAKE)
    assert [domain_takes_mail(f"a@{d}", server) for d in REFUSE] == [False] * len(REFUSE)
    assert ("mx.example.net", "MX") in dns_server.asked
    assert ("web.example.net", "A") in dns_server.asked  # the fallback when there is no MX


def test_only_addresses_whose_domain_takes_mail_are_signed_up(tmp_path: Path,
                                                               dns_server: DnsServer):
    sink = Sink()
    with running(sink) as port:
        config = sample_config(tmp_path, port, tail=(
            "[subscribe]\nrate = 100\ncheck_domain = true\n"
            f'nameserver = "127.0.0.1:{dns_server.port}"'))
        add_subscribers(config, [(ACTIVE, "", "")])
        with served(config) as base:
            answers = {domain: post(base, "/subscribe", {"email": f"reader@{domain}"})
                       for domain in TAKE + REFUSE}
            settle()
            assert len({(a.status, a.body) for a in answers.values()}) == 1  # no enumeration
            assert answers[TAKE[0]].status == 200
            for domain in TAKE:
                found = row(config, f"reader@{domain}")
                assert found is not None and found["status"] == "pending", domain
                assert len(mails(sink, f"reader@{domain}")) == 1, domain
            for domain in REFUSE:
                assert row(config, f"reader@{domain}") is None, domain
                assert not mails(sink, f"reader@{domain}"), domain
    assert refusals(config) == {"domain": len(REFUSE)}
    assert {name for name, _ in dns_server.asked} >= set(TAKE) | set(REFUSE)


def test_without_check_domain_no_lookup_is_made(tmp_path: Path, dns_server: DnsServer):
    config = sample_config(tmp_path, 2525,
                           tail=f'[subscribe]\nnameserver = "127.0.0.1:{dns_server.port}"')
    run(config, "subscribers", "add", ACTIVE)
    with served(config) as base:
        assert post(base, "/subscribe", {"email": "reader@nowhere.example.net"}).status == 200
    assert row(config, "reader@nowhere.example.net") is not None
    assert dns_server.asked == []


@pytest.mark.parametrize("value", ["dns.example.org", "127.0.0.1:x", "127.0.0.1:70000",
                                   "[::1]5353"])
def test_a_nameserver_that_is_not_an_ip_address_is_a_config_error(tmp_path: Path,
                                                                   value: str):
    config = sample_config(tmp_path, 2525, tail=f'[subscribe]\nnameserver = "{value}"')
    with pytest.raises(ConfigError, match="nameserver"):
        load_config(config)


def test_a_nameserver_with_a_port_or_ipv6_is_read(tmp_path: Path):
    from digest.config.addresses import nameserver

    assert nameserver("127.0.0.1") == ("127.0.0.1", 53)
    assert nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert nameserver("[::1]:5353") == ("::1", 5353)
    assert nameserver("::1") == ("::1", 53)
