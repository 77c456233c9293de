from meridian.pb import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TableFingerprint(_message.Message):
    __slots__ = ("name", "fingerprint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class HandshakeRequest(_message.Message):
    __slots__ = ("group", "region", "node_id", "tables", "target_region")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    TARGET_REGION_FIELD_NUMBER: _ClassVar[int]
    group: str
    region: str
    node_id: str
    tables: _containers.RepeatedCompositeFieldContainer[TableFingerprint]
    target_region: str
    def __init__(self, group: _Optional[str] = ..., region: _Optional[str] = ..., node_id: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[TableFingerprint, _Mapping]]] = ..., target_region: _Optional[str] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("group", "region", "node_id", "tables")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    group: str
    region: str
    node_id: str
    tables: _containers.RepeatedCompositeFieldContainer[TableFingerprint]
    def __init__(self, group: _Optional[str] = ..., region: _Optional[str] = ..., node_id: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[TableFingerprint, _Mapping]]] = ...) -> None: ...

class TablePosition(_message.Message):
    __slots__ = ("table", "after_sequence_number")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    table: str
    after_sequence_number: int
    def __init__(self, table: _Optional[str] = ..., after_sequence_number: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("hello", "positions", "max_batch", "heartbeat_seconds")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    hello: HandshakeRequest
    positions: _containers.RepeatedCompositeFieldContainer[TablePosition]
    max_batch: int
    heartbeat_seconds: float
    def __init__(self, hello: _Optional[_Union[HandshakeRequest, _Mapping]] = ..., positions: _Optional[_Iterable[_Union[TablePosition, _Mapping]]] = ..., max_batch: _Optional[int] = ..., heartbeat_seconds: _Optional[float] = ...) -> None: ...

class PullBatch(_message.Message):
    __slots__ = ("table", "records", "head_sequence_number", "scanned_through", "sent_ms", "source_node_id", "incarnation")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SCANNED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    SENT_MS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    table: str
    records: _containers.RepeatedScalarFieldContainer[bytes]
    head_sequence_number: int
    scanned_through: int
    sent_ms: int
    source_node_id: str
    incarnation: str
    def __init__(self, table: _Optional[str] = ..., records: _Optional[_Iterable[bytes]] = ..., head_sequence_number: _Optional[int] = ..., scanned_through: _Optional[int] = ..., sent_ms: _Optional[int] = ..., source_node_id: _Optional[str] = ..., incarnation: _Optional[str] = ...) -> None: ...

class SnapshotPullRequest(_message.Message):
    __slots__ = ("hello", "snapshot")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    hello: HandshakeRequest
    snapshot: _node_pb2.SnapshotRequest
    def __init__(self, hello: _Optional[_Union[HandshakeRequest, _Mapping]] = ..., snapshot: _Optional[_Union[_node_pb2.SnapshotRequest, _Mapping]] = ...) -> None: ...

class HoldRequest(_message.Message):
    __slots__ = ("hello", "hold")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hello: HandshakeRequest
    hold: _node_pb2.HoldRetentionRequest
    def __init__(self, hello: _Optional[_Union[HandshakeRequest, _Mapping]] = ..., hold: _Optional[_Union[_node_pb2.HoldRetentionRequest, _Mapping]] = ...) -> None: ...

class ProgressRequest(_message.Message):
    __slots__ = ("hello",)
    HELLO_FIELD_NUMBER: _ClassVar[int]
    hello: HandshakeRequest
    def __init__(self, hello: _Optional[_Union[HandshakeRequest, _Mapping]] = ...) -> None: ...

class ResyncRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: str
    def __init__(self, source: _Optional[str] = ...) -> None: ...

class ResyncProgress(_message.Message):
    __slots__ = ("state", "entries", "entries_estimate", "bytes", "table", "error")
    STATE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    state: str
    entries: int
    entries_estimate: int
    bytes: int
    table: str
    error: str
    def __init__(self, state: _Optional[str] = ..., entries: _Optional[int] = ..., entries_estimate: _Optional[int] = ..., bytes: _Optional[int] = ..., table: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class LinkStatus(_message.Message):
    __slots__ = ("source", "target", "state", "lag_seconds", "lag_records", "applied", "conflicts", "clock_rejected", "error", "reconnects", "lag_history", "excluded_tables")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAG_RECORDS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_REJECTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    LAG_HISTORY_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_TABLES_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    state: str
    lag_seconds: float
    lag_records: int
    applied: int
    conflicts: int
    clock_rejected: int
    error: str
    reconnects: int
    lag_history: _containers.RepeatedScalarFieldContainer[float]
    excluded_tables: _containers.RepeatedCompositeFieldContainer[TableMismatch]
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., state: _Optional[str] = ..., lag_seconds: _Optional[float] = ..., lag_records: _Optional[int] = ..., applied: _Optional[int] = ..., conflicts: _Optional[int] = ..., clock_rejected: _Optional[int] = ..., error: _Optional[str] = ..., reconnects: _Optional[int] = ..., lag_history: _Optional[_Iterable[float]] = ..., excluded_tables: _Optional[_Iterable[_Union[TableMismatch, _Mapping]]] = ...) -> None: ...

class TableMismatch(_message.Message):
    __slots__ = ("table", "reason")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    table: str
    reason: str
    def __init__(self, table: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PeerCatalog(_message.Message):
    __slots__ = ("entries", "tables")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_node_pb2.TableDescription]
    tables: _containers.RepeatedCompositeFieldContainer[TableFingerprint]
    def __init__(self, entries: _Optional[_Iterable[_Union[_node_pb2.TableDescription, _Mapping]]] = ..., tables: _Optional[_Iterable[_Union[TableFingerprint, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("region", "links", "region_state", "bootstrap", "stream_trimmed", "pins", "refused_nodes", "set_aside")
    REGION_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    REGION_STATE_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    STREAM_TRIMMED_FIELD_NUMBER: _ClassVar[int]
    PINS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_NODES_FIELD_NUMBER: _ClassVar[int]
    SET_ASIDE_FIELD_NUMBER: _ClassVar[int]
    region: str
    links: _containers.RepeatedCompositeFieldContainer[LinkStatus]
    region_state: str
    bootstrap: _node_pb2.BootstrapState
    stream_trimmed: bool
    pins: _containers.RepeatedCompositeFieldContainer[_node_pb2.PeerPin]
    refused_nodes: _containers.RepeatedCompositeFieldContainer[RefusedNode]
    set_aside: _containers.RepeatedCompositeFieldContainer[_node_pb2.SetAsideTable]
    def __init__(self, region: _Optional[str] = ..., links: _Optional[_Iterable[_Union[LinkStatus, _Mapping]]] = ..., region_state: _Optional[str] = ..., bootstrap: _Optional[_Union[_node_pb2.BootstrapState, _Mapping]] = ..., stream_trimmed: _Optional[bool] = ..., pins: _Optional[_Iterable[_Union[_node_pb2.PeerPin, _Mapping]]] = ..., refused_nodes: _Optional[_Iterable[_Union[RefusedNode, _Mapping]]] = ..., set_aside: _Optional[_Iterable[_Union[_node_pb2.SetAsideTable, _Mapping]]] = ...) -> None: ...

class RefusedNode(_message.Message):
    __slots__ = ("peer", "node_id", "pinned_node_id", "refusals", "last_ms")
    PEER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PINNED_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    LAST_MS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    node_id: str
    pinned_node_id: str
    refusals: int
    last_ms: int
    def __init__(self, peer: _Optional[str] = ..., node_id: _Optional[str] = ..., pinned_node_id: _Optional[str] = ..., refusals: _Optional[int] = ..., last_ms: _Optional[int] = ...) -> None: ...

class AcceptNodeRequest(_message.Message):
    __slots__ = ("peer", "node_id")
    PEER_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    peer: str
    node_id: str
    def __init__(self, peer: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class AcceptNodeResponse(_message.Message):
    __slots__ = ("peer", "previous_node_id", "node_id", "changed")
    PEER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    peer: str
    previous_node_id: str
    node_id: str
    changed: bool
    def __init__(self, peer: _Optional[str] = ..., previous_node_id: _Optional[str] = ..., node_id: _Optional[str] = ..., changed: _Optional[bool] = ...) -> None: ...
