"""Read a daemon's metrics page as the group file says it is served: HTTPS with the group's
CA when the endpoint has a certificate, basic auth when the region's metrics have it."""

from __future__ import annotations

import base64
import ssl
import urllib.request

from meridian.config import GroupConfig, RegionConfig
from meridian.config.addresses import Address
from meridian.daemon.serving import metrics_pair


def fetch_metrics(
    config: GroupConfig, region: RegionConfig, address: Address, timeout: float
) -> str:
    """The text of `address`'s /metrics; OSError or ValueError when it cannot be read."""
    context = None
    scheme = "http"
    if metrics_pair(config, region, address) is not None and config.tls is not None:
        scheme = "https"
        context = ssl.create_default_context(cafile=str(config.tls.ca))
    request = urllib.request.Request(f"{scheme}://{address}/metrics")  # noqa: S310 (http/https only)
    if region.metrics_auth is not None:
        auth = region.metrics_auth
        password = auth.password_file.read_text().strip()
        token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
        return str(response.read().decode())
