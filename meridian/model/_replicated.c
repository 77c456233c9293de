/* A replicated record's per-record work in one call each (meridian/model/replicated_bytes.py).
 *
 * scan_replicated(data, prefix, parts) reads a serialized ReplicatedRecord and returns its
 * fields (a ScannedRecord) only when the Python checks of replicated_bytes.scan_checked
 * would accept it and give the same fields; otherwise None, and the caller asks Python,
 * which gives the verdict and its error. It says None for anything unusual: unknown or
 * repeated fields, attribute states, a record whose keys hold other attributes than the key
 * schema's, a version or user identity not encoded as protobuf writes them, a key or image
 * the item check does not accept, an image whose key attributes are not byte for byte the
 * record's. `parts` is the key schema: (name as UTF-8, key type, byte limit) per key
 * attribute, partition key first; `prefix` the table's storage key prefix.
 *
 * replicated_entries(...) builds the stored item and this region's stream record of a
 * record that won, with the bytes replicated_bytes.entries_python writes.
 */
#include "_wire.h"

#include <string.h>

#define KEY_TYPE_S 1
#define KEY_TYPE_N 2
#define KEY_TYPE_B 3
#define EVENT_REMOVE 3
#define MAX_KEY_PARTS 2
#define KEY_BUFFER 8192

static PyTypeObject *scanned_type;

static PyStructSequence_Field scanned_fields[] = {
    {"raw", "the record's bytes"},
    {"key", "the storage key"},
    {"sequence", "the origin's sequence number"},
    {"hlc", "version clock"},
    {"region", "version region (the origin)"},
    {"event_name", "INSERT, MODIFY or REMOVE"},
    {"creation_time_ms", "the origin's time of the record"},
    {"version", "the serialized Version"},
    {"keys", "the serialized key Item"},
    {"new_image", "the serialized new image"},
    {"user_identity", "the serialized UserIdentity, or None"},
    {"attributes", "the serialized AttributeState, or None"},
    {NULL, NULL},
};

static PyStructSequence_Desc scanned_desc = {
    "meridian.model._item_check.ScannedRecord",
    "The fields of a replicated record that the node needs (replicated_bytes.Scanned).",
    scanned_fields,
    12,
};

int add_scanned_type(PyObject *module) {
    scanned_type = PyStructSequence_NewType(&scanned_desc);
    if (scanned_type == NULL) return -1;
    Py_INCREF(scanned_type);
    return PyModule_AddObject(module, "ScannedRecord", (PyObject *)scanned_type);
}

static int span_equal(span a, span b) {
    return a.end - a.p == b.end - b.p && memcmp(a.p, b.p, (size_t)(a.end - a.p)) == 0;
}

/* A Version as protobuf writes it: hlc (if not 0) then region (if not empty), valid UTF-8. */
static int read_version(span s, uint64_t *hlc, span *region) {
    uint64_t tag;
    *hlc = 0;
    region->p = region->end = s.p;
    if (s.p < s.end && *s.p == 0x08) {
        s.p++;
        if (!read_varint(&s, hlc) || *hlc == 0) return 0;
    }
    if (s.p < s.end) {
        if (!read_varint(&s, &tag) || tag != 0x12 || !read_len(&s, region)) return 0;
        if (region->p == region->end || !valid_utf8(*region)) return 0;
    }
    return s.p == s.end;
}

/* A UserIdentity as protobuf writes it: type, then principal_id, each non-empty UTF-8. */
static int canonical_identity(span s) {
    uint64_t tag;
    span text;
    for (uint64_t expected = 0x0A; s.p < s.end && expected <= 0x12; expected += 8) {
        if (!read_varint(&s, &tag)) return 0;
        if (tag == 0x12 && expected == 0x0A) expected = 0x12;
        if (tag != expected || !read_len(&s, &text) || text.p == text.end || !valid_utf8(text))
            return 0;
    }
    return s.p == s.end;
}

