"""Every trigger's state, checkpoint, counters and dead letters in one region: what
`meridian triggers status` prints and the replicator's status page shows.

Per trigger: the saved checkpoint (file), how many stream records lie beyond it (the
node's stream head minus the checkpoint, filtered records included), and from the region's
trigger runner metrics: iterator age, invocations, errors and records processed since the
runner started. The dead-letter count comes from the checkpoint file (a total over every
run). The caller reads the stream heads, each over the door it may use.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from meridian.config import GroupConfig, RegionConfig
from meridian.daemon import trigger_checkpoint as checkpoint
from meridian.daemon.metrics_fetch import fetch_metrics
from meridian.model.render import time_text

Samples = dict[str, dict[str, float]]  # trigger -> metric (":outcome" appended) -> value


def scrape(config: GroupConfig, region: RegionConfig, timeout: float) -> Samples | None:
    """Metric samples of a region's trigger runner by trigger name; None when it does not
    answer."""
    assert region.trigger_metrics_listen is not None
    try:
        text = fetch_metrics(config, region, region.trigger_metrics_listen, timeout)
    except (OSError, ValueError):
        return None
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            trigger = sample.labels.get("trigger")
            if trigger is None:
                continue
            name = sample.name
            if sample.labels.get("outcome"):
                name = f"{name}:{sample.labels['outcome']}"
            out.setdefault(trigger, {})[name] = float(sample.value)
    return out


def tables_of(config: GroupConfig, region: RegionConfig) -> set[str]:
    """The tables whose stream heads `rows` needs."""
    return {t.table for t in config.triggers_of(region.name)}


def rows(
    config: GroupConfig, region: RegionConfig, samples: Samples | None, heads: dict[str, int]
) -> list[dict[str, Any]]:
    """One row per trigger of the region: `samples` from `scrape` (None: the runner did not
    answer), `heads` the stream head of each table (a missing table: unknown)."""
    out = []
    for trigger in config.triggers_of(region.name):
        try:
            saved = checkpoint.load(checkpoint.path_for(region, trigger.name))
            problem = ""
        except checkpoint.CheckpointError as exc:
            saved, problem = None, str(exc)
        metrics = (samples or {}).get(trigger.name, {})
        if not trigger.enabled:
            state = "DISABLED"
        elif samples is None:
            state = "NOT_RUNNING"
        elif metrics.get("meridian_trigger_enabled", 0) == 1:
            state = "RUNNING"
        else:
            state = "STARTING"
        position = saved.sequence_number if saved else None
        head = heads.get(trigger.table)
        out.append(
            {
                "region": region.name,
                "trigger": trigger.name,
                "table": trigger.table,
                "state": state,
                "checkpoint": position,
                "checkpoint_time": time_text(saved.updated_ms) if saved else None,
                "behind": None if head is None or position is None else max(0, head - position),
                "iterator_age_seconds": metrics.get("meridian_trigger_iterator_age_seconds"),
                "invocations": _int(metrics.get("meridian_trigger_invocations_total")),
                "errors": _int(metrics.get("meridian_trigger_errors_total")),
                "records": _int(metrics.get("meridian_trigger_records_total:processed")),
                "dead_letters": saved.dead_letters if saved else None,
                "trimmed": saved.trimmed if saved else None,
                "metrics": str(region.trigger_metrics_listen),
                "error": problem,
            }
        )
    return out


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
