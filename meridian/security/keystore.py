"""The access keys of a credentials file, followed as the file changes.

The file is YAML (`access.to_document`): `credentials: [{access_key_id, secret_access_key,
permission, tables}]`. A server re-reads it when it changed, at most once per `recheck_s`,
so a key added or removed takes effect within a second or so without a restart. A file
that no longer parses is logged and the keys in use are kept: a typo must not lock everyone
out or let anyone in.
"""

from __future__ import annotations

import logging
import pathlib
import threading
import time
from collections.abc import Callable, Mapping

import yaml

from meridian.security.access import AccessKey, CredentialsError, parse_document, to_document
from meridian.security.certs import write_atomic
from meridian.security.tls import Stamp, stamp

log = logging.getLogger(__name__)


def read_keys(path: pathlib.Path) -> dict[str, AccessKey]:
    """Keys by id; CredentialsError (the path in the message) or OSError."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CredentialsError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_document(data)
    except CredentialsError as exc:
        raise CredentialsError(f"{path}: {exc}") from exc


def write_keys(path: pathlib.Path, keys: Mapping[str, AccessKey]) -> None:
    """Write a credentials file (mode 0600, replaced atomically)."""
    text = yaml.safe_dump(to_document(keys.values()), sort_keys=False)
    write_atomic(path, text.encode(), 0o600, force=True)


class KeyStore:
    def __init__(
        self,
        path: pathlib.Path,
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: Stamp = stamp((path,))  # OSError when missing: a startup problem
        self._keys = read_keys(path)
        self._checked = clock()

    def key_of(self, key_id: str) -> AccessKey | None:
        with self._lock:
            if self._clock() - self._checked >= self._recheck_s:
                self._reload_if_changed()
            return self._keys.get(key_id)

    def _reload_if_changed(self) -> None:
        self._checked = self._clock()
        try:
            current = stamp((self.path,))
        except OSError as exc:
            log.warning("credentials file not used, keeping the keys in use: %s", exc)
            return
        if current == self._stamp:
            return
        self._stamp = current  # a bad file is reported once, until it changes again
        try:
            self._keys = read_keys(self.path)
        except (OSError, CredentialsError) as exc:
            log.warning("credentials file not used, keeping the keys in use: %s", exc)
            return
        log.info("credentials reloaded from %s: %d keys", self.path, len(self._keys))
