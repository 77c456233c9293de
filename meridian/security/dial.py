"""Channels to the group's servers as one principal: a region's own process (presenting the
region's certificate) or an operator (presenting `tls.operator`), plaintext when the group
file has no `tls` section.

With TLS, a channel trusts only the group's CA and sets the TLS target name to the server
region's synthetic name (`<region>.<group>.meridian`), so it accepts that region's
certificate only, whatever address it dialled. Certificate files are read anew for every
channel, so a rotated certificate is used from the next connection on (links open one per
session). `metadata` adds credentials to every call: the region's token, or an access key's
signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import grpc

from meridian.config import GroupConfig
from meridian.config.security import CertPair
from meridian.security import grpc_auth
from meridian.security.tls import ClientCredentialsSource, ClientTlsFiles, peer_channel_options
from meridian.wire.call_metadata import Adder, metadata_interceptors, with_metadata
from meridian.wire.channels import GRPC_OPTIONS


@dataclass(frozen=True)
class Dialer:
    config: GroupConfig
    pair: CertPair | None = None  # the certificate and key this principal presents
    metadata: Adder | None = None
    options: tuple[tuple[str, object], ...] = ()  # channel options besides the defaults

    @classmethod
    def for_region(cls, config: GroupConfig, region: str, metadata: Adder | None = None) -> Dialer:
        return cls(config, config.region(region).tls, metadata)

    @classmethod
    def for_operator(cls, config: GroupConfig, metadata: Adder | None = None) -> Dialer:
        return cls(config, config.tls.operator if config.tls else None, metadata)

    def with_options(self, *options: tuple[str, object]) -> Dialer:
        """The same principal, its channels with these options too (e.g. reconnect backoff)."""
        return replace(self, options=(*self.options, *options))

    def with_access_key(self, key_id: str, secret: str) -> Dialer:
        """The same principal, signing every call with an access key."""

        def signed(method: str) -> list[tuple[str, str]]:
            return [grpc_auth.signed_header(key_id, secret, method)]

        return replace(self, metadata=signed)

    def channel(self, address: str, region: str) -> grpc.aio.Channel:
        """An asyncio channel to a server of `region` at `address`."""
        interceptors = metadata_interceptors(self.metadata) if self.metadata else None
        credentials, options = self._security(region)
        if credentials is None:
            return grpc.aio.insecure_channel(address, options, interceptors=interceptors)
        return grpc.aio.secure_channel(address, credentials, options, interceptors=interceptors)

    def sync_channel(self, address: str, region: str) -> grpc.Channel:
        """A blocking channel to a server of `region` at `address` (command-line tools)."""
        credentials, options = self._security(region)
        if credentials is None:
            channel = grpc.insecure_channel(address, options)
        else:
            channel = grpc.secure_channel(address, credentials, options)
        return with_metadata(channel, self.metadata) if self.metadata else channel

    def _security(
        self, region: str
    ) -> tuple[grpc.ChannelCredentials | None, Sequence[tuple[str, object]]]:
        tls = self.config.tls
        if tls is None:
            return None, [*GRPC_OPTIONS, *self.options]
        pair = self.pair
        files = ClientTlsFiles(tls.ca, pair.cert if pair else None, pair.key if pair else None)
        credentials = ClientCredentialsSource(files).load()
        peer = peer_channel_options(self.config.group, region)
        return credentials, [*GRPC_OPTIONS, *self.options, *peer]
