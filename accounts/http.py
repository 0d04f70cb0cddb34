"""What the people pages and the sign-in pages take from a request for the audit trail."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from, as the server saw it (behind a proxy, gunicorn's trusted forwarding)."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
