/* A fast accept for serialized items (meridian/model/item_bytes.py).
 *
 * item_bytes_valid(data) walks a serialized meridian.node.v1.Item in protobuf's wire format
 * and returns True only when parsing it gives an item that validate_item accepts and that
 * normalize_item would leave unchanged (see meridian/model/items.py). It may say False for
 * a valid item (the caller then parses it and asks Python); it never says True for one that
 * Python would reject. To stay simple it accepts only the encoding protobuf writes:
 *
 *  - every field is a known one with its own wire type (no unknown fields, no groups),
 *  - varints minimal (no overlong spellings), lengths within the enclosing message,
 *  - an AttributeValue holds exactly one field, once; a map entry holds its key then its
 *    value, once each; no name twice in one map,
 *  - booleans spelled 0 or 1, NULL spelled 1,
 *  - strings valid UTF-8 (no surrogates, no overlong forms, at most U+10FFFF),
 *  - numbers in canonical spelling (items.py _CANONICAL, at most 38 significant digits),
 *  - sets non-empty and strictly ascending: string and binary sets by bytes, number sets by
 *    value (each canonical spelling is a different number, so no duplicates),
 *  - top-level names non-empty, values nested at most MAX_DEPTH levels, and the whole
 *    encoding at most MAX_ITEM_BYTES long (then its parsed size is the same).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_wire.h"

#define MAX_DEPTH 32
#define MAX_DIGITS 38
#define SMALL_MAP 16

/* Wire tags (field number << 3 | wire type) of the fields this walker knows. */
#define TAG_LEN1 0x0A /* field 1, length-delimited: entries, list values, set members, s */
#define TAG_MAP_VALUE 0x12 /* field 2, length-delimited: a map entry's value; n */
#define TAG_B 0x1A
#define TAG_BOOL 0x20
#define TAG_NULL 0x28
#define TAG_L 0x32
#define TAG_M 0x3A
#define TAG_SS 0x42
#define TAG_NS 0x4A
#define TAG_BS 0x52

