"""Dialer: extra channel options reach every channel, with TLS and without, and survive
signing with an access key."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from meridian.config import GroupConfig
from meridian.security import certs
from meridian.security.dial import Dialer
from meridian.security.tls import TARGET_NAME_OVERRIDE
from meridian.wire.channels import GRPC_OPTIONS
from tests.harness import group_doc, load_doc

BACKOFF = ("grpc.max_reconnect_backoff_ms", 1000)
TABLE = {"name": "orders", "partition_key": {"name": "pk", "type": "S"}}


def config(tmp_path: pathlib.Path, tls: bool) -> GroupConfig:
    doc: dict[str, Any] = group_doc(tmp_path / "data", ["us"], tables=[TABLE], group="g")
    if tls:
        layout = certs.Layout(tmp_path / "certs")
        certs.write_group_layout(layout.directory, "g", {"us": []})
        doc["tls"] = {"ca": str(layout.ca[0])}
        cert, key = layout.region("us")
        doc["regions"][0]["tls"] = {"cert": str(cert), "key": str(key)}
    return load_doc(doc, tmp_path / "group.yaml")


@pytest.mark.parametrize("tls", [False, True])
def test_options_are_added_to_the_defaults_and_kept_when_signing(
    tmp_path: pathlib.Path, tls: bool
) -> None:
    dialer = Dialer(config(tmp_path, tls)).with_options(BACKOFF)
    signed = dialer.with_access_key("MKEXAMPLEEXAMPLE0001", "s" * 40)
    assert signed.options == (BACKOFF,) and signed.metadata is not None
    credentials, options = signed._security("us")
    assert (credentials is not None) is tls
    assert list(options[: len(GRPC_OPTIONS)]) == GRPC_OPTIONS
    assert BACKOFF in options
    assert any(key == TARGET_NAME_OVERRIDE for key, _ in options) is tls


def test_without_options_a_dialer_uses_the_defaults(tmp_path: pathlib.Path) -> None:
    _, options = Dialer(config(tmp_path, False))._security("us")
    assert list(options) == GRPC_OPTIONS
