"""The one harness of the tests, the benchmarks and the chaos runs: free ports, group
documents, child processes with deadlines and log tails, deadline-bound waits, and regions
run inside the test process."""

from tests.harness.groups import (
    RegionPorts,
    group_doc,
    load_doc,
    only_regions,
    region_doc,
    write_group,
)
from tests.harness.ports import free_address, free_port, free_ports
from tests.harness.process import Process, daemon_argv, in_namespace, python_argv, stop_all
from tests.harness.waits import NotYet, ProcessFailed, TimedOut, eventually, wait_until

__all__ = [
    "NotYet",
    "Process",
    "ProcessFailed",
    "RegionPorts",
    "TimedOut",
    "daemon_argv",
    "eventually",
    "free_address",
    "free_port",
    "free_ports",
    "group_doc",
    "in_namespace",
    "load_doc",
    "only_regions",
    "python_argv",
    "region_doc",
    "stop_all",
    "wait_until",
    "write_group",
]
