"""A trigger's durable checkpoint: one small JSON file, replaced atomically.

``<data_dir>/../triggers/<region>/<trigger>.json`` holds the stream position below which
every record is finished, the stream it belongs to (a recreated table has a new stream id)
and durable counters. It is written to a temporary file, fsynced and renamed over the old
one (then the directory is fsynced), so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
from dataclasses import asdict, dataclass

from meridian.config import RegionConfig

FORMAT = 1
_SAVING = threading.Lock()  # one save at a time per process (a temp file per process)


class CheckpointError(Exception):
    """A checkpoint file that exists but cannot be used."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    trigger: str
    region: str
    table: str
    stream_id: str
    sequence_number: int  # every record up to here is finished
    updated_ms: int
    dead_letters: int = 0  # records given up on, in total
    trimmed: int = 0  # records lost to stream retention before they were read


def directory(region: RegionConfig) -> pathlib.Path:
    return region.data_dir.parent / "triggers" / region.name


def path_for(region: RegionConfig, trigger: str) -> pathlib.Path:
    return directory(region) / f"{trigger}.json"


def load(path: pathlib.Path) -> Checkpoint | None:
    """The saved checkpoint, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
        if data.pop("format", None) != FORMAT:
            raise ValueError(f"unknown format (expected {FORMAT})")
        checkpoint = Checkpoint(**data)
        if not isinstance(checkpoint.sequence_number, int) or checkpoint.sequence_number < 0:
            raise ValueError("sequence_number: expected a non-negative integer")
    except (ValueError, TypeError) as exc:
        raise CheckpointError(
            f"{path}: not a trigger checkpoint ({exc}); move it away to start the trigger from "
            f"its starting_position"
        ) from exc
    return checkpoint


def save(path: pathlib.Path, checkpoint: Checkpoint) -> None:
    """Write atomically and durably: temp file, fsync, rename, fsync the directory."""
    text = json.dumps({"format": FORMAT, **asdict(checkpoint)}, indent=1) + "\n"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with _SAVING:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
