/* What the two sources of meridian.model._item_check share: spans of protobuf's wire format
 * and the item check (_item_check.c), used by the replicated record scan (_replicated.c). */
#ifndef MERIDIAN_WIRE_H
#define MERIDIAN_WIRE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAX_ITEM_BYTES (400 * 1024)

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} span;

/* _item_check.c */
int read_varint(span *s, uint64_t *out);
int read_len(span *s, span *payload);
int valid_utf8(span s);
int canonical_number(span s);
int check_map(span s, int depth, int top);

/* _replicated.c */
PyObject *scan_replicated(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *replicated_entries(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
int add_scanned_type(PyObject *module);

#endif