/* The entry (name, value) at the start of map span `s`, which check_map accepted. */
static void next_entry(span *s, span *name, span *value) {
    span entry;
    uint64_t tag;
    read_varint(s, &tag);
    read_len(s, &entry);
    read_varint(&entry, &tag);
    read_len(&entry, name);
    read_varint(&entry, &tag);
    read_len(&entry, value);
}

/* The value of attribute `name` in the map `s` (which check_map accepted), or 0. */
static int find_attribute(span s, span name, span *value) {
    span entry_name, entry_value;
    while (s.p < s.end) {
        next_entry(&s, &entry_name, &entry_value);
        if (span_equal(entry_name, name)) {
            *value = entry_value;
            return 1;
        }
    }
    return 0;
}

/* keys.py _encode_number of a canonical number (no exponent), into `out`; its length. */
static Py_ssize_t encode_number(span n, uint8_t *out) {
    if (n.end - n.p == 1 && *n.p == '0') {
        out[0] = 0x02;
        return 1;
    }
    int negative = *n.p == '-';
    const uint8_t *p = n.p + negative;
    const uint8_t *dot = memchr(p, '.', (size_t)(n.end - p));
    const uint8_t *whole_end = dot ? dot : n.end;
    const uint8_t *fraction = dot ? dot + 1 : n.end;
    uint8_t digits[64];
    Py_ssize_t count = 0, adjusted;
    if (whole_end - p == 1 && *p == '0') { /* 0.000ddd: the digits after the zeros */
        const uint8_t *q = fraction;
        while (q < n.end && *q == '0') q++;
        for (; q < n.end; q++) digits[count++] = *q;
        adjusted = count - (n.end - fraction) - 1;
    } else {
        for (const uint8_t *q = p; q < whole_end; q++) digits[count++] = *q;
        for (const uint8_t *q = fraction; q < n.end; q++) digits[count++] = *q;
        while (count > 0 && digits[count - 1] == '0') count--;
        adjusted = (whole_end - p) - 1;
    }
    unsigned biased = (unsigned)(adjusted + 0x8000);
    Py_ssize_t length = 0;
    uint8_t flip = negative ? 0xFF : 0x00;
    out[length++] = negative ? 0x01 : 0x03;
    out[length++] = (uint8_t)((biased >> 8) ^ flip);
    out[length++] = (uint8_t)((biased & 0xFF) ^ flip);
    for (Py_ssize_t i = 0; i < count; i++) out[length++] = digits[i] ^ flip;
    out[length++] = negative ? 0xFF : 0x00;
    return length;
}

/* One key component of `value` (an AttributeValue) of `key_type`, appended at out[*at]. */
static int encode_component(span value, long key_type, Py_ssize_t limit, uint8_t *out,
                            Py_ssize_t *at) {
    uint64_t tag;
    span data;
    if (!read_varint(&value, &tag) || !read_len(&value, &data)) return 0;
    Py_ssize_t size = data.end - data.p;
    if (key_type == KEY_TYPE_N) {
        /* encode_number writes at most 3 + digits + 1 bytes */
        if (tag != 0x12 || size > 64 || *at + size + 4 > KEY_BUFFER) return 0;
        *at += encode_number(data, out + *at);
        return 1;
    }
    if (tag != (key_type == KEY_TYPE_S ? 0x0A : 0x1A) || size == 0 || size > limit) return 0;
    if (*at + 2 * size + 2 > KEY_BUFFER) return 0;
    for (const uint8_t *q = data.p; q < data.end; q++) {
        out[(*at)++] = *q;
        if (*q == 0) out[(*at)++] = 0xFF;
    }
    out[(*at)++] = 0x00;
    out[(*at)++] = 0x01;
    return 1;
}

/* Whether `parts` is a key schema as replicated_bytes.layout gives it: up to MAX_KEY_PARTS
 * tuples (name: bytes, key type: int, byte limit: int), at least one. */
static int valid_layout(PyObject *parts) {
    Py_ssize_t nparts = PyTuple_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < nparts; i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 3 ||
            !PyBytes_Check(PyTuple_GET_ITEM(part, 0)) ||
            !PyLong_Check(PyTuple_GET_ITEM(part, 1)) || !PyLong_Check(PyTuple_GET_ITEM(part, 2)))
            return 0;
    }
    return nparts >= 1 && nparts <= MAX_KEY_PARTS;
}

