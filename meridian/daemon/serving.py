"""What each server of a region presents and asks for, from the group file's `tls` section.

- node, client door: the region's certificate; client certificates from the client CA or
  the group CA are required when `tls.client_ca` is set;
- node, peer door: no TLS (a loopback address, the region's token);
- replicator: the region's certificate; client certificates from the group CA (peers and
  operators) are required;
- trigger runner (its health service): the region's certificate;
- metrics endpoints: the region's certificate, unless they listen on a loopback address.
"""

from __future__ import annotations

import enum
from pathlib import Path

from meridian.config import GroupConfig, RegionConfig
from meridian.config.addresses import Address, is_loopback_host
from meridian.config.security import CertPair
from meridian.daemon.errors import StartupError
from meridian.security.tls import ReloadingServerCredentials, ServerTlsFiles


class Door(enum.Enum):
    CLIENT = "client door"
    REPLICATOR = "replicator"
    TRIGGERS = "trigger runner"


def server_files(config: GroupConfig, region: RegionConfig, door: Door) -> ServerTlsFiles | None:
    """The files a door's TLS uses, or None without a `tls` section."""
    tls, pair = config.tls, region.tls
    if tls is None or pair is None:
        return None
    cas: tuple[Path, ...] = ()
    if door is Door.REPLICATOR:
        cas = (tls.ca,)
    elif door is Door.CLIENT and tls.client_ca is not None:
        cas = (tls.client_ca, tls.ca)
    return ServerTlsFiles(pair.cert, pair.key, cas, require_client_auth=bool(cas))


def load_credentials(files: ServerTlsFiles | None, what: str) -> ReloadingServerCredentials | None:
    """Credentials that follow the files on disk (keep the object: gRPC calls back into it);
    StartupError naming the file when one is missing or does not fit."""
    if files is None:
        return None
    try:
        return ReloadingServerCredentials(files)
    except (OSError, ValueError) as exc:
        raise StartupError(f"{what}: TLS files: {exc}") from exc


def metrics_pair(config: GroupConfig, region: RegionConfig, listen: Address) -> CertPair | None:
    """The certificate a metrics endpoint serves HTTPS with: the region's, unless the group
    has no `tls` section or the endpoint listens on a loopback address."""
    if config.tls is None or is_loopback_host(listen.host):
        return None
    return region.tls
