"""Time-to-live settings in the group file: a table's `ttl` and the sweeper's
`replication.ttl`, each rule a row of (mutation, expected message)."""

from __future__ import annotations

import pytest

from meridian.config import ConfigError
from meridian.config.ttl import SweeperConfig, TableTtl
from tests.unit.test_config import T0, Mutation, both, mutated, parse_doc, put

INVALID = [
    ("ttl-not-mapping", put(*T0, "ttl", "expires_at"), "tables[0].ttl: expected a mapping"),
    ("ttl-no-attribute", put(*T0, "ttl", {}), "tables[0].ttl.attribute: required"),
    (
        "ttl-attribute-empty",
        put(*T0, "ttl", {"attribute": ""}),
        'tables[0].ttl.attribute: expected an attribute name of 1 to 255 characters, got ""',
    ),
    (
        "ttl-attribute-number",
        put(*T0, "ttl", {"attribute": 5}),
        "tables[0].ttl.attribute: expected an attribute name of 1 to 255 characters, got 5",
    ),
    (
        "ttl-hide-not-bool",
        put(*T0, "ttl", {"attribute": "exp", "hide_expired": "yes"}),
        'tables[0].ttl.hide_expired: expected true or false, got "yes"',
    ),
    (
        "ttl-unknown-key",
        put(*T0, "ttl", {"attribute": "exp", "enabled": True}),
        'tables[0].ttl: unknown key "enabled" (expected one of: attribute, hide_expired)',
    ),
    (
        "sweeper-unknown-key",
        put("replication", {"ttl": {"rate": 5}}),
        'replication.ttl: unknown key "rate"',
    ),
    (
        "sweeper-interval-zero",
        put("replication", {"ttl": {"interval": "0s"}}),
        'replication.ttl.interval: expected a duration from 10ms to 1h, got "0s"',
    ),
    (
        "sweeper-rate-zero",
        put("replication", {"ttl": {"max_deletes_per_second": 0}}),
        "replication.ttl.max_deletes_per_second: expected an integer from 1 to 1000000, got 0",
    ),
    (
        "sweeper-takeover-short",
        put("replication", {"ttl": {"takeover": "500ms"}}),
        'replication.ttl.takeover: expected a duration from 1s to 30d, got "500ms"',
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"), [pytest.param(m, e, id=i) for i, m, e in INVALID]
)
def test_invalid_ttl_settings_are_refused(mutation: Mutation, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_doc(mutated(mutation))
    assert str(err.value).startswith(expected), str(err.value)


VALID = [
    ("absent", None, None, ("", False)),
    ("attribute", {"attribute": "expires_at"}, TableTtl("expires_at"), ("expires_at", False)),
    (
        "hidden",
        {"attribute": "exp", "hide_expired": True},
        TableTtl("exp", True),
        ("exp", True),
    ),
]


@pytest.mark.parametrize(
    ("ttl", "config", "spec"), [pytest.param(t, c, s, id=i) for i, t, c, s in VALID]
)
def test_table_ttl_reaches_the_spec(ttl, config, spec) -> None:
    doc = mutated(put(*T0, "ttl", ttl)) if ttl is not None else mutated(both())
    table = parse_doc(doc).tables[0]
    assert table.ttl == config
    built = table.to_spec()
    assert (built.ttl_attribute, built.ttl_hide_expired) == spec


def test_sweeper_defaults_and_values() -> None:
    assert parse_doc(mutated(both())).replication.ttl == SweeperConfig(2.0, 1000, 60)
    sweeper = {"interval": "250ms", "max_deletes_per_second": 50, "takeover": "5m"}
    cfg = parse_doc(mutated(put("replication", {"ttl": sweeper})))
    assert cfg.replication.ttl == SweeperConfig(0.25, 50, 300)
