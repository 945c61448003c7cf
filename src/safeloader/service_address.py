"""Addresses, hosts and ports of the tf.data service, checked before anything starts.

One function, :func:`parse_service_address`, reads a dispatcher's address
wherever one is given: ``tfrecord_dataset(service=...)``, ``safeloader
service worker --dispatcher`` and ``start_worker``. Each accepts the same
forms, ``HOST:PORT`` and ``grpc://HOST:PORT``, with an IPv6 host in brackets
(``[::1]:5050``). The servers' own settings are checked here too (a port
from 0 to 65535, a host clients can reach), and a port is tried before a
server is started on it, because gRPC shares a port it binds with
``SO_REUSEPORT``: a second dispatcher on a port already served would start
without an error and take half of the connections.

No TensorFlow here: the command line checks its arguments before it loads it.
"""

from __future__ import annotations

import errno
import ipaddress
import math
import re
import socket
from dataclasses import dataclass
from typing import Any

#: what an address may look like; the host and the port are checked afterwards.
#: Hand-written: ``urllib.parse.urlsplit`` takes any character in a host
#: ("my host") and has no notion of an address without a scheme.
_ADDRESS = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?:\[(?P<bracketed>[^\]]*)\]|(?P<host>[^:\[\]]*))"
    r"(?::(?P<port>.*))?",
    re.DOTALL,
)
#: a host name: dot-separated labels of letters, digits, hyphens (RFC 1123) and
#: the underscores some container and cloud names carry
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?")
_FORMS = "give HOST:PORT or grpc://HOST:PORT, an IPv6 host in brackets: [::1]:5050"
MAX_PORT = 65_535


class ServiceAddressError(ValueError):
    """An address, host or port that the tf.data service cannot use; the message names it."""


class PortUnavailableError(OSError):
    """A port a server cannot listen on (in use, or not allowed); the message names it."""


@dataclass(frozen=True)
class ServiceAddress:
    """A dispatcher's address: ``host`` (an IPv6 one without brackets) and ``port``."""

    host: str
    port: int

    @property
    def host_port(self) -> str:
        """``host:port``, an IPv6 host in brackets: what gRPC connects to."""
        return f"{address_host(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """``grpc://host:port``: what tf.data's client is given."""
        return f"grpc://{self.host_port}"


def parse_service_address(address: Any, name: str | None = None) -> ServiceAddress:
    """Return the dispatcher address ``address`` names (``HOST:PORT`` or ``grpc://HOST:PORT``).

    Raises :class:`ServiceAddressError` (a ``ValueError``), in one line that
    names ``address`` (after ``name``, the argument it came in, if given) and
    says what is wrong with it.
    """
    prefix = f"{name}: " if name else ""

    def error(reason: str) -> ServiceAddressError:
        return ServiceAddressError(
            f"{prefix}{address!r} is not a tf.data service address: {reason} ({_FORMS})")

    if not isinstance(address, str):
        raise error("not a string")
    match = _ADDRESS.fullmatch(address)
    if match is None:
        raise error("not HOST:PORT")
    scheme, port = match["scheme"], match["port"]
    if scheme is not None and scheme != "grpc":
        raise error(f"the service speaks grpc://, not {scheme}://")
    bracketed = match["bracketed"]
    host = match["host"] if bracketed is None else bracketed
    if bracketed is None and port is not None and ":" in port:
        raise error("more than one colon: an IPv6 host goes in brackets")
    if not host:
        raise error("the host is missing")
    if bracketed is not None and not _is_ipv6(bracketed):
        raise error(f"{bracketed!r} in brackets is not an IPv6 address")
    if bracketed is None and not _is_host_name(host):
        raise error(f"the host {host!r} is not a host name or IP address")
    if port is None or port == "":
        raise error("the port is missing")
    if not (port.isascii() and port.isdigit()):
        raise error(f"the port {port!r} is not a number")
    if not 1 <= int(port) <= MAX_PORT:
        raise error(f"the port {int(port)} is outside 1-{MAX_PORT}")
    return ServiceAddress(host, int(port))


def check_port(port: Any) -> int:
    """Return ``port`` if a server can be asked to listen on it (0 to 65535, 0: any free port).

    Raises :class:`ServiceAddressError` naming the value.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:
        raise ServiceAddressError(
            f"port must be a port number from 0 to {MAX_PORT} (0: any free port), got {port!r}")
    return port


def check_host(host: Any) -> str:
    """Return ``host`` (a host name or an IP address; an IPv6 one with or without
    brackets) as it goes into an address: an IPv6 host in brackets.

    Raises :class:`ServiceAddressError` naming the value.
    """
    if isinstance(host, str):
        bracketed = host[:1] == "[" and host[-1:] == "]"
        text = host[1:-1] if bracketed else host
        if _is_ipv6(text) or (not bracketed and _is_host_name(text)):
            return address_host(text)
    raise ServiceAddressError(f"host must be a host name or IP address, got {host!r}")


def address_host(host: str) -> str:
    """``host`` as it is written in ``host:port``: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def check_port_free(port: int) -> None:
    """Return if a server could listen on ``port`` now (0 always can).

    Raises :class:`PortUnavailableError` naming the port: in use (by any
    program, a tf.data server included), or not allowed. The probe binds the
    wildcard address without ``SO_REUSEPORT``, so a gRPC server that holds the
    port (with ``SO_REUSEPORT``) counts as using it; ``SO_REUSEADDR`` keeps
    connections of a server that just stopped (``TIME_WAIT``) from counting.
    """
    if port == 0:
        return
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 as well
        wildcard = "::"
    except OSError:  # no IPv6 on this machine
        probe, wildcard = socket.socket(socket.AF_INET, socket.SOCK_STREAM), "0.0.0.0"
    with probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((wildcard, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortUnavailableError(
                    f"port {port} is in use: another program (or another tf.data server) "
                    "listens there; pick another port, or 0 for any free one") from None
            raise PortUnavailableError(
                f"cannot listen on port {port}: {error.strerror}") from None


def check_timeout(seconds: Any, name: str) -> float:
    """Return ``seconds`` as a float if it is a positive, finite number; else raise
    ``ValueError`` naming ``name``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not 0 < seconds < math.inf:
        raise ValueError(f"{name} must be a positive number of seconds, got {seconds!r}")
    return float(seconds)


def _is_host_name(text: str) -> bool:
    """A host name, or an IPv4 address when it is all digits and dots."""
    if not _HOST_NAME.fullmatch(text):
        return False
    if text.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
    return True


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
