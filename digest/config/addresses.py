"""Values bound for mail headers: one line, one address, a domain as IDNA A-labels."""

from __future__ import annotations

import re
from email.utils import formataddr, getaddresses, parseaddr
from urllib.parse import quote, urlsplit, urlunsplit

from digest.config.reader import Reader

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 5322 atext: what a local part or a List-Id label may hold without quoting.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
                   r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")


def _address_literal(domain: str) -> bool:
    """`[127.0.0.1]` or `[IPv6:::1]`: RFC 5321 address literals, for a host with no name."""
    import ipaddress

    if not (domain.startswith("[") and domain.endswith("]")):
        return False
    inner = domain[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inner[5:])
        else:
            ipaddress.IPv4Address(inner)
    except ValueError:
        return False
    return True


def ascii_domain(domain: str) -> str | None:
    """The domain as it goes into a header: IDNA 2008 (UTS 46) A-labels; None if invalid."""
    if _address_literal(domain):
        return domain
    if domain.isascii():
        return domain if _HOST.fullmatch(domain) else None
    import idna  # only for the rare non-ASCII domain

    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return encoded if _HOST.fullmatch(encoded) else None


def mailbox(r: Reader, table: str, key: str, value: str, *,
             named: bool = True) -> tuple[str, str]:
    """("Name", "local@ascii-domain") from a header-bound address; ("", "") when invalid."""
    example = "'Name <digest@example.org>'" if named else "'digest@example.org'"
    if CONTROL.search(value):
        r.problem(table, key, "must be one line without control characters")
        return "", ""
    found = getaddresses([value])
    name, address = found[0] if len(found) == 1 else ("", "")
    local, _, domain = address.rpartition("@")
    problem = None
    if not local or not domain or (not named and name):
        problem = f"must be an address like {example}, got {value!r}"
    elif not local.isascii() or not _DOT_ATOM.fullmatch(local):
        problem = (f"the part before @ must be plain ASCII letters, digits and "
                   f"!#$%&'*+/=?^_`{{|}}~.- , got {local!r}")
    elif parseaddr(value)[1] != address or address not in value:  # "a@exa mple.org"
        problem = f"must be an address like {example}, got {value!r}"
    if problem is None:
        encoded = ascii_domain(domain)
        if encoded is None:
            problem = f"{domain!r} is not a valid domain name"
        else:
            return name, f"{local}@{encoded}"
    r.problem(table, key, problem)
    return "", ""


def display(name: str, address: str) -> str:
    """`Name <address>` again, quoted as parseaddr reads it back."""
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def header_url(r: Reader, table: str, key: str, value: str) -> str | None:
    """A URL bound for a header between <…>: one line, no <>", spaces; IDNA host."""
    if not value:
        return None
    if CONTROL.search(value) or any(c in value for c in ' <>"'):
        r.problem(table, key, "must be one URL without spaces, quotes, < or > "
                  "(percent-encode them)")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # r.url has said what is wrong
    found = re.fullmatch(r"(?P<user>[^@]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:]*)(?P<port>:\d*)?",
                         parts.netloc)
    host = found.group("host") if found else ""
    encoded = host if host.startswith("[") else ascii_domain(host) if host else None
    if found is None or encoded is None:
        r.problem(table, key, f"{parts.netloc!r} is not a valid host name (and port)")
        return None
    netloc: str = (found.group("user") or "") + encoded + (found.group("port") or "")
    rest = [re.sub(r"[^\x00-\x7f]+", lambda m: quote(m.group()), x)
            for x in (parts.path, parts.query, parts.fragment)]
    return urlunsplit((parts.scheme, netloc, *rest))


def list_id(r: Reader, table: str, key: str, value: str) -> str | None:
    """`Name <label.domain>` or `label.domain` (RFC 2919), its domain as IDNA."""
    example = "'Aze Daily <daily.news.example.org>'"
    if CONTROL.search(value):
        r.problem(table, key, "must be one line without control characters")
        return None
    name, identifier = parseaddr(value)
    if not identifier and "<" not in value:
        identifier = value.strip()
    if identifier and not identifier.isascii():
        identifier = ascii_domain(identifier) or identifier
    if not _DOT_ATOM.fullmatch(identifier) or "." not in identifier or "@" in identifier \
            or value.count("<") > 1 or value.count(">") > 1:
        r.problem(table, key, f"must be a list identifier like {example}, "
                  f"got {value!r}")
        return None
    return f"{display(name, identifier)}" if name else f"<{identifier}>"



def nameserver(value: str) -> tuple[str, int]:
    """(IP address, port) of a DNS server written `IP`, `IP:port` or `[IPv6]:port`;
    ValueError if it is not one."""
    import ipaddress

    host, port = value.strip(), 53
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"{value!r}: write [IPv6]:port")
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, digits = host.partition(":")
        if not digits.isdigit():
            raise ValueError(f"{value!r}: the port must be a number")
        port = int(digits)
    ipaddress.ip_address(host)  # ValueError: not an IP address
    if not 0 < port < 65536:
        raise ValueError(f"{value!r}: the port must be between 1 and 65535")
    return host, port