/* The storage key of `keys` (an Item holding exactly the key attributes), checked against
 * `image` (not REMOVE: its key attributes the same bytes), or NULL (ask Python). */
static PyObject *storage_key(span keys, span *image, PyObject *prefix, PyObject *parts) {
    uint8_t out[KEY_BUFFER];
    Py_ssize_t at = PyBytes_GET_SIZE(prefix), nparts = PyTuple_GET_SIZE(parts), entries = 0;
    if (at > 256) return NULL;
    memcpy(out, PyBytes_AS_STRING(prefix), (size_t)at);
    if (!check_map(keys, 0, 1)) return NULL;
    for (span s = keys, name, value; s.p < s.end; entries++) next_entry(&s, &name, &value);
    if (entries != nparts) return NULL;
    for (Py_ssize_t i = 0; i < nparts; i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        PyObject *name_obj = PyTuple_GET_ITEM(part, 0);
        span name = {(const uint8_t *)PyBytes_AS_STRING(name_obj), NULL}, value, own;
        name.end = name.p + PyBytes_GET_SIZE(name_obj);
        long key_type = PyLong_AsLong(PyTuple_GET_ITEM(part, 1));
        Py_ssize_t limit = PyLong_AsSsize_t(PyTuple_GET_ITEM(part, 2));
        if (PyErr_Occurred()) return NULL; /* OverflowError: no key built with it pending */
        if (!find_attribute(keys, name, &value)) return NULL;
        if (image != NULL && !(find_attribute(*image, name, &own) && span_equal(own, value)))
            return NULL;
        if (!encode_component(value, key_type, limit, out, &at)) return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)out, at);
}

enum {
    F_EVENT_ID = 1,
    F_EVENT_NAME,
    F_SEQUENCE,
    F_CREATION,
    F_KEYS,
    F_NEW,
    F_OLD,
    F_SIZE,
    F_VERSION,
    F_TABLE,
    F_VIEW_TYPE,
    F_IDENTITY,
};

typedef struct {
    uint64_t varints[16];
    span spans[16];
    unsigned seen;
} record_fields;

/* Every field of a ReplicatedRecord but attributes, each at most once, with its own wire
 * type; strings valid UTF-8, enums within int32. */
static int read_record(span s, record_fields *r) {
    uint64_t tag;
    memset(r, 0, sizeof(*r));
    while (s.p < s.end) {
        if (!read_varint(&s, &tag)) return 0;
        uint64_t field = tag >> 3, wire = tag & 7;
        if (field < F_EVENT_ID || field > F_IDENTITY || (r->seen & (1u << field))) return 0;
        r->seen |= 1u << field;
        int length_delimited = field == F_EVENT_ID || field == F_KEYS || field == F_NEW ||
                               field == F_OLD || field == F_VERSION || field == F_TABLE ||
                               field == F_IDENTITY;
        if (wire != (length_delimited ? 2u : 0u)) return 0;
        if (length_delimited ? !read_len(&s, &r->spans[field])
                             : !read_varint(&s, &r->varints[field]))
            return 0;
    }
    return valid_utf8(r->spans[F_EVENT_ID]) && valid_utf8(r->spans[F_TABLE]) &&
           r->varints[F_VIEW_TYPE] <= INT32_MAX && r->varints[F_EVENT_NAME] >= 1 &&
           r->varints[F_EVENT_NAME] <= EVENT_REMOVE && (r->seen & (1u << F_KEYS)) &&
           (r->seen & (1u << F_VERSION));
}

static PyObject *bytes_of(span s) {
    return PyBytes_FromStringAndSize((const char *)s.p, s.end - s.p);
}

