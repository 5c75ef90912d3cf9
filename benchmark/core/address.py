"""Checking a Dask scheduler address (``--scheduler tcp://HOST:PORT``) before any work: one-line errors.

Digits are ASCII digits only (``str.isdigit`` accepts ``²`` and ``¹²``, which ``int`` then refuses or reads
differently); a host is a name or IPv4 address (letters, digits, ``.``, ``-``, ``_``) or an IPv6 address in
brackets (``tcp://[::1]:8786``), checked with :mod:`ipaddress`.
"""

from __future__ import annotations

import ipaddress
import re

from medbench.core.errors import MedbenchError

DIGITS = re.compile(r"[0-9]+")  # ASCII digits only
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>.*))?")
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def is_number(text: str) -> bool:
    """True for a run of ASCII digits (``"12"``), False for ``"²"``, ``"١٢"``, ``""`` or ``"+1"``."""
    return DIGITS.fullmatch(text) is not None


def check_address(value: str) -> str:
    """``value`` (``tcp://HOST:PORT`` or ``tls://HOST:PORT``) if well formed, else a one-line error naming it."""
    scheme, rest = value[:6], value[6:]
    m = _HOST_PORT.fullmatch(rest)
    if m is None:
        raise MedbenchError(f"--scheduler {value}: an IPv6 address goes in brackets, e.g. {scheme}[::1]:8786")
    host, port = m.group("host"), m.group("port")
    if ":" in (port or ""):
        raise MedbenchError(f"--scheduler {value}: an IPv6 address goes in brackets, e.g. {scheme}[::1]:8786")
    if host in ("", "[]"):
        raise MedbenchError(f"--scheduler {value}: give the scheduler's host before the port, e.g. "
                            f"{scheme}127.0.0.1:{port if port and is_number(port) else 8786}")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise MedbenchError(f"--scheduler {value}: {host} is not an IPv6 address (e.g. {scheme}[::1]:8786)") \
                from None
    elif not _NAME.fullmatch(host):
        raise MedbenchError(f"--scheduler {value}: host {host!r} must be a name or IP address (letters, digits, "
                            f"'.', '-'; an IPv6 address in brackets, e.g. {scheme}[::1]:8786)")
    if port is None or port == "":
        raise MedbenchError(f"--scheduler {value}: give the scheduler's port too, e.g. {scheme}{host}:8786")
    if not is_number(port) or not 1 <= int(port) <= 65535:
        raise MedbenchError(f"--scheduler {value}: port {port!r} must be a number from 1 to 65535 "
                            f"(e.g. {scheme}{host}:8786)")
    return value
