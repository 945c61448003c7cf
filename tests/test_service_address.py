"""Service addresses, hosts and ports are checked before anything starts, in one place.

No TensorFlow here: the parsing is pure, the busy ports are held by real
sockets, and ``safeloader service`` must refuse bad arguments (exit 2) and a
busy port (exit 1) in one line, before it loads TensorFlow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from safeloader.cli import main
from safeloader.service_address import (
    PortUnavailableError,
    ServiceAddress,
    ServiceAddressError,
    check_host,
    check_port,
    check_port_free,
    parse_service_address,
)


@pytest.mark.parametrize("text, host, port", [
    ("localhost:5050", "localhost", 5050),
    ("grpc://localhost:5050", "localhost", 5050),
    ("10.1.2.3:1", "10.1.2.3", 1),
    ("grpc://dispatcher-0.tf_data.example.com.:65535", "dispatcher-0.tf_data.example.com.", 65535),
    ("[::1]:5050", "::1", 5050),
    ("grpc://[fe80::1%eth0]:5050", "fe80::1%eth0", 5050),
])
def test_both_forms_give_one_address(text: str, host: str, port: int) -> None:
    address = parse_service_address(text)
    assert address == ServiceAddress(host, port)
    bracketed = f"[{host}]" if ":" in host else host
    assert address.host_port == f"{bracketed}:{port}"
    assert address.url == f"grpc://{bracketed}:{port}"
    assert parse_service_address(address.url) == parse_service_address(address.host_port) == address


@pytest.mark.parametrize("text, reason", [
    ("localhost", "the port is missing"),
    ("grpc://localhost", "the port is missing"),
    ("localhost:", "the port is missing"),
    ("[::1]", "the port is missing"),
    ("foo:bar", "the port 'bar' is not a number"),
    ("localhost:-1", "the port '-1' is not a number"),
    ("localhost:5050/", "the port '5050/' is not a number"),
    ("localhost:99999", "the port 99999 is outside 1-65535"),
    ("localhost:0", "the port 0 is outside 1-65535"),
    ("my host:5050", "the host 'my host' is not a host name or IP address"),
    (" localhost:5050", "the host ' localhost' is not a host name or IP address"),
    ("999.0.0.1:5050", "the host '999.0.0.1' is not a host name or IP address"),
    (":5050", "the host is missing"),
    ("", "the host is missing"),
    ("::1:5050", "more than one colon: an IPv6 host goes in brackets"),
    ("[nope]:5050", "'nope' in brackets is not an IPv6 address"),
    ("http://localhost:5050", "the service speaks grpc://, not http://"),
    (5050, "not a string"),
])
def test_a_malformed_address_is_named_with_what_is_wrong(text: object, reason: str) -> None:
    with pytest.raises(ServiceAddressError) as raised:
        parse_service_address(text, name="service")
    message = str(raised.value)
    assert message.startswith(f"service: {text!r} is not a tf.data service address: {reason} (")
    assert "HOST:PORT or grpc://HOST:PORT" in message and "\n" not in message


@pytest.mark.parametrize("port", [-1, 65536, 5050.0, "5050", True, None])
def test_a_port_to_serve_on_is_0_to_65535(port: object) -> None:
    with pytest.raises(ServiceAddressError, match=f"port must be a port number from 0 to 65535 "
                       rf"\(0: any free port\), got {port!r}"):
        check_port(port)


def test_ports_0_and_65535_can_be_asked_for() -> None:
    assert (check_port(0), check_port(65535)) == (0, 65535)


def test_a_host_is_a_name_or_an_address_and_ipv6_goes_in_brackets() -> None:
    assert check_host("worker-1.example.com") == "worker-1.example.com"
    assert check_host("::1") == check_host("[::1]") == "[::1]"
    for bad in ("my host", "", "host:5050", "[host]", None):
        with pytest.raises(ServiceAddressError, match="host must be a host name or IP address"):
            check_host(bad)


def _listening(address: str = "127.0.0.1") -> socket.socket:
    holder = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    holder.bind((address, 0))
    holder.listen()
    return holder


def test_a_port_another_program_listens_on_is_reported_by_number() -> None:
    with _listening() as holder:
        port = holder.getsockname()[1]
        with pytest.raises(PortUnavailableError, match=f"^port {port} is in use: "):
            check_port_free(port)
    check_port_free(port)  # free again once the other program lets go
    check_port_free(0)


def test_a_port_held_with_so_reuseport_counts_as_in_use() -> None:
    """What gRPC does: a second tf.data server would bind it too, without an error."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        with pytest.raises(PortUnavailableError, match="is in use"):
            check_port_free(holder.getsockname()[1])


@pytest.mark.parametrize("argv, message", [
    (["dispatcher", "--port", "-1"],
     "argument --port: '-1' is not a port number: give 0 to 65535 (0: any free port)"),
    (["dispatcher", "--port", "65536"],
     "argument --port: '65536' is not a port number: give 0 to 65535 (0: any free port)"),
    (["dispatcher", "--port", "5050", "--host", "my host"],
     "argument --host: 'my host' is not a host name or IP address"),
    (["dispatcher", "--port", "5050", "--worker-timeout", "0"],
     "argument --worker-timeout: '0' is not a positive number of seconds"),
    (["worker", "--dispatcher", "localhost"],
     "argument --dispatcher: 'localhost' is not a tf.data service address: the port is missing"),
    (["worker", "--dispatcher", "foo:bar"],
     "argument --dispatcher: 'foo:bar' is not a tf.data service address: the port 'bar' is "
     "not a number"),
    (["worker", "--dispatcher", "localhost:99999"],
     "argument --dispatcher: 'localhost:99999' is not a tf.data service address: the port "
     "99999 is outside 1-65535"),
    (["worker", "--dispatcher", "localhost:5050", "--dispatcher-timeout", "inf"],
     "argument --dispatcher-timeout: 'inf' is not a positive number of seconds"),
])
def test_a_bad_service_argument_fails_at_once_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        main(["service", *argv])
    took = time.monotonic() - start
    assert exited.value.code == 2 and took < 1.0
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"safeloader service {argv[0]}: error: {message}"), last


def _service_command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "safeloader.cli", "service", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_command_refuses_a_malformed_address_before_loading_anything() -> None:
    start = time.monotonic()
    result = _service_command("worker", "--dispatcher", "my host:5050")
    assert time.monotonic() - start < 10.0  # a fresh interpreter, not TensorFlow
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "safeloader service worker: error: argument --dispatcher: 'my host:5050' is not a "
        "tf.data service address: the host 'my host' is not a host name or IP address "
        "(give HOST:PORT or grpc://HOST:PORT, an IPv6 host in brackets: [::1]:5050)")


@pytest.mark.parametrize("role, args", [
    ("dispatcher", ()), ("worker", ("--dispatcher", "127.0.0.1:1")),
])
def test_a_busy_port_is_one_line_naming_it(role: str, args: tuple[str, ...]) -> None:
    with _listening() as holder:
        port = holder.getsockname()[1]
        result = _service_command(role, *args, "--port", str(port), "--host", "127.0.0.1")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"safeloader service {role}: port {port} is in use: another program (or another "
        "tf.data server) listens there; pick another port, or 0 for any free one\n")