static PyObject *scanned(PyObject *data, record_fields *r, PyObject *key, uint64_t hlc,
                         span region) {
    PyObject *out = PyStructSequence_New(scanned_type);
    if (out == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    int removed = r->varints[F_EVENT_NAME] == EVENT_REMOVE;
    Py_INCREF(data);
    PyStructSequence_SET_ITEM(out, 0, data);
    PyStructSequence_SET_ITEM(out, 1, key);
    PyStructSequence_SET_ITEM(out, 2, PyLong_FromUnsignedLongLong(r->varints[F_SEQUENCE]));
    PyStructSequence_SET_ITEM(out, 3, PyLong_FromUnsignedLongLong(hlc));
    PyStructSequence_SET_ITEM(
        out, 4, PyUnicode_DecodeUTF8((const char *)region.p, region.end - region.p, NULL));
    PyStructSequence_SET_ITEM(out, 5, PyLong_FromUnsignedLongLong(r->varints[F_EVENT_NAME]));
    PyStructSequence_SET_ITEM(out, 6, PyLong_FromUnsignedLongLong(r->varints[F_CREATION]));
    PyStructSequence_SET_ITEM(out, 7, bytes_of(r->spans[F_VERSION]));
    PyStructSequence_SET_ITEM(out, 8, bytes_of(r->spans[F_KEYS]));
    PyStructSequence_SET_ITEM(out, 9, removed ? PyBytes_FromStringAndSize("", 0)
                                              : bytes_of(r->spans[F_NEW]));
    if (r->seen & (1u << F_IDENTITY)) {
        PyStructSequence_SET_ITEM(out, 10, bytes_of(r->spans[F_IDENTITY]));
    } else {
        Py_INCREF(Py_None);
        PyStructSequence_SET_ITEM(out, 10, Py_None);
    }
    Py_INCREF(Py_None);
    PyStructSequence_SET_ITEM(out, 11, Py_None);
    for (int i = 0; i < 12; i++) {
        if (PyStructSequence_GET_ITEM(out, i) == NULL) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

PyObject *scan_replicated(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1]) ||
        !PyTuple_Check(args[2]) || !valid_layout(args[2])) {
        PyErr_SetString(PyExc_TypeError, "scan_replicated(data: bytes, prefix: bytes, parts: "
                                         "one or two (name: bytes, type: int, limit: int))");
        return NULL;
    }
    span s = {(const uint8_t *)PyBytes_AS_STRING(args[0]), NULL}, region;
    s.end = s.p + PyBytes_GET_SIZE(args[0]);
    record_fields r;
    uint64_t hlc;
    if (!read_record(s, &r) || !read_version(r.spans[F_VERSION], &hlc, &region) ||
        ((r.seen & (1u << F_IDENTITY)) && !canonical_identity(r.spans[F_IDENTITY])))
        Py_RETURN_NONE;
    span *image = NULL;
    if (r.varints[F_EVENT_NAME] != EVENT_REMOVE) {
        image = &r.spans[F_NEW];
        if (image->end - image->p > MAX_ITEM_BYTES || !check_map(*image, 0, 1)) Py_RETURN_NONE;
    }
    PyObject *key = storage_key(r.spans[F_KEYS], image, args[1], args[2]);
    if (key == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    return scanned(args[0], &r, key, hlc, region);
}

/* A growing output buffer. */
typedef struct {
    uint8_t *data;
    Py_ssize_t size, capacity;
} buffer;

static int reserve(buffer *b, Py_ssize_t more) {
    if (b->size + more <= b->capacity) return 1;
    Py_ssize_t capacity = (b->size + more) * 2;
    uint8_t *bigger = PyMem_Realloc(b->data, (size_t)capacity);
    if (bigger == NULL) return 0;
    b->data = bigger;
    b->capacity = capacity;
    return 1;
}

static void put_varint(buffer *b, uint64_t value) {
    while (value >= 0x80) {
        b->data[b->size++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    b->data[b->size++] = (uint8_t)value;
}

static int put_varint_field(buffer *b, uint8_t tag, uint64_t value) {
    if (!reserve(b, 11)) return 0;
    b->data[b->size++] = tag;
    put_varint(b, value);
    return 1;
}

static int put_field(buffer *b, uint8_t tag, const char *data, Py_ssize_t size) {
    if (!reserve(b, size + 11)) return 0;
    b->data[b->size++] = tag;
    put_varint(b, (uint64_t)size);
    memcpy(b->data + b->size, data, (size_t)size);
    b->size += size;
    return 1;
}

static int put_bytes_field(buffer *b, uint8_t tag, PyObject *value) {
    return put_field(b, tag, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
}

/* An int of 64 bits without sign as uint64_t; 0 with OverflowError or TypeError set. */
static int as_uint64(PyObject *value, uint64_t *out) {
    *out = PyLong_AsUnsignedLongLong(value);
    return !(*out == (uint64_t)-1 && PyErr_Occurred());
}

/* replicated_entries(version, removed, written_ms, keys, new_image, old_image, user_identity,
 * attributes, event_name, sequence, event_id, table, view_type) -> (stored, record): the
 * bytes of the StoredItem and of this region's StreamRecord, as entries_python writes them.
 * old_image, user_identity and attributes may be None. */
PyObject *replicated_entries(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 13 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[3]) ||
        !PyBytes_Check(args[4]) || !(args[5] == Py_None || PyBytes_Check(args[5])) ||
        !(args[6] == Py_None || PyBytes_Check(args[6])) ||
        !(args[7] == Py_None || PyBytes_Check(args[7])) || !PyUnicode_Check(args[10]) ||
        !PyUnicode_Check(args[11])) {
        PyErr_SetString(PyExc_TypeError, "replicated_entries: wrong arguments");
        return NULL;
    }
    /* Each conversion checked before the next: no call made with an error pending. */
    int removed = PyObject_IsTrue(args[1]);
    uint64_t written, event_name, sequence, view_type;
    if (removed < 0 || !as_uint64(args[2], &written) || !as_uint64(args[8], &event_name) ||
        !as_uint64(args[9], &sequence) || !as_uint64(args[12], &view_type))
        return NULL;
    Py_ssize_t id_size, table_size;
    const char *event_id = PyUnicode_AsUTF8AndSize(args[10], &id_size);
    if (event_id == NULL) return NULL;
    const char *table = PyUnicode_AsUTF8AndSize(args[11], &table_size);
    if (table == NULL) return NULL;
    PyObject *image = removed ? args[3] : args[4];
    buffer stored = {NULL, 0, 0}, record = {NULL, 0, 0};
    int ok = put_bytes_field(&stored, 0x0A, args[0]) &&
             (!removed || put_varint_field(&stored, 0x10, 1)) &&
             (!written || put_varint_field(&stored, 0x20, written)) &&
             put_bytes_field(&stored, 0x1A, image) &&
             (args[7] == Py_None || put_bytes_field(&stored, 0x2A, args[7]));
    ok = ok && (!id_size || put_field(&record, 0x0A, event_id, id_size)) &&
         (!event_name || put_varint_field(&record, 0x10, event_name)) &&
         (!sequence || put_varint_field(&record, 0x18, sequence)) &&
         (!written || put_varint_field(&record, 0x20, written)) &&
         put_bytes_field(&record, 0x4A, args[0]) &&
         (!table_size || put_field(&record, 0x52, table, table_size)) &&
         (!view_type || put_varint_field(&record, 0x58, view_type)) &&
         (args[6] == Py_None || put_bytes_field(&record, 0x62, args[6])) &&
         put_bytes_field(&record, 0x2A, args[3]) &&
         (removed || put_bytes_field(&record, 0x32, args[4])) &&
         (args[5] == Py_None || put_bytes_field(&record, 0x3A, args[5])) &&
         (args[7] == Py_None || put_bytes_field(&record, 0x6A, args[7])) &&
         put_varint_field(&record, 0x40, (uint64_t)record.size);
    PyObject *out = NULL;
    if (ok) {
        out = Py_BuildValue("(y#y#)", stored.data, stored.size, record.data, record.size);
    } else {
        PyErr_NoMemory();
    }
    PyMem_Free(stored.data);
    PyMem_Free(record.data);
    return out;
}
