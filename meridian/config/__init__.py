"""Strict loader for a replication group's YAML file.

One YAML file describes a group: its tables, replication knobs, regions and triggers (see
deploy/local/group.yaml for a commented example). Every mistake is refused with a
``ConfigError`` whose message starts with the YAML path of the offending value, e.g.
``regions[1].node.listen: expected HOST:PORT, got "eu-west"``.

One module per section (``tables``, ``replication``, ``regions``, ``triggers`` with its
``filters`` grammar), on shared value checks (``values``, ``addresses``) and the strict YAML
reader (``yaml_reader``); ``group`` puts them together. Parsing is small pure functions, one
per decision; only ``group.load`` does I/O and only ``regions`` looks at the current working
directory. This module names the public API.
"""

from meridian.config.addresses import Address, parse_address, same_machine
from meridian.config.errors import ConfigError
from meridian.config.filters import FilterMatcher, FilterPattern, parse_filter
from meridian.config.group import GroupConfig, load, parse
from meridian.config.regions import RegionConfig
from meridian.config.replication import ReplicationConfig
from meridian.config.summary import summary, warnings_of
from meridian.config.tables import KeyAttr, TableConfig
from meridian.config.triggers import FunctionConfig, OnFailureConfig, TriggerConfig
from meridian.config.values import parse_duration_ms

__all__ = [
    "Address",
    "ConfigError",
    "FilterMatcher",
    "FilterPattern",
    "FunctionConfig",
    "GroupConfig",
    "KeyAttr",
    "OnFailureConfig",
    "RegionConfig",
    "ReplicationConfig",
    "TableConfig",
    "TriggerConfig",
    "load",
    "parse",
    "parse_address",
    "parse_duration_ms",
    "parse_filter",
    "same_machine",
    "summary",
    "warnings_of",
]
