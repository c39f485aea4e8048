"""A small authoritative DNS server on loopback (UDP), built from dnspython's message
parts: the records of a test's zone, NXDOMAIN for any other name. Real DNS on the wire,
so the code under test asks it through its real resolver."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[str, dict[str, list[str]]]  # name -> record type -> values, as in a zone file


class DnsServer:
    """Answers from `zone`; `asked` records every (name, type) it was asked."""

    def __init__(self, zone: Zone) -> None:
        self.zone = {name.rstrip(".").lower(): records for name, records in zone.items()}
        self.asked: list[tuple[str, str]] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, client = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.socket.sendto(self.answer(data), client)

    def answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        [question] = query.question
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.asked.append((name, kind))
        records = self.zone.get(name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif records.get(kind):
            response.answer.append(dns.rrset.from_text_list(
                question.name, 300, dns.rdataclass.IN, question.rdtype, records[kind]))
        return bytes(response.to_wire())

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.socket.close()
