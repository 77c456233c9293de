"""What every daemon's metrics registry carries besides its own metrics: the process's CPU,
memory and file descriptors (`process_*`, prometheus_client's ProcessCollector, which custom
registries lack), and `meridian_build_info{component,version,python}` (value 1)."""

from __future__ import annotations

import importlib.metadata
import platform

from prometheus_client import CollectorRegistry, Info, ProcessCollector


def version() -> str:
    try:
        return importlib.metadata.version("meridian")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def add_process_metrics(registry: CollectorRegistry, component: str) -> None:
    ProcessCollector(registry=registry)
    build = Info("meridian_build", "Meridian build running this process", registry=registry)
    build.info({"component": component, "version": version(), "python": platform.python_version()})
