from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_TYPE_UNSPECIFIED: _ClassVar[KeyType]
    KEY_TYPE_S: _ClassVar[KeyType]
    KEY_TYPE_N: _ClassVar[KeyType]
    KEY_TYPE_B: _ClassVar[KeyType]

class StreamViewType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_VIEW_TYPE_UNSPECIFIED: _ClassVar[StreamViewType]
    KEYS_ONLY: _ClassVar[StreamViewType]
    NEW_IMAGE: _ClassVar[StreamViewType]
    OLD_IMAGE: _ClassVar[StreamViewType]
    NEW_AND_OLD_IMAGES: _ClassVar[StreamViewType]

class MergeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MERGE_MODE_ITEM: _ClassVar[MergeMode]
    MERGE_MODE_ATTRIBUTE: _ClassVar[MergeMode]

class TableState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TABLE_STATE_ACTIVE: _ClassVar[TableState]
    TABLE_STATE_DELETED: _ClassVar[TableState]

class ReturnValues(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETURN_VALUES_NONE: _ClassVar[ReturnValues]
    ALL_OLD: _ClassVar[ReturnValues]
    ALL_NEW: _ClassVar[ReturnValues]
    UPDATED_OLD: _ClassVar[ReturnValues]
    UPDATED_NEW: _ClassVar[ReturnValues]

class ReturnOnConditionFailure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETURN_ON_CONDITION_FAILURE_NONE: _ClassVar[ReturnOnConditionFailure]
    RETURN_ON_CONDITION_FAILURE_ALL_OLD: _ClassVar[ReturnOnConditionFailure]

class Select(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SELECT_UNSPECIFIED: _ClassVar[Select]
    ALL_ATTRIBUTES: _ClassVar[Select]
    SPECIFIC_ATTRIBUTES: _ClassVar[Select]
    COUNT: _ClassVar[Select]

class EventName(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_NAME_UNSPECIFIED: _ClassVar[EventName]
    INSERT: _ClassVar[EventName]
    MODIFY: _ClassVar[EventName]
    REMOVE: _ClassVar[EventName]

class IteratorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITERATOR_TYPE_UNSPECIFIED: _ClassVar[IteratorType]
    TRIM_HORIZON: _ClassVar[IteratorType]
    LATEST: _ClassVar[IteratorType]
    AT_SEQUENCE_NUMBER: _ClassVar[IteratorType]
    AFTER_SEQUENCE_NUMBER: _ClassVar[IteratorType]
KEY_TYPE_UNSPECIFIED: KeyType
KEY_TYPE_S: KeyType
KEY_TYPE_N: KeyType
KEY_TYPE_B: KeyType
STREAM_VIEW_TYPE_UNSPECIFIED: StreamViewType
KEYS_ONLY: StreamViewType
NEW_IMAGE: StreamViewType
OLD_IMAGE: StreamViewType
NEW_AND_OLD_IMAGES: StreamViewType
MERGE_MODE_ITEM: MergeMode
MERGE_MODE_ATTRIBUTE: MergeMode
TABLE_STATE_ACTIVE: TableState
TABLE_STATE_DELETED: TableState
RETURN_VALUES_NONE: ReturnValues
ALL_OLD: ReturnValues
ALL_NEW: ReturnValues
UPDATED_OLD: ReturnValues
UPDATED_NEW: ReturnValues
RETURN_ON_CONDITION_FAILURE_NONE: ReturnOnConditionFailure
RETURN_ON_CONDITION_FAILURE_ALL_OLD: ReturnOnConditionFailure
SELECT_UNSPECIFIED: Select
ALL_ATTRIBUTES: Select
SPECIFIC_ATTRIBUTES: Select
COUNT: Select
EVENT_NAME_UNSPECIFIED: EventName
INSERT: EventName
MODIFY: EventName
REMOVE: EventName
ITERATOR_TYPE_UNSPECIFIED: IteratorType
TRIM_HORIZON: IteratorType
LATEST: IteratorType
AT_SEQUENCE_NUMBER: IteratorType
AFTER_SEQUENCE_NUMBER: IteratorType

class AttributeValue(_message.Message):
    __slots__ = ("s", "n", "b", "bool", "null", "l", "m", "ss", "ns", "bs")
    S_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    BOOL_FIELD_NUMBER: _ClassVar[int]
    NULL_FIELD_NUMBER: _ClassVar[int]
    L_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    SS_FIELD_NUMBER: _ClassVar[int]
    NS_FIELD_NUMBER: _ClassVar[int]
    BS_FIELD_NUMBER: _ClassVar[int]
    s: str
    n: str
    b: bytes
    bool: bool
    null: bool
    l: ListValue
    m: MapValue
    ss: StringSet
    ns: StringSet
    bs: BinarySet
    def __init__(self, s: _Optional[str] = ..., n: _Optional[str] = ..., b: _Optional[bytes] = ..., bool: _Optional[bool] = ..., null: _Optional[bool] = ..., l: _Optional[_Union[ListValue, _Mapping]] = ..., m: _Optional[_Union[MapValue, _Mapping]] = ..., ss: _Optional[_Union[StringSet, _Mapping]] = ..., ns: _Optional[_Union[StringSet, _Mapping]] = ..., bs: _Optional[_Union[BinarySet, _Mapping]] = ...) -> None: ...

class ListValue(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[AttributeValue]
    def __init__(self, values: _Optional[_Iterable[_Union[AttributeValue, _Mapping]]] = ...) -> None: ...

class MapValue(_message.Message):
    __slots__ = ("fields",)
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.MessageMap[str, AttributeValue]
    def __init__(self, fields: _Optional[_Mapping[str, AttributeValue]] = ...) -> None: ...

class StringSet(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class BinarySet(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("attributes",)
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    attributes: _containers.MessageMap[str, AttributeValue]
    def __init__(self, attributes: _Optional[_Mapping[str, AttributeValue]] = ...) -> None: ...

class Version(_message.Message):
    __slots__ = ("hlc", "region")
    HLC_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    hlc: int
    region: str
    def __init__(self, hlc: _Optional[int] = ..., region: _Optional[str] = ...) -> None: ...

class StoredItem(_message.Message):
    __slots__ = ("version", "tombstone", "item", "written_ms", "attributes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_MS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    version: Version
    tombstone: bool
    item: Item
    written_ms: int
    attributes: AttributeState
    def __init__(self, version: _Optional[_Union[Version, _Mapping]] = ..., tombstone: _Optional[bool] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., written_ms: _Optional[int] = ..., attributes: _Optional[_Union[AttributeState, _Mapping]] = ...) -> None: ...

class StoredItemBytes(_message.Message):
    __slots__ = ("version", "tombstone", "item", "written_ms", "attributes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_MS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    version: Version
    tombstone: bool
    item: bytes
    written_ms: int
    attributes: AttributeState
    def __init__(self, version: _Optional[_Union[Version, _Mapping]] = ..., tombstone: _Optional[bool] = ..., item: _Optional[bytes] = ..., written_ms: _Optional[int] = ..., attributes: _Optional[_Union[AttributeState, _Mapping]] = ...) -> None: ...

class AttributeState(_message.Message):
    __slots__ = ("clock", "removed", "deleted")
    class ClockEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Version
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...
    class RemovedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Version
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    clock: _containers.MessageMap[str, Version]
    removed: _containers.MessageMap[str, Version]
    deleted: Version
    def __init__(self, clock: _Optional[_Mapping[str, Version]] = ..., removed: _Optional[_Mapping[str, Version]] = ..., deleted: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class KeyAttribute(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: KeyType
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[KeyType, str]] = ...) -> None: ...

class TableSpec(_message.Message):
    __slots__ = ("name", "partition_key", "sort_key", "view_type", "retention_seconds", "ttl_attribute", "ttl_hide_expired", "merge")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    SORT_KEY_FIELD_NUMBER: _ClassVar[int]
    VIEW_TYPE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TTL_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    TTL_HIDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    MERGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    view_type: StreamViewType
    retention_seconds: int
    ttl_attribute: str
    ttl_hide_expired: bool
    merge: MergeMode
    def __init__(self, name: _Optional[str] = ..., partition_key: _Optional[_Union[KeyAttribute, _Mapping]] = ..., sort_key: _Optional[_Union[KeyAttribute, _Mapping]] = ..., view_type: _Optional[_Union[StreamViewType, str]] = ..., retention_seconds: _Optional[int] = ..., ttl_attribute: _Optional[str] = ..., ttl_hide_expired: _Optional[bool] = ..., merge: _Optional[_Union[MergeMode, str]] = ...) -> None: ...

class TableDescription(_message.Message):
    __slots__ = ("spec", "approximate_item_count", "stream_id", "created_ms", "schema_fingerprint", "state", "version", "created", "generation", "tags", "stream_disabled")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SPEC_FIELD_NUMBER: _ClassVar[int]
    APPROXIMATE_ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STREAM_DISABLED_FIELD_NUMBER: _ClassVar[int]
    spec: TableSpec
    approximate_item_count: int
    stream_id: str
    created_ms: int
    schema_fingerprint: str
    state: TableState
    version: Version
    created: Version
    generation: int
    tags: _containers.ScalarMap[str, str]
    stream_disabled: bool
    def __init__(self, spec: _Optional[_Union[TableSpec, _Mapping]] = ..., approximate_item_count: _Optional[int] = ..., stream_id: _Optional[str] = ..., created_ms: _Optional[int] = ..., schema_fingerprint: _Optional[str] = ..., state: _Optional[_Union[TableState, str]] = ..., version: _Optional[_Union[Version, _Mapping]] = ..., created: _Optional[_Union[Version, _Mapping]] = ..., generation: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ..., stream_disabled: _Optional[bool] = ...) -> None: ...

class CatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Catalog(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[TableDescription]
    def __init__(self, entries: _Optional[_Iterable[_Union[TableDescription, _Mapping]]] = ...) -> None: ...

class MergeCatalogRequest(_message.Message):
    __slots__ = ("source", "entries")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    source: str
    entries: _containers.RepeatedCompositeFieldContainer[TableDescription]
    def __init__(self, source: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[TableDescription, _Mapping]]] = ...) -> None: ...

class MergeCatalogResponse(_message.Message):
    __slots__ = ("changed",)
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    changed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, changed: _Optional[_Iterable[str]] = ...) -> None: ...

class SetAsideTable(_message.Message):
    __slots__ = ("table", "kept_as", "reason", "at_ms")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEPT_AS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    table: str
    kept_as: str
    reason: str
    at_ms: int
    def __init__(self, table: _Optional[str] = ..., kept_as: _Optional[str] = ..., reason: _Optional[str] = ..., at_ms: _Optional[int] = ...) -> None: ...

class CreateTableRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: TableSpec
    def __init__(self, spec: _Optional[_Union[TableSpec, _Mapping]] = ...) -> None: ...

class CreateTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: TableDescription
    def __init__(self, table: _Optional[_Union[TableDescription, _Mapping]] = ...) -> None: ...

class DescribeTableRequest(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class DescribeTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: TableDescription
    def __init__(self, table: _Optional[_Union[TableDescription, _Mapping]] = ...) -> None: ...

class ListTablesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tables: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteTableRequest(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class DeleteTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: TableDescription
    def __init__(self, table: _Optional[_Union[TableDescription, _Mapping]] = ...) -> None: ...

class WriteResult(_message.Message):
    __slots__ = ("version", "attributes", "changed")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    version: Version
    attributes: Item
    changed: bool
    def __init__(self, version: _Optional[_Union[Version, _Mapping]] = ..., attributes: _Optional[_Union[Item, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class ConditionCheckFailure(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: Item
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class PutItemRequest(_message.Message):
    __slots__ = ("table", "item", "condition_expression", "expression_attribute_names", "expression_attribute_values", "return_values", "return_values_on_condition_check_failure", "expected_version")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CONDITION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_ON_CONDITION_CHECK_FAILURE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    item: Item
    condition_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    return_values: ReturnValues
    return_values_on_condition_check_failure: ReturnOnConditionFailure
    expected_version: Version
    def __init__(self, table: _Optional[str] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., condition_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., return_values: _Optional[_Union[ReturnValues, str]] = ..., return_values_on_condition_check_failure: _Optional[_Union[ReturnOnConditionFailure, str]] = ..., expected_version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class DeleteItemRequest(_message.Message):
    __slots__ = ("table", "key", "condition_expression", "expression_attribute_names", "expression_attribute_values", "return_values", "return_values_on_condition_check_failure", "expected_version")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_ON_CONDITION_CHECK_FAILURE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    key: Item
    condition_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    return_values: ReturnValues
    return_values_on_condition_check_failure: ReturnOnConditionFailure
    expected_version: Version
    def __init__(self, table: _Optional[str] = ..., key: _Optional[_Union[Item, _Mapping]] = ..., condition_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., return_values: _Optional[_Union[ReturnValues, str]] = ..., return_values_on_condition_check_failure: _Optional[_Union[ReturnOnConditionFailure, str]] = ..., expected_version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class UpdateItemRequest(_message.Message):
    __slots__ = ("table", "key", "update_expression", "condition_expression", "expression_attribute_names", "expression_attribute_values", "return_values", "return_values_on_condition_check_failure", "expected_version")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    CONDITION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_ON_CONDITION_CHECK_FAILURE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    key: Item
    update_expression: str
    condition_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    return_values: ReturnValues
    return_values_on_condition_check_failure: ReturnOnConditionFailure
    expected_version: Version
    def __init__(self, table: _Optional[str] = ..., key: _Optional[_Union[Item, _Mapping]] = ..., update_expression: _Optional[str] = ..., condition_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., return_values: _Optional[_Union[ReturnValues, str]] = ..., return_values_on_condition_check_failure: _Optional[_Union[ReturnOnConditionFailure, str]] = ..., expected_version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("table", "key", "projection_expression", "expression_attribute_names")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    table: str
    key: Item
    projection_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    def __init__(self, table: _Optional[str] = ..., key: _Optional[_Union[Item, _Mapping]] = ..., projection_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("found", "item", "version")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    found: bool
    item: Item
    version: Version
    def __init__(self, found: _Optional[bool] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("put", "delete_key")
    PUT_FIELD_NUMBER: _ClassVar[int]
    DELETE_KEY_FIELD_NUMBER: _ClassVar[int]
    put: Item
    delete_key: Item
    def __init__(self, put: _Optional[_Union[Item, _Mapping]] = ..., delete_key: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class BatchWriteItemRequest(_message.Message):
    __slots__ = ("table", "writes")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    table: str
    writes: _containers.RepeatedCompositeFieldContainer[WriteRequest]
    def __init__(self, table: _Optional[str] = ..., writes: _Optional[_Iterable[_Union[WriteRequest, _Mapping]]] = ...) -> None: ...

class BatchWriteItemResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[Version]
    def __init__(self, versions: _Optional[_Iterable[_Union[Version, _Mapping]]] = ...) -> None: ...

class BatchGetItemRequest(_message.Message):
    __slots__ = ("table", "keys", "projection_expression", "expression_attribute_names")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    table: str
    keys: _containers.RepeatedCompositeFieldContainer[Item]
    projection_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    def __init__(self, table: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., projection_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BatchGetItemResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("table", "key_condition_expression", "filter_expression", "projection_expression", "expression_attribute_names", "expression_attribute_values", "limit", "exclusive_start_key", "scan_index_forward", "select")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_CONDITION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_START_KEY_FIELD_NUMBER: _ClassVar[int]
    SCAN_INDEX_FORWARD_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    table: str
    key_condition_expression: str
    filter_expression: str
    projection_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    limit: int
    exclusive_start_key: Item
    scan_index_forward: bool
    select: Select
    def __init__(self, table: _Optional[str] = ..., key_condition_expression: _Optional[str] = ..., filter_expression: _Optional[str] = ..., projection_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., limit: _Optional[int] = ..., exclusive_start_key: _Optional[_Union[Item, _Mapping]] = ..., scan_index_forward: _Optional[bool] = ..., select: _Optional[_Union[Select, str]] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("items", "last_evaluated_key", "count", "scanned_count")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATED_KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SCANNED_COUNT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    last_evaluated_key: Item
    count: int
    scanned_count: int
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., last_evaluated_key: _Optional[_Union[Item, _Mapping]] = ..., count: _Optional[int] = ..., scanned_count: _Optional[int] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("table", "filter_expression", "projection_expression", "expression_attribute_names", "expression_attribute_values", "limit", "exclusive_start_key", "segment", "total_segments", "select")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_START_KEY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    table: str
    filter_expression: str
    projection_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    limit: int
    exclusive_start_key: Item
    segment: int
    total_segments: int
    select: Select
    def __init__(self, table: _Optional[str] = ..., filter_expression: _Optional[str] = ..., projection_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., limit: _Optional[int] = ..., exclusive_start_key: _Optional[_Union[Item, _Mapping]] = ..., segment: _Optional[int] = ..., total_segments: _Optional[int] = ..., select: _Optional[_Union[Select, str]] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("items", "last_evaluated_key", "count", "scanned_count")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATED_KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SCANNED_COUNT_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    last_evaluated_key: Item
    count: int
    scanned_count: int
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., last_evaluated_key: _Optional[_Union[Item, _Mapping]] = ..., count: _Optional[int] = ..., scanned_count: _Optional[int] = ...) -> None: ...

class ConditionCheck(_message.Message):
    __slots__ = ("table", "key", "condition_expression", "expression_attribute_names", "expression_attribute_values", "return_values_on_condition_check_failure", "expected_version")
    class ExpressionAttributeNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpressionAttributeValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONDITION_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_ATTRIBUTE_VALUES_FIELD_NUMBER: _ClassVar[int]
    RETURN_VALUES_ON_CONDITION_CHECK_FAILURE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    table: str
    key: Item
    condition_expression: str
    expression_attribute_names: _containers.ScalarMap[str, str]
    expression_attribute_values: _containers.MessageMap[str, AttributeValue]
    return_values_on_condition_check_failure: ReturnOnConditionFailure
    expected_version: Version
    def __init__(self, table: _Optional[str] = ..., key: _Optional[_Union[Item, _Mapping]] = ..., condition_expression: _Optional[str] = ..., expression_attribute_names: _Optional[_Mapping[str, str]] = ..., expression_attribute_values: _Optional[_Mapping[str, AttributeValue]] = ..., return_values_on_condition_check_failure: _Optional[_Union[ReturnOnConditionFailure, str]] = ..., expected_version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class TransactWriteItem(_message.Message):
    __slots__ = ("condition_check", "put", "delete", "update")
    CONDITION_CHECK_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    condition_check: ConditionCheck
    put: PutItemRequest
    delete: DeleteItemRequest
    update: UpdateItemRequest
    def __init__(self, condition_check: _Optional[_Union[ConditionCheck, _Mapping]] = ..., put: _Optional[_Union[PutItemRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteItemRequest, _Mapping]] = ..., update: _Optional[_Union[UpdateItemRequest, _Mapping]] = ...) -> None: ...

class TransactWriteItemsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[TransactWriteItem]
    def __init__(self, items: _Optional[_Iterable[_Union[TransactWriteItem, _Mapping]]] = ...) -> None: ...

class TransactWriteItemsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[WriteResult]
    def __init__(self, results: _Optional[_Iterable[_Union[WriteResult, _Mapping]]] = ...) -> None: ...

class CancellationReason(_message.Message):
    __slots__ = ("code", "message", "item")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    item: Item
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class TransactionCancellation(_message.Message):
    __slots__ = ("reasons",)
    REASONS_FIELD_NUMBER: _ClassVar[int]
    reasons: _containers.RepeatedCompositeFieldContainer[CancellationReason]
    def __init__(self, reasons: _Optional[_Iterable[_Union[CancellationReason, _Mapping]]] = ...) -> None: ...

class TransactGetItemsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[GetItemRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[GetItemRequest, _Mapping]]] = ...) -> None: ...

class TransactGetItemsResponse(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[GetItemResponse]
    def __init__(self, responses: _Optional[_Iterable[_Union[GetItemResponse, _Mapping]]] = ...) -> None: ...

class StreamRecord(_message.Message):
    __slots__ = ("event_id", "event_name", "sequence_number", "creation_time_ms", "keys", "new_image", "old_image", "size_bytes", "version", "table", "view_type", "user_identity", "attributes")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEW_IMAGE_FIELD_NUMBER: _ClassVar[int]
    OLD_IMAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    VIEW_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_name: EventName
    sequence_number: int
    creation_time_ms: int
    keys: Item
    new_image: Item
    old_image: Item
    size_bytes: int
    version: Version
    table: str
    view_type: StreamViewType
    user_identity: UserIdentity
    attributes: AttributeState
    def __init__(self, event_id: _Optional[str] = ..., event_name: _Optional[_Union[EventName, str]] = ..., sequence_number: _Optional[int] = ..., creation_time_ms: _Optional[int] = ..., keys: _Optional[_Union[Item, _Mapping]] = ..., new_image: _Optional[_Union[Item, _Mapping]] = ..., old_image: _Optional[_Union[Item, _Mapping]] = ..., size_bytes: _Optional[int] = ..., version: _Optional[_Union[Version, _Mapping]] = ..., table: _Optional[str] = ..., view_type: _Optional[_Union[StreamViewType, str]] = ..., user_identity: _Optional[_Union[UserIdentity, _Mapping]] = ..., attributes: _Optional[_Union[AttributeState, _Mapping]] = ...) -> None: ...

class StreamRecordHead(_message.Message):
    __slots__ = ("sequence_number", "creation_time_ms", "version")
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    sequence_number: int
    creation_time_ms: int
    version: Version
    def __init__(self, sequence_number: _Optional[int] = ..., creation_time_ms: _Optional[int] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class UserIdentity(_message.Message):
    __slots__ = ("type", "principal_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    principal_id: str
    def __init__(self, type: _Optional[str] = ..., principal_id: _Optional[str] = ...) -> None: ...

class Shard(_message.Message):
    __slots__ = ("shard_id", "starting_sequence_number", "ending_sequence_number")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    STARTING_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ENDING_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    starting_sequence_number: int
    ending_sequence_number: int
    def __init__(self, shard_id: _Optional[str] = ..., starting_sequence_number: _Optional[int] = ..., ending_sequence_number: _Optional[int] = ...) -> None: ...

class DescribeStreamRequest(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class DescribeStreamResponse(_message.Message):
    __slots__ = ("stream_id", "view_type", "shards", "head_sequence_number", "trim_sequence_number")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRIM_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    view_type: StreamViewType
    shards: _containers.RepeatedCompositeFieldContainer[Shard]
    head_sequence_number: int
    trim_sequence_number: int
    def __init__(self, stream_id: _Optional[str] = ..., view_type: _Optional[_Union[StreamViewType, str]] = ..., shards: _Optional[_Iterable[_Union[Shard, _Mapping]]] = ..., head_sequence_number: _Optional[int] = ..., trim_sequence_number: _Optional[int] = ...) -> None: ...

class GetShardIteratorRequest(_message.Message):
    __slots__ = ("table", "shard_id", "type", "sequence_number")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    table: str
    shard_id: str
    type: IteratorType
    sequence_number: int
    def __init__(self, table: _Optional[str] = ..., shard_id: _Optional[str] = ..., type: _Optional[_Union[IteratorType, str]] = ..., sequence_number: _Optional[int] = ...) -> None: ...

class GetShardIteratorResponse(_message.Message):
    __slots__ = ("shard_iterator",)
    SHARD_ITERATOR_FIELD_NUMBER: _ClassVar[int]
    shard_iterator: str
    def __init__(self, shard_iterator: _Optional[str] = ...) -> None: ...

class GetRecordsRequest(_message.Message):
    __slots__ = ("shard_iterator", "limit")
    SHARD_ITERATOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    shard_iterator: str
    limit: int
    def __init__(self, shard_iterator: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class GetRecordsResponse(_message.Message):
    __slots__ = ("records", "next_shard_iterator")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_SHARD_ITERATOR_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[StreamRecord]
    next_shard_iterator: str
    def __init__(self, records: _Optional[_Iterable[_Union[StreamRecord, _Mapping]]] = ..., next_shard_iterator: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("table", "after_sequence_number", "origin", "max_batch", "stored")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    table: str
    after_sequence_number: int
    origin: str
    max_batch: int
    stored: bool
    def __init__(self, table: _Optional[str] = ..., after_sequence_number: _Optional[int] = ..., origin: _Optional[str] = ..., max_batch: _Optional[int] = ..., stored: _Optional[bool] = ...) -> None: ...

class SubscribeBatch(_message.Message):
    __slots__ = ("records", "head_sequence_number", "scanned_through", "stored")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SCANNED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[StreamRecord]
    head_sequence_number: int
    scanned_through: int
    stored: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, records: _Optional[_Iterable[_Union[StreamRecord, _Mapping]]] = ..., head_sequence_number: _Optional[int] = ..., scanned_through: _Optional[int] = ..., stored: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ApplyReplicatedRequest(_message.Message):
    __slots__ = ("origin", "table", "records", "source_sequence", "origin_node_id", "complete_through_ms", "incarnation", "after_checkpoint")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_THROUGH_MS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    AFTER_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    table: str
    records: _containers.RepeatedCompositeFieldContainer[StreamRecord]
    source_sequence: int
    origin_node_id: str
    complete_through_ms: int
    incarnation: str
    after_checkpoint: int
    def __init__(self, origin: _Optional[str] = ..., table: _Optional[str] = ..., records: _Optional[_Iterable[_Union[StreamRecord, _Mapping]]] = ..., source_sequence: _Optional[int] = ..., origin_node_id: _Optional[str] = ..., complete_through_ms: _Optional[int] = ..., incarnation: _Optional[str] = ..., after_checkpoint: _Optional[int] = ...) -> None: ...

class ApplyReplicatedRelay(_message.Message):
    __slots__ = ("origin", "table", "records", "source_sequence", "origin_node_id", "complete_through_ms", "incarnation", "after_checkpoint")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_THROUGH_MS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    AFTER_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    table: str
    records: _containers.RepeatedScalarFieldContainer[bytes]
    source_sequence: int
    origin_node_id: str
    complete_through_ms: int
    incarnation: str
    after_checkpoint: int
    def __init__(self, origin: _Optional[str] = ..., table: _Optional[str] = ..., records: _Optional[_Iterable[bytes]] = ..., source_sequence: _Optional[int] = ..., origin_node_id: _Optional[str] = ..., complete_through_ms: _Optional[int] = ..., incarnation: _Optional[str] = ..., after_checkpoint: _Optional[int] = ...) -> None: ...

class ApplyReplicatedBatch(_message.Message):
    __slots__ = ("origin", "table", "records", "source_sequence", "origin_node_id", "complete_through_ms", "incarnation", "after_checkpoint")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_THROUGH_MS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    AFTER_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    table: str
    records: _containers.RepeatedScalarFieldContainer[bytes]
    source_sequence: int
    origin_node_id: str
    complete_through_ms: int
    incarnation: str
    after_checkpoint: int
    def __init__(self, origin: _Optional[str] = ..., table: _Optional[str] = ..., records: _Optional[_Iterable[bytes]] = ..., source_sequence: _Optional[int] = ..., origin_node_id: _Optional[str] = ..., complete_through_ms: _Optional[int] = ..., incarnation: _Optional[str] = ..., after_checkpoint: _Optional[int] = ...) -> None: ...

class ReplicatedRecord(_message.Message):
    __slots__ = ("event_id", "event_name", "sequence_number", "creation_time_ms", "keys", "new_image", "old_image", "size_bytes", "version", "table", "view_type", "user_identity", "attributes")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEW_IMAGE_FIELD_NUMBER: _ClassVar[int]
    OLD_IMAGE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    VIEW_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_name: EventName
    sequence_number: int
    creation_time_ms: int
    keys: Item
    new_image: bytes
    old_image: bytes
    size_bytes: int
    version: Version
    table: str
    view_type: StreamViewType
    user_identity: UserIdentity
    attributes: AttributeState
    def __init__(self, event_id: _Optional[str] = ..., event_name: _Optional[_Union[EventName, str]] = ..., sequence_number: _Optional[int] = ..., creation_time_ms: _Optional[int] = ..., keys: _Optional[_Union[Item, _Mapping]] = ..., new_image: _Optional[bytes] = ..., old_image: _Optional[bytes] = ..., size_bytes: _Optional[int] = ..., version: _Optional[_Union[Version, _Mapping]] = ..., table: _Optional[str] = ..., view_type: _Optional[_Union[StreamViewType, str]] = ..., user_identity: _Optional[_Union[UserIdentity, _Mapping]] = ..., attributes: _Optional[_Union[AttributeState, _Mapping]] = ...) -> None: ...

class ApplyReplicatedResponse(_message.Message):
    __slots__ = ("applied", "lost_to_newer", "duplicate", "stale_sequence", "clock_rejected", "checkpoint", "max_latency_ms", "skipped")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    LOST_TO_NEWER_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    STALE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CLOCK_REJECTED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    applied: int
    lost_to_newer: int
    duplicate: int
    stale_sequence: int
    clock_rejected: int
    checkpoint: int
    max_latency_ms: int
    skipped: bool
    def __init__(self, applied: _Optional[int] = ..., lost_to_newer: _Optional[int] = ..., duplicate: _Optional[int] = ..., stale_sequence: _Optional[int] = ..., clock_rejected: _Optional[int] = ..., checkpoint: _Optional[int] = ..., max_latency_ms: _Optional[int] = ..., skipped: _Optional[bool] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("origin", "table", "sequence_number", "updated_ms", "origin_node_id", "complete_through_ms")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_THROUGH_MS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    table: str
    sequence_number: int
    updated_ms: int
    origin_node_id: str
    complete_through_ms: int
    def __init__(self, origin: _Optional[str] = ..., table: _Optional[str] = ..., sequence_number: _Optional[int] = ..., updated_ms: _Optional[int] = ..., origin_node_id: _Optional[str] = ..., complete_through_ms: _Optional[int] = ...) -> None: ...

class GetCheckpointsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints", "horizons")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    horizons: _containers.RepeatedCompositeFieldContainer[RebuildHorizon]
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., horizons: _Optional[_Iterable[_Union[RebuildHorizon, _Mapping]]] = ...) -> None: ...

class RebuildHorizon(_message.Message):
    __slots__ = ("peer", "horizon_ms", "tombstones", "updated_ms")
    PEER_FIELD_NUMBER: _ClassVar[int]
    HORIZON_MS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    horizon_ms: int
    tombstones: int
    updated_ms: int
    def __init__(self, peer: _Optional[str] = ..., horizon_ms: _Optional[int] = ..., tombstones: _Optional[int] = ..., updated_ms: _Optional[int] = ...) -> None: ...

class PeerProgress(_message.Message):
    __slots__ = ("region", "node_id", "checkpoints", "horizons", "received_ms")
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_MS_FIELD_NUMBER: _ClassVar[int]
    region: str
    node_id: str
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    horizons: _containers.RepeatedCompositeFieldContainer[RebuildHorizon]
    received_ms: int
    def __init__(self, region: _Optional[str] = ..., node_id: _Optional[str] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., horizons: _Optional[_Iterable[_Union[RebuildHorizon, _Mapping]]] = ..., received_ms: _Optional[int] = ...) -> None: ...

class RecordPeerProgressResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("table", "exclusive_start_key", "batch_items", "stored_bytes")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_START_KEY_FIELD_NUMBER: _ClassVar[int]
    BATCH_ITEMS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    table: str
    exclusive_start_key: Item
    batch_items: int
    stored_bytes: bool
    def __init__(self, table: _Optional[str] = ..., exclusive_start_key: _Optional[_Union[Item, _Mapping]] = ..., batch_items: _Optional[int] = ..., stored_bytes: _Optional[bool] = ...) -> None: ...

class SnapshotBatch(_message.Message):
    __slots__ = ("entries", "watermarks", "entries_estimate", "done", "horizons", "incarnation", "keys", "stored")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    WATERMARKS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[StoredItem]
    watermarks: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    entries_estimate: int
    done: bool
    horizons: _containers.RepeatedCompositeFieldContainer[RebuildHorizon]
    incarnation: str
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    stored: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, entries: _Optional[_Iterable[_Union[StoredItem, _Mapping]]] = ..., watermarks: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., entries_estimate: _Optional[int] = ..., done: _Optional[bool] = ..., horizons: _Optional[_Iterable[_Union[RebuildHorizon, _Mapping]]] = ..., incarnation: _Optional[str] = ..., keys: _Optional[_Iterable[bytes]] = ..., stored: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BootstrapState(_message.Message):
    __slots__ = ("state", "source", "watermarks", "resume_after", "tables_done", "entries", "bytes", "entries_estimate", "started_ms", "reason")
    class ResumeAfterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Item
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WATERMARKS_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    TABLES_DONE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    state: str
    source: str
    watermarks: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    resume_after: _containers.MessageMap[str, Item]
    tables_done: _containers.RepeatedScalarFieldContainer[str]
    entries: int
    bytes: int
    entries_estimate: int
    started_ms: int
    reason: str
    def __init__(self, state: _Optional[str] = ..., source: _Optional[str] = ..., watermarks: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., resume_after: _Optional[_Mapping[str, Item]] = ..., tables_done: _Optional[_Iterable[str]] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., entries_estimate: _Optional[int] = ..., started_ms: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ApplySnapshotRequest(_message.Message):
    __slots__ = ("table", "entries", "progress", "install", "range", "incarnation", "keys", "stored")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    INSTALL_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    table: str
    entries: _containers.RepeatedCompositeFieldContainer[StoredItem]
    progress: BootstrapState
    install: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    range: SnapshotRange
    incarnation: str
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    stored: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, table: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[StoredItem, _Mapping]]] = ..., progress: _Optional[_Union[BootstrapState, _Mapping]] = ..., install: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., range: _Optional[_Union[SnapshotRange, _Mapping]] = ..., incarnation: _Optional[str] = ..., keys: _Optional[_Iterable[bytes]] = ..., stored: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SnapshotRange(_message.Message):
    __slots__ = ("source", "session", "after", "to_end", "coverage", "horizons")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    TO_END_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    source: str
    session: str
    after: Item
    to_end: bool
    coverage: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    horizons: _containers.RepeatedCompositeFieldContainer[RebuildHorizon]
    def __init__(self, source: _Optional[str] = ..., session: _Optional[str] = ..., after: _Optional[_Union[Item, _Mapping]] = ..., to_end: _Optional[bool] = ..., coverage: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., horizons: _Optional[_Iterable[_Union[RebuildHorizon, _Mapping]]] = ...) -> None: ...

class ApplySnapshotResponse(_message.Message):
    __slots__ = ("applied", "kept", "removed")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    applied: int
    kept: int
    removed: int
    def __init__(self, applied: _Optional[int] = ..., kept: _Optional[int] = ..., removed: _Optional[int] = ...) -> None: ...

class RetentionHold(_message.Message):
    __slots__ = ("table", "sequence_number")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    table: str
    sequence_number: int
    def __init__(self, table: _Optional[str] = ..., sequence_number: _Optional[int] = ...) -> None: ...

class HoldRetentionRequest(_message.Message):
    __slots__ = ("holder", "holds", "ttl_seconds", "release")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    holds: _containers.RepeatedCompositeFieldContainer[RetentionHold]
    ttl_seconds: int
    release: bool
    def __init__(self, holder: _Optional[str] = ..., holds: _Optional[_Iterable[_Union[RetentionHold, _Mapping]]] = ..., ttl_seconds: _Optional[int] = ..., release: _Optional[bool] = ...) -> None: ...

class HoldRetentionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfoResponse(_message.Message):
    __slots__ = ("group", "region", "node_id", "tables", "hlc", "bootstrap", "has_data", "pins", "set_aside")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    HLC_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    HAS_DATA_FIELD_NUMBER: _ClassVar[int]
    PINS_FIELD_NUMBER: _ClassVar[int]
    SET_ASIDE_FIELD_NUMBER: _ClassVar[int]
    group: str
    region: str
    node_id: str
    tables: _containers.RepeatedCompositeFieldContainer[TableDescription]
    hlc: int
    bootstrap: BootstrapState
    has_data: bool
    pins: _containers.RepeatedCompositeFieldContainer[PeerPin]
    set_aside: _containers.RepeatedCompositeFieldContainer[SetAsideTable]
    def __init__(self, group: _Optional[str] = ..., region: _Optional[str] = ..., node_id: _Optional[str] = ..., tables: _Optional[_Iterable[_Union[TableDescription, _Mapping]]] = ..., hlc: _Optional[int] = ..., bootstrap: _Optional[_Union[BootstrapState, _Mapping]] = ..., has_data: _Optional[bool] = ..., pins: _Optional[_Iterable[_Union[PeerPin, _Mapping]]] = ..., set_aside: _Optional[_Iterable[_Union[SetAsideTable, _Mapping]]] = ...) -> None: ...

class PeerPin(_message.Message):
    __slots__ = ("region", "node_id", "pinned_ms", "previous_node_id")
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PINNED_MS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    region: str
    node_id: str
    pinned_ms: int
    previous_node_id: str
    def __init__(self, region: _Optional[str] = ..., node_id: _Optional[str] = ..., pinned_ms: _Optional[int] = ..., previous_node_id: _Optional[str] = ...) -> None: ...

class PinPeerRequest(_message.Message):
    __slots__ = ("region", "node_id", "replace")
    REGION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    region: str
    node_id: str
    replace: bool
    def __init__(self, region: _Optional[str] = ..., node_id: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class PinPeerResponse(_message.Message):
    __slots__ = ("pin", "changed")
    PIN_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    pin: PeerPin
    changed: bool
    def __init__(self, pin: _Optional[_Union[PeerPin, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class Conflict(_message.Message):
    __slots__ = ("table", "keys", "winner", "loser", "rule", "at_ms", "attributes")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    LOSER_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    table: str
    keys: Item
    winner: Version
    loser: Version
    rule: str
    at_ms: int
    attributes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, table: _Optional[str] = ..., keys: _Optional[_Union[Item, _Mapping]] = ..., winner: _Optional[_Union[Version, _Mapping]] = ..., loser: _Optional[_Union[Version, _Mapping]] = ..., rule: _Optional[str] = ..., at_ms: _Optional[int] = ..., attributes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListConflictsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListConflictsResponse(_message.Message):
    __slots__ = ("conflicts",)
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    conflicts: _containers.RepeatedCompositeFieldContainer[Conflict]
    def __init__(self, conflicts: _Optional[_Iterable[_Union[Conflict, _Mapping]]] = ...) -> None: ...

class DigestRequest(_message.Message):
    __slots__ = ("table", "buckets")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    table: str
    buckets: int
    def __init__(self, table: _Optional[str] = ..., buckets: _Optional[int] = ...) -> None: ...

class DigestResponse(_message.Message):
    __slots__ = ("digest", "items", "tombstones")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_FIELD_NUMBER: _ClassVar[int]
    digest: str
    items: int
    tombstones: int
    def __init__(self, digest: _Optional[str] = ..., items: _Optional[int] = ..., tombstones: _Optional[int] = ...) -> None: ...

class DiffKeysRequest(_message.Message):
    __slots__ = ("table", "limit", "exclusive_start_key")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_START_KEY_FIELD_NUMBER: _ClassVar[int]
    table: str
    limit: int
    exclusive_start_key: Item
    def __init__(self, table: _Optional[str] = ..., limit: _Optional[int] = ..., exclusive_start_key: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class KeyVersion(_message.Message):
    __slots__ = ("keys", "version", "tombstone", "value_hash")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_FIELD_NUMBER: _ClassVar[int]
    VALUE_HASH_FIELD_NUMBER: _ClassVar[int]
    keys: Item
    version: Version
    tombstone: bool
    value_hash: str
    def __init__(self, keys: _Optional[_Union[Item, _Mapping]] = ..., version: _Optional[_Union[Version, _Mapping]] = ..., tombstone: _Optional[bool] = ..., value_hash: _Optional[str] = ...) -> None: ...

class DiffKeysResponse(_message.Message):
    __slots__ = ("entries", "last_evaluated_key")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATED_KEY_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyVersion]
    last_evaluated_key: Item
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyVersion, _Mapping]]] = ..., last_evaluated_key: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...