/* A minimal varint; false if truncated, overlong or above 64 bits. */
int read_varint(span *s, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && s->p < s->end; shift += 7) {
        uint8_t byte = *s->p++;
        if (shift == 63 && byte > 1) return 0;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            if (byte == 0 && shift > 0) return 0; /* overlong: a trailing zero group */
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* The payload of a length-delimited field whose tag was just read. */
int read_len(span *s, span *payload) {
    uint64_t n;
    if (!read_varint(s, &n) || n > (uint64_t)(s->end - s->p)) return 0;
    payload->p = s->p;
    payload->end = s->p + n;
    s->p += n;
    return 1;
}

/* Expect `tag` next and read its length-delimited payload. */
static int expect_len(span *s, uint8_t tag, span *payload) {
    uint64_t t;
    return read_varint(s, &t) && t == tag && read_len(s, payload);
}

int valid_utf8(span s) {
    const uint8_t *p = s.p;
    while (p < s.end) {
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        Py_ssize_t left = s.end - p;
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
            if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return 0;
            if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
            if (c == 0xF4 && p[1] >= 0x90) return 0; /* above U+10FFFF */
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* items.py _is_canonical: "0", or -?(integer of 1-21 digits without leading zero, optionally
 * "." and digits ending in a nonzero one | "0." then at most five zeros then digits starting
 * and ending with a nonzero one), with at most MAX_DIGITS significant digits. */
int canonical_number(span s) {
    const uint8_t *p = s.p, *end = s.end;
    if (end - p == 1 && *p == '0') return 1;
    if (p < end && *p == '-') p++;
    if (p >= end) return 0;
    int significant;
    if (*p == '0') {
        /* 0.0{0,5}[1-9]([0-9]*[1-9])? */
        p++;
        if (p >= end || *p != '.') return 0;
        p++;
        int zeros = 0;
        while (p < end && *p == '0') {
            zeros++;
            p++;
        }
        if (zeros > 5 || p >= end) return 0;
        significant = (int)(end - p);
        for (const uint8_t *q = p; q < end; q++)
            if (!is_digit(*q)) return 0;
        /* p < end and *p != '0' here, so the first digit is nonzero */
        if (end[-1] == '0') return 0;
    } else if (*p >= '1' && *p <= '9') {
        const uint8_t *start = p;
        while (p < end && is_digit(*p)) p++;
        if (p - start > 21) return 0;
        significant = (int)(p - start);
        if (p < end) {
            if (*p != '.') return 0;
            p++;
            if (p >= end) return 0;
            const uint8_t *fraction = p;
            while (p < end && is_digit(*p)) p++;
            if (p != end || end[-1] == '0') return 0;
            significant += (int)(end - fraction);
        }
    } else {
        return 0;
    }
    return significant <= MAX_DIGITS;
}

/* Compare two canonical numbers by value: <0, 0 or >0. Canonical spellings have no
 * exponent and no leading or trailing zeros, so after the sign the longer integer part is
 * the larger magnitude, and equal lengths compare digit by digit ("0." sorts as a
 * one-digit integer part below any other). */
static int compare_magnitude(span a, span b) {
    const uint8_t *da = memchr(a.p, '.', (size_t)(a.end - a.p));
    const uint8_t *db = memchr(b.p, '.', (size_t)(b.end - b.p));
    Py_ssize_t ia = (da ? da : a.end) - a.p, ib = (db ? db : b.end) - b.p;
    if (ia != ib) return ia < ib ? -1 : 1;
    Py_ssize_t la = a.end - a.p, lb = b.end - b.p;
    int c = memcmp(a.p, b.p, (size_t)(la < lb ? la : lb));
    if (c) return c;
    return la == lb ? 0 : (la < lb ? -1 : 1);
}

static int compare_numbers(span a, span b) {
    int na = a.p < a.end && *a.p == '-', nb = b.p < b.end && *b.p == '-';
    if (na != nb) return na ? -1 : 1;
    if (na) {
        a.p++;
        b.p++;
        return -compare_magnitude(a, b);
    }
    return compare_magnitude(a, b);
}

static int compare_bytes(span a, span b) {
    Py_ssize_t la = a.end - a.p, lb = b.end - b.p;
    int c = memcmp(a.p, b.p, (size_t)(la < lb ? la : lb));
    if (c) return c;
    return la == lb ? 0 : (la < lb ? -1 : 1);
}

/* Kinds of set members. */
enum { SET_STRING, SET_NUMBER, SET_BINARY };

/* A StringSet / BinarySet: one or more members, each above the one before. */
static int check_set(span s, int kind) {
    span previous = {NULL, NULL}, member;
    while (s.p < s.end) {
        if (!expect_len(&s, TAG_LEN1, &member)) return 0;
        if (kind == SET_STRING && !valid_utf8(member)) return 0;
        if (kind == SET_NUMBER && !canonical_number(member)) return 0;
        if (previous.p != NULL) {
            int c = kind == SET_NUMBER ? compare_numbers(previous, member)
                                       : compare_bytes(previous, member);
            if (c >= 0) return 0;
        }
        previous = member;
    }
    return previous.p != NULL;
}

static int check_value(span s, int depth);

/* A ListValue whose elements sit at `depth`. */
static int check_list(span s, int depth) {
    span element;
    while (s.p < s.end) {
        if (!expect_len(&s, TAG_LEN1, &element) || !check_value(element, depth)) return 0;
    }
    return 1;
}

static int compare_spans(const void *a, const void *b) {
    return compare_bytes(*(const span *)a, *(const span *)b);
}

/* Whether any name occurs twice: pairwise for small maps, sorted otherwise. */
static int names_distinct(span *names, Py_ssize_t n) {
    if (n <= SMALL_MAP) {
        for (Py_ssize_t i = 1; i < n; i++)
            for (Py_ssize_t j = 0; j < i; j++)
                if (compare_bytes(names[i], names[j]) == 0) return 0;
        return 1;
    }
    qsort(names, (size_t)n, sizeof(span), compare_spans);
    for (Py_ssize_t i = 1; i < n; i++)
        if (compare_bytes(names[i - 1], names[i]) == 0) return 0;
    return 1;
}

/* A map (Item.attributes or MapValue.fields) whose values sit at `depth`; `top` requires
 * non-empty names. */
int check_map(span s, int depth, int top) {
    span small[SMALL_MAP], *names = small;
    Py_ssize_t n = 0, capacity = SMALL_MAP;
    int ok = 1;
    span entry, name, value;
    while (ok && s.p < s.end) {
        ok = expect_len(&s, TAG_LEN1, &entry) && expect_len(&entry, TAG_LEN1, &name) &&
             expect_len(&entry, TAG_MAP_VALUE, &value) && entry.p == entry.end &&
             (!top || name.p < name.end) && valid_utf8(name) && check_value(value, depth);
        if (!ok) break;
        if (n == capacity) {
            /* Every entry takes at least 6 bytes, so this stays below the item's size. */
            span *bigger = PyMem_Malloc((size_t)capacity * 2 * sizeof(span));
            if (bigger == NULL) {
                ok = 0;
                break;
            }
            memcpy(bigger, names, (size_t)n * sizeof(span));
            if (names != small) PyMem_Free(names);
            names = bigger;
            capacity *= 2;
        }
        names[n++] = name;
    }
    ok = ok && names_distinct(names, n);
    if (names != small) PyMem_Free(names);
    return ok;
}

/* An AttributeValue at `depth` (0 for a top-level attribute): exactly one field. */
static int check_value(span s, int depth) {
    uint64_t tag;
    span payload;
    if (depth > MAX_DEPTH || !read_varint(&s, &tag)) return 0;
    int ok;
    switch (tag) {
        case TAG_BOOL:
        case TAG_NULL:
            if (s.end - s.p != 1) return 0;
            return s.p[0] == 1 || (tag == TAG_BOOL && s.p[0] == 0);
        case TAG_LEN1: /* s */
            ok = read_len(&s, &payload) && valid_utf8(payload);
            break;
        case TAG_MAP_VALUE: /* n */
            ok = read_len(&s, &payload) && canonical_number(payload);
            break;
        case TAG_B:
            ok = read_len(&s, &payload);
            break;
        case TAG_L:
            ok = read_len(&s, &payload) && check_list(payload, depth + 1);
            break;
        case TAG_M:
            ok = read_len(&s, &payload) && check_map(payload, depth + 1, 0);
            break;
        case TAG_SS:
            ok = read_len(&s, &payload) && check_set(payload, SET_STRING);
            break;
        case TAG_NS:
            ok = read_len(&s, &payload) && check_set(payload, SET_NUMBER);
            break;
        case TAG_BS:
            ok = read_len(&s, &payload) && check_set(payload, SET_BINARY);
            break;
        default:
            return 0;
    }
    return ok && s.p == s.end;
}

static PyObject *item_bytes_valid(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    int ok = 0;
    if (view.len <= MAX_ITEM_BYTES) {
        span s = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len};
        ok = check_map(s, 0, 1);
    }
    PyBuffer_Release(&view);
    if (PyErr_Occurred()) return NULL;
    return PyBool_FromLong(ok);
}

/* ---- item_key: a valid item's storage key and key attributes (schema.py Schema.extract) */

#define MAX_KEY_PART 2048 /* schema.py MAX_PARTITION_KEY_BYTES, the larger limit */
#define KEY_TYPE_S 1
#define KEY_TYPE_N 2
#define KEY_TYPE_B 3

/* The top-level attribute `name` of an item: its whole map entry (tag included) and its
 * AttributeValue's payload; false if absent or not spelled as the item check accepts. */
static int find_attribute(span item, span name, span *entry, span *value) {
    span s = item;
    while (s.p < s.end) {
        const uint8_t *start = s.p;
        uint64_t tag;
        span payload, key, val;
        if (!read_varint(&s, &tag) || tag != TAG_LEN1 || !read_len(&s, &payload)) return 0;
        if (!expect_len(&payload, TAG_LEN1, &key) || !expect_len(&payload, TAG_MAP_VALUE, &val) ||
            payload.p != payload.end)
            return 0;
        if (key.end - key.p == name.end - name.p &&
            memcmp(key.p, name.p, (size_t)(name.end - name.p)) == 0) {
            entry->p = start;
            entry->end = s.p;
            *value = val;
            return 1;
        }
    }
    return 0;
}

/* keys.py _encode_number of a canonical positional spelling (no exponent). */
static size_t encode_number(span text, uint8_t *out) {
    if (text.end - text.p == 1 && text.p[0] == '0') {
        out[0] = 0x02;
        return 1;
    }
    int negative = text.p[0] == '-';
    const uint8_t *p = text.p + negative, *dot = memchr(p, '.', (size_t)(text.end - p));
    const uint8_t *whole_end = dot != NULL ? dot : text.end;
    const uint8_t *fraction = dot != NULL ? dot + 1 : text.end;
    uint8_t digits[2 * MAX_DIGITS];
    size_t n = 0;
    long adjusted;
    if (whole_end - p == 1 && p[0] == '0') {
        const uint8_t *q = fraction;
        while (q < text.end && *q == '0') q++;
        for (const uint8_t *d = q; d < text.end; d++) digits[n++] = *d;
        adjusted = (long)n - (long)(text.end - fraction) - 1;
    } else {
        for (const uint8_t *d = p; d < whole_end; d++) digits[n++] = *d;
        for (const uint8_t *d = fraction; d < text.end; d++) digits[n++] = *d;
        while (n > 0 && digits[n - 1] == '0') n--;
        adjusted = (long)(whole_end - p) - 1;
    }
    unsigned exponent = (unsigned)(adjusted + 0x8000);
    size_t size = 0;
    out[size++] = negative ? 0x01 : 0x03;
    out[size++] = (uint8_t)(exponent >> 8);
    out[size++] = (uint8_t)(exponent & 0xFF);
    memcpy(out + size, digits, n);
    size += n;
    if (negative) {
        for (size_t i = 1; i < size; i++) out[i] = (uint8_t)(0xFF - out[i]);
        out[size++] = 0xFF;
    } else {
        out[size++] = 0x00;
    }
    return size;
}

/* keys.py encode_checked of an AttributeValue's payload into `out`; 0 when Python must
 * answer (another type than the key's, empty or too long: its error names the attribute). */
static size_t encode_key_part(span value, long type, Py_ssize_t limit, uint8_t *out) {
    uint64_t tag;
    span data;
    if (!read_varint(&value, &tag) || !read_len(&value, &data) || value.p != value.end) return 0;
    Py_ssize_t len = data.end - data.p;
    if (type == KEY_TYPE_N) {
        if (tag != TAG_MAP_VALUE || !canonical_number(data)) return 0;
        return encode_number(data, out);
    }
    if (!((type == KEY_TYPE_S && tag == TAG_LEN1) || (type == KEY_TYPE_B && tag == TAG_B)) ||
        len == 0 || len > limit)
        return 0;
    size_t size = 0;
    for (const uint8_t *p = data.p; p < data.end; p++) {
        out[size++] = *p;
        if (*p == 0x00) out[size++] = 0xFF;
    }
    out[size++] = 0x00;
    out[size++] = 0x01;
    return size;
}

/* item_key(data, pk_name, pk_type, pk_limit, sk_name, sk_type, sk_limit): for an item
 * that item_bytes_valid accepted, (its storage key after the table prefix, its key
 * attributes as a serialized Item), or None: ask Schema.extract (and get its error). An
 * empty sk_name: no sort key. */
static PyObject *item_key(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view;
    const char *names[2];
    Py_ssize_t name_lens[2], limits[2];
    long types[2];
    if (!PyArg_ParseTuple(args, "y*s#lns#ln", &view, &names[0], &name_lens[0], &types[0],
                          &limits[0], &names[1], &name_lens[1], &types[1], &limits[1]))
        return NULL;
    int parts = name_lens[1] > 0 ? 2 : 1;
    uint8_t key[2 * (2 * MAX_KEY_PART + 2)];
    size_t key_size = 0;
    span entries[2];
    int ok = view.len <= MAX_ITEM_BYTES && limits[0] <= MAX_KEY_PART && limits[1] <= MAX_KEY_PART;
    span item = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len};
    for (int i = 0; ok && i < parts; i++) {
        span name = {(const uint8_t *)names[i], (const uint8_t *)names[i] + name_lens[i]};
        span value;
        size_t n = 0;
        ok = find_attribute(item, name, &entries[i], &value) &&
             (n = encode_key_part(value, types[i], limits[i], key + key_size)) > 0;
        key_size += n;
    }
    PyObject *result = NULL;
    if (ok) {
        size_t first = (size_t)(entries[0].end - entries[0].p);
        size_t second = parts == 2 ? (size_t)(entries[1].end - entries[1].p) : 0;
        PyObject *keys = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(first + second));
        if (keys != NULL) {
            memcpy(PyBytes_AS_STRING(keys), entries[0].p, first);
            if (second) memcpy(PyBytes_AS_STRING(keys) + first, entries[1].p, second);
            result = Py_BuildValue("(y#N)", (const char *)key, (Py_ssize_t)key_size, keys);
        }
    } else {
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"item_bytes_valid", item_bytes_valid, METH_O,
     "True only if the serialized Item parses, passes validate_item and is canonical."},
    {"item_key", item_key, METH_VARARGS,
     "A valid item's storage key (after the table prefix) and serialized key attributes."},
    {"scan_replicated", (PyCFunction)(void (*)(void))scan_replicated, METH_FASTCALL,
     "The fields of a serialized ReplicatedRecord known valid, or None: ask Python."},
    {"replicated_entries", (PyCFunction)(void (*)(void))replicated_entries, METH_FASTCALL,
     "The stored item and stream record of a replicated record that won, serialized."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_item_check", "A compiled check of serialized items.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__item_check(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && add_scanned_type(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
