/* receiver._logswire: OTLP logs protobuf -> the column lists receiver/decode_logs.py builds.
 *
 * Two phases. lw_scan() (scan.c) walks the wire format with the GIL released: validation,
 * canonical sizes, every record's re-encoding and BLAKE2b EventKey. Then, holding the GIL,
 * build() turns the scanned nodes into the same Python objects the pure-Python decoder
 * makes, step for step (receiver/attributes.py, receiver/events.py). Parsing that has
 * subtle Python semantics (int(), float(), datetime.fromisoformat) has a C fast path only
 * for plain ASCII numbers and otherwise calls the Python function itself. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "scan.h"

/* ---- configuration (receiver/decode_logs_c.py passes it once) ------------------------ */

static PyObject *cfg_json_dumps, *cfg_key_map, *cfg_defaults, *cfg_to_int, *cfg_to_float,
    *cfg_nullable_int64, *cfg_parse_iso, *cfg_out_of_range;
static Py_ssize_t cfg_ncols;
static Py_ssize_t c_org, c_session, c_key, c_name, c_ts, c_seq, c_user_email, c_org_id, c_cost, c_micros,
    c_app_version, c_service, c_attributes, c_resource_attrs;
static long long cfg_max_tokens;
static double cfg_max_duration, cfg_max_cost;
static int configured;

static PyObject *s_empty, *s_true, *s_false, *k_service_name, *k_org_id, *k_event_name, *k_session_id,
    *k_event_timestamp, *k_event_sequence, *k_cost_usd, *k_cost_usd_micros, *k_user_email,
    *k_service_version, *p_claude, *p_bridge;

enum { K_STR = 0, K_TOKENS = 1, K_DURATION = 2, K_BOOL = 3, K_INT32 = 4, K_OTHER = 9 };

#define MAX_COLS 128

/* ---- per-call state ----------------------------------------------------------------- */

#define KEY_CACHE 1024
#define VALUE_CACHE 4096
#define VALUE_CACHE_MAX_LEN 96 /* longer strings (prompts, errors) rarely repeat */

typedef struct { uint32_t off, len; uint64_t hash; PyObject *str; } cached_str;

typedef struct {
    lw_scan_t *s;
    Py_ssize_t max_attributes, max_len, max_key_len;
    long long dropped, truncated, long_keys, out_of_range;
    cached_str *keys, *values; /* caches sized by the request's attribute count */
    size_t nkeys, nvalues;
} build_t;

static PyObject *span_str(build_t *b, lw_span sp) {
    return PyUnicode_DecodeUTF8((const char *)b->s->buf + sp.off, sp.len, NULL);
}

/* One str object per distinct text and request (a direct-mapped cache by FNV-1a). */
static PyObject *cached(build_t *b, cached_str *table, size_t size, lw_span sp) {
    const uint8_t *p = b->s->buf + sp.off;
    /* A cheap hash of the length and up to 24 bytes (first, middle, last word): a collision
     * only costs a cache miss, as the bytes are compared before a hit. */
    uint64_t h = (uint64_t)sp.len * 0x9E3779B97F4A7C15ULL;
    if (sp.len >= 8) {
        uint64_t w[3];
        memcpy(&w[0], p, 8);
        memcpy(&w[1], p + (sp.len - 8) / 2, 8);
        memcpy(&w[2], p + sp.len - 8, 8);
        h = (h ^ w[0]) * 0xFF51AFD7ED558CCDULL;
        h = (h ^ w[1]) * 0xC4CEB9FE1A85EC53ULL;
        h = (h ^ w[2]) * 0xFF51AFD7ED558CCDULL;
    } else {
        for (uint32_t i = 0; i < sp.len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    }
    h ^= h >> 29;
    cached_str *slot = &table[h % size];
    if (slot->str && slot->hash == h && slot->len == sp.len && memcmp(b->s->buf + slot->off, p, sp.len) == 0) {
        Py_INCREF(slot->str);
        return slot->str;
    }
    PyObject *str = span_str(b, sp);
    if (!str) return NULL;
    Py_XDECREF(slot->str);
    Py_INCREF(str);
    slot->str = str;
    slot->off = sp.off;
    slot->len = sp.len;
    slot->hash = h;
    return str;
}

/* Attribute keys repeat on every record, and so do many values (session, user, model). */
static PyObject *key_str(build_t *b, lw_span sp) { return cached(b, b->keys, b->nkeys, sp); }

static PyObject *text_str(build_t *b, lw_span sp) {
    if (sp.len > VALUE_CACHE_MAX_LEN) return span_str(b, sp);
    return cached(b, b->values, b->nvalues, sp);
}

static PyObject *hex_str(build_t *b, lw_span sp) {
    static const char digits[] = "0123456789abcdef";
    PyObject *out = PyUnicode_New((Py_ssize_t)sp.len * 2, 127);
    if (!out) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    const uint8_t *p = b->s->buf + sp.off;
    for (uint32_t i = 0; i < sp.len; i++) {
        o[2 * i] = (Py_UCS1)digits[p[i] >> 4];
        o[2 * i + 1] = (Py_UCS1)digits[p[i] & 15];
    }
    return out;
}

/* receiver.attributes.any_value_to_python */
static PyObject *value_py(build_t *b, int32_t idx, int depth) {
    if (idx < 0) Py_RETURN_NONE;
    const lw_value *v = &b->s->values[idx];
    switch (v->kind) {
    case LW_STR: return span_str(b, v->u.s);
    case LW_INT: return PyLong_FromLongLong(v->u.i);
    case LW_DOUBLE: return PyFloat_FromDouble(v->u.d);
    case LW_BOOL: return PyBool_FromLong(v->u.b);
    case LW_BYTES: return hex_str(b, v->u.s);
    case LW_ARRAY: case LW_KVLIST: break;
    default: Py_RETURN_NONE;
    }
    if (depth > 32) Py_RETURN_NONE;
    if (v->kind == LW_ARRAY) {
        PyObject *list = PyList_New(v->u.list.count);
        if (!list) return NULL;
        int32_t c = v->u.list.first;
        for (int32_t i = 0; i < v->u.list.count; i++, c = b->s->values[c].next) {
            PyObject *item = value_py(b, c, depth + 1);
            if (!item) { Py_DECREF(list); return NULL; }
            PyList_SET_ITEM(list, i, item);
        }
        return list;
    }
    PyObject *dict = PyDict_New();
    if (!dict) return NULL;
    int32_t c = v->u.list.first;
    for (int32_t i = 0; i < v->u.list.count; i++, c = b->s->kvs[c].next) {
        const lw_kv *kv = &b->s->kvs[c];
        PyObject *key = key_str(b, kv->key);
        PyObject *item = key ? value_py(b, kv->value, depth + 1) : NULL;
        if (!item || PyDict_SetItem(dict, key, item) < 0) {
            Py_XDECREF(key); Py_XDECREF(item); Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(item);
    }
    return dict;
}

/* receiver.attributes.any_value_to_str */
static PyObject *value_str(build_t *b, int32_t idx) {
    if (idx < 0) { Py_INCREF(s_empty); return s_empty; }
    const lw_value *v = &b->s->values[idx];
    PyObject *num, *out;
    switch (v->kind) {
    case LW_STR: return text_str(b, v->u.s);
    case LW_INT:
        num = PyLong_FromLongLong(v->u.i);
        if (!num) return NULL;
        out = PyObject_Str(num);
        Py_DECREF(num);
        return out;
    case LW_DOUBLE:
        num = PyFloat_FromDouble(v->u.d);
        if (!num) return NULL;
        out = PyObject_Repr(num);
        Py_DECREF(num);
        return out;
    case LW_BOOL:
        out = v->u.b ? s_true : s_false;
        Py_INCREF(out);
        return out;
    case LW_BYTES: return hex_str(b, v->u.s);
    case LW_ARRAY: case LW_KVLIST:
        num = value_py(b, idx, 0);
        if (!num) return NULL;
        out = PyObject_CallOneArg(cfg_json_dumps, num);
        Py_DECREF(num);
        return out;
    default:
        Py_INCREF(s_empty);
        return s_empty;
    }
}

/* receiver.attributes.attributes_to_map */
static PyObject *attributes_map(build_t *b, int32_t first, int32_t count) {
    PyObject *result = PyDict_New();
    if (!result) return NULL;
    int32_t c = first;
    if (count <= b->max_attributes) {
        Py_ssize_t longest_key = 0, longest_value = 0;
        for (int32_t i = 0; i < count; i++, c = b->s->kvs[c].next) {
            const lw_kv *kv = &b->s->kvs[c];
            PyObject *key = key_str(b, kv->key);
            PyObject *text = key ? value_str(b, kv->value) : NULL;
            if (!text || PyDict_SetItem(result, key, text) < 0) {
                Py_XDECREF(key); Py_XDECREF(text); Py_DECREF(result);
                return NULL;
            }
            Py_DECREF(key);
            Py_DECREF(text);
        }
        PyObject *key, *text;
        Py_ssize_t pos = 0;
        while (PyDict_Next(result, &pos, &key, &text)) {
            if (PyUnicode_GET_LENGTH(key) > longest_key) longest_key = PyUnicode_GET_LENGTH(key);
        }
        if (longest_key > b->max_key_len) {
            PyObject *doomed = PyList_New(0);
            if (!doomed) { Py_DECREF(result); return NULL; }
            pos = 0;
            while (PyDict_Next(result, &pos, &key, &text)) {
                if (PyUnicode_GET_LENGTH(key) > b->max_key_len && PyList_Append(doomed, key) < 0) {
                    Py_DECREF(doomed); Py_DECREF(result); return NULL;
                }
            }
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(doomed); i++) {
                if (PyDict_DelItem(result, PyList_GET_ITEM(doomed, i)) < 0) {
                    Py_DECREF(doomed); Py_DECREF(result); return NULL;
                }
                b->long_keys++;
            }
            Py_DECREF(doomed);
        }
        pos = 0;
        while (PyDict_Next(result, &pos, &key, &text)) {
            if (PyUnicode_GET_LENGTH(text) > longest_value) longest_value = PyUnicode_GET_LENGTH(text);
        }
        if (longest_value > b->max_len) {
            pos = 0;
            while (PyDict_Next(result, &pos, &key, &text)) {
                if (PyUnicode_GET_LENGTH(text) > b->max_len) {
                    PyObject *cut = PyUnicode_Substring(text, 0, b->max_len);
                    if (!cut || PyDict_SetItem(result, key, cut) < 0) {
                        Py_XDECREF(cut); Py_DECREF(result); return NULL;
                    }
                    Py_DECREF(cut);
                    b->truncated++;
                }
            }
        }
        return result;
    }
    for (int32_t i = 0; i < count; i++, c = b->s->kvs[c].next) {
        const lw_kv *kv = &b->s->kvs[c];
        PyObject *key = key_str(b, kv->key);
        if (!key) { Py_DECREF(result); return NULL; }
        if (PyUnicode_GET_LENGTH(key) > b->max_key_len) {
            b->long_keys++;
            Py_DECREF(key);
            continue;
        }
        if (PyDict_GET_SIZE(result) >= b->max_attributes) {
            int present = PyDict_Contains(result, key);
            if (present < 0) { Py_DECREF(key); Py_DECREF(result); return NULL; }
            if (!present) {
                b->dropped++;
                Py_DECREF(key);
                continue;
            }
        }
        PyObject *text = value_str(b, kv->value);
        if (text && PyUnicode_GET_LENGTH(text) > b->max_len) {
            PyObject *cut = PyUnicode_Substring(text, 0, b->max_len);
            Py_DECREF(text);
            text = cut;
            b->truncated++;
        }
        if (!text || PyDict_SetItem(result, key, text) < 0) {
            Py_XDECREF(text); Py_DECREF(key); Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(text);
        Py_DECREF(key);
    }
    return result;
}

/* ---- typed-column parsing (receiver/events.py) --------------------------------------- */

/* Plain ASCII integer: optional '-', 1..18 digits (what int() reads the same way). */
static int plain_int(PyObject *text, long long *out) {
    if (!PyUnicode_IS_ASCII(text)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const char *p = (const char *)PyUnicode_1BYTE_DATA(text);
    Py_ssize_t i = 0;
    int negative = 0;
    if (n > 0 && p[0] == '-') { negative = 1; i = 1; }
    if (n - i < 1 || n - i > 18) return 0;
    long long v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = negative ? -v : v;
    return 1;
}

/* Plain ASCII decimal: optional '-', digits, optionally '.' and digits; read by
 * PyOS_string_to_double, which is what float() uses. */
static int plain_float(PyObject *text, double *out) {
    if (!PyUnicode_IS_ASCII(text)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const char *p = (const char *)PyUnicode_1BYTE_DATA(text);
    if (n < 1 || n > 40) return 0;
    Py_ssize_t i = p[0] == '-' ? 1 : 0, digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') { i++; digits++; }
    if (!digits) return 0;
    if (i < n) {
        if (p[i] != '.') return 0;
        i++;
        Py_ssize_t frac = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') { i++; frac++; }
        if (!frac || i != n) return 0;
    }
    double v = PyOS_string_to_double(p, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    *out = v;
    return 1;
}

/* Call a Python parser; OutOfRange becomes *out_of_range += 1 and NULL without an error. */
static PyObject *call_parser(build_t *b, PyObject *parser, PyObject *text, int *failed) {
    PyObject *parsed = PyObject_CallOneArg(parser, text);
    if (!parsed) {
        if (PyErr_ExceptionMatches(cfg_out_of_range)) {
            PyErr_Clear();
            b->out_of_range++;
        } else {
            *failed = 1;
        }
    }
    return parsed;
}

/* One typed column's value from its attribute text; NULL (no error, *failed 0) when the
 * column keeps what it has. */
static PyObject *parse_typed(build_t *b, int kind, PyObject *parser, PyObject *text, int *failed) {
    long long iv;
    double dv;
    switch (kind) {
    case K_STR:
        Py_INCREF(text);
        return text;
    case K_TOKENS:
        if (!plain_int(text, &iv)) break;
        if (iv < 0 || iv > cfg_max_tokens) { b->out_of_range++; return NULL; }
        return PyLong_FromLongLong(iv);
    case K_DURATION:
        if (!plain_float(text, &dv)) break;
        if (!(dv >= 0.0 && dv <= cfg_max_duration)) { b->out_of_range++; return NULL; }
        return PyFloat_FromDouble(dv);
    case K_BOOL: {
        if (!PyUnicode_IS_ASCII(text)) break;
        const char *p = (const char *)PyUnicode_1BYTE_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
#define IS(word) (n == (Py_ssize_t)sizeof(word) - 1 && memcmp(p, word, sizeof(word) - 1) == 0)
        if (IS("true") || IS("1") || IS("yes")) Py_RETURN_TRUE;
        if (IS("false") || IS("0") || IS("no")) Py_RETURN_FALSE;
#undef IS
        break;
    }
    case K_INT32:
        if (!plain_int(text, &iv)) break;
        if (iv < -2147483648LL || iv > 2147483647LL) return NULL;
        return PyLong_FromLongLong(iv);
    default:
        break;
    }
    PyObject *parsed = call_parser(b, parser, text, failed);
    if (parsed == Py_None) { Py_DECREF(parsed); return NULL; }
    return parsed;
}

static PyObject *get_str(PyObject *dict, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(dict, key);
    if (!v) {
        if (PyErr_Occurred()) return NULL;
        v = s_empty;
    }
    Py_INCREF(v);
    return v;
}

/* to_float(text) as a C double; *none set when it gives None. */
static int to_float_c(PyObject *text, double *out, int *none) {
    *none = 0;
    if (PyUnicode_GET_LENGTH(text) == 0) { *none = 1; return 0; }
    if (plain_float(text, out)) return 0;
    PyObject *r = PyObject_CallOneArg(cfg_to_float, text);
    if (!r) return -1;
    if (r == Py_None) *none = 1;
    else *out = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return PyErr_Occurred() ? -1 : 0;
}

/* receiver.events.typed_event, appended to the event columns. */
static int typed_event(build_t *b, PyObject **cols, PyObject *org, PyObject *session_id, uint64_t key,
                       PyObject *event_name, uint64_t time_ns, PyObject *attributes, PyObject *resource) {
    PyObject *row[MAX_COLS];
    int filled[MAX_COLS];
    int failed = 0, status = -1;
    for (Py_ssize_t i = 0; i < cfg_ncols; i++) { row[i] = NULL; filled[i] = 99; }
    Py_INCREF(org); row[c_org] = org;
    Py_INCREF(session_id); row[c_session] = session_id;
    row[c_key] = PyLong_FromUnsignedLongLong(key);
    Py_INCREF(event_name); row[c_name] = event_name;
    if (!row[c_key]) goto done;
    if (time_ns) {
        row[c_ts] = PyLong_FromUnsignedLongLong(time_ns / 1000);
    } else {
        PyObject *text = get_str(attributes, k_event_timestamp);
        PyObject *us = text ? PyObject_CallOneArg(cfg_parse_iso, text) : NULL;
        Py_XDECREF(text);
        if (!us) goto done;
        int truthy = PyObject_IsTrue(us);
        if (truthy < 0) { Py_DECREF(us); goto done; }
        if (truthy) row[c_ts] = us;
        else { Py_DECREF(us); row[c_ts] = PyLong_FromLong(0); }
    }
    if (!row[c_ts]) goto done;
    {
        PyObject *text = get_str(attributes, k_event_sequence);
        if (!text) goto done;
        long long iv;
        if (PyUnicode_GET_LENGTH(text) == 0) { Py_INCREF(Py_None); row[c_seq] = Py_None; }
        else if (plain_int(text, &iv)) row[c_seq] = PyLong_FromLongLong(iv);
        else row[c_seq] = PyObject_CallOneArg(cfg_nullable_int64, text);
        Py_DECREF(text);
        if (!row[c_seq]) goto done;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(cfg_defaults); i++) {
        PyObject *pair = PyTuple_GET_ITEM(cfg_defaults, i);
        Py_ssize_t col = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        Py_INCREF(value);
        Py_XSETREF(row[col], value);
    }
    {
        PyObject *k, *text;
        Py_ssize_t pos = 0;
        while (PyDict_Next(attributes, &pos, &k, &text)) {
            PyObject *target = PyDict_GetItemWithError(cfg_key_map, k);
            if (!target) {
                if (PyErr_Occurred()) goto done;
                continue;
            }
            Py_ssize_t col = PyLong_AsSsize_t(PyTuple_GET_ITEM(target, 0));
            int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(target, 1));
            int rank = (int)PyLong_AsLong(PyTuple_GET_ITEM(target, 2));
            if (filled[col] < rank) continue;
            PyObject *parsed = parse_typed(b, kind, PyTuple_GET_ITEM(target, 3), text, &failed);
            if (failed) goto done;
            if (parsed) {
                Py_XSETREF(row[col], parsed);
                filled[col] = rank;
            }
        }
    }
    {
        Py_ssize_t targets[2] = {c_user_email, c_org_id};
        for (int i = 0; i < 2; i++) {
            int truthy = PyObject_IsTrue(row[targets[i]]);
            if (truthy < 0) goto done;
            if (!truthy) {
                PyObject *v = get_str(resource, i == 0 ? k_user_email : k_org_id);
                if (!v) goto done;
                Py_XSETREF(row[targets[i]], v);
            }
        }
    }
    {
        double cost = 0.0;
        int none;
        PyObject *text = get_str(attributes, k_cost_usd);
        if (!text) goto done;
        int rc = to_float_c(text, &cost, &none);
        Py_DECREF(text);
        if (rc < 0) goto done;
        if (none || cost == 0.0) cost = 0.0;
        if (!(cost >= 0.0 && cost <= cfg_max_cost)) { b->out_of_range++; cost = 0.0; }
        text = get_str(attributes, k_cost_usd_micros);
        if (!text) goto done;
        PyObject *micros = NULL;
        long long iv;
        if (PyUnicode_GET_LENGTH(text) == 0) micros = NULL;
        else if (plain_int(text, &iv)) micros = PyLong_FromLongLong(iv);
        else {
            micros = PyObject_CallOneArg(cfg_to_int, text);
            if (!micros) { Py_DECREF(text); goto done; }
            if (micros == Py_None) Py_CLEAR(micros);
        }
        Py_DECREF(text);
        if (PyErr_Occurred()) { Py_XDECREF(micros); goto done; }
        if (micros) {
            int overflow;
            long long mv = PyLong_AsLongLongAndOverflow(micros, &overflow);
            if (mv == -1 && PyErr_Occurred()) { Py_DECREF(micros); goto done; }
            if (overflow || mv < 0 || (double)mv > cfg_max_cost * 1000000.0) {
                b->out_of_range++;
                Py_CLEAR(micros);
            }
        }
        if (!micros) micros = PyLong_FromDouble(rint(cost * 1000000.0));
        if (!micros) goto done;
        row[c_micros] = micros;
        row[c_cost] = PyFloat_FromDouble(cost);
        if (!row[c_cost]) goto done;
    }
    if (!(row[c_app_version] = get_str(resource, k_service_version))) goto done;
    if (!(row[c_service] = get_str(resource, k_service_name))) goto done;
    Py_INCREF(attributes); row[c_attributes] = attributes;
    Py_INCREF(resource); row[c_resource_attrs] = resource;
    for (Py_ssize_t i = 0; i < cfg_ncols; i++) {
        if (!row[i]) { PyErr_SetString(PyExc_RuntimeError, "event column left unset"); goto done; }
    }
    for (Py_ssize_t i = 0; i < cfg_ncols; i++) {
        if (PyList_Append(cols[i], row[i]) < 0) goto done;
    }
    status = 0;
done:
    for (Py_ssize_t i = 0; i < cfg_ncols; i++) Py_XDECREF(row[i]);
    return status;
}

/* ---- the batch ------------------------------------------------------------------------ */

enum {
    L_TIMESTAMP, L_OBSERVED, L_TRACE_ID, L_SPAN_ID, L_FLAGS, L_SEVERITY_TEXT, L_SEVERITY_NUMBER,
    L_SERVICE, L_BODY, L_RESOURCE_SCHEMA, L_RESOURCE_ATTRS, L_SCOPE_SCHEMA, L_SCOPE_NAME,
    L_SCOPE_VERSION, L_SCOPE_ATTRS, L_LOG_ATTRS, L_EVENT_NAME, L_ORG, L_NCOLS
};

#define MAX_NS 0x7FFFFFFFFFFFFFFFULL

static uint64_t clamp_ns(uint64_t v) { return v <= MAX_NS ? v : MAX_NS; }

static int extend_same(PyObject *list, PyObject *item, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyList_Append(list, item) < 0) return -1;
    }
    return 0;
}

static int append_new(PyObject *list, PyObject *item) {
    if (!item) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* receiver.events.event_name_of: new reference, Py_None when not an event. */
static PyObject *event_name_of(PyObject *body, PyObject *attributes) {
    PyObject *name = get_str(attributes, k_event_name);
    if (!name) return NULL;
    Py_ssize_t m = PyUnicode_Tailmatch(name, p_bridge, 0, PY_SSIZE_T_MAX, -1);
    if (m < 0) { Py_DECREF(name); return NULL; }
    if (m) return name;
    m = PyUnicode_Tailmatch(body, p_claude, 0, PY_SSIZE_T_MAX, -1);
    if (m < 0) { Py_DECREF(name); return NULL; }
    if (!m) { Py_DECREF(name); Py_RETURN_NONE; }
    if (PyUnicode_GET_LENGTH(name)) return name;
    Py_DECREF(name);
    return PyUnicode_Substring(body, PyUnicode_GET_LENGTH(p_claude), PyUnicode_GET_LENGTH(body));
}

static PyObject *build(lw_scan_t *s, Py_ssize_t max_attributes, Py_ssize_t max_len, Py_ssize_t max_key_len,
                       PyObject *org_for) {
    build_t *b = PyMem_Calloc(1, sizeof(build_t));
    if (!b) return PyErr_NoMemory();
    /* a one-record hook request should not pay for the caches of a 512-record batch */
    b->nkeys = s->nkvs < 64 ? 64 : s->nkvs > KEY_CACHE ? KEY_CACHE : s->nkvs;
    b->nvalues = s->nkvs < 64 ? 64 : s->nkvs > VALUE_CACHE ? VALUE_CACHE : s->nkvs;
    b->keys = PyMem_Calloc(b->nkeys, sizeof(cached_str));
    b->values = PyMem_Calloc(b->nvalues, sizeof(cached_str));
    if (!b->keys || !b->values) {
        PyMem_Free(b->keys); PyMem_Free(b->values); PyMem_Free(b);
        return PyErr_NoMemory();
    }
    b->s = s;
    b->max_attributes = max_attributes;
    b->max_len = max_len;
    b->max_key_len = max_key_len;
    PyObject *logs = PyList_New(L_NCOLS), *events = PyList_New(cfg_ncols), *sessions = PySet_New(NULL);
    PyObject *result = NULL, *resource = NULL, *scope_attrs = NULL, *attributes = NULL, *body = NULL, *org = NULL;
    PyObject *event_name = NULL, *tmp = NULL;
    PyObject *lc[L_NCOLS];
    PyObject *ec[MAX_COLS];
    long long no_session = 0, accepted = 0;
    if (!logs || !events || !sessions) goto fail;
    for (int i = 0; i < L_NCOLS; i++) {
        if (!(lc[i] = PyList_New(0))) goto fail;
        PyList_SET_ITEM(logs, i, lc[i]);
    }
    for (Py_ssize_t i = 0; i < cfg_ncols; i++) {
        if (!(ec[i] = PyList_New(0))) goto fail;
        PyList_SET_ITEM(events, i, ec[i]);
    }
    for (size_t ri = 0; ri < s->nresources; ri++) {
        const lw_resource *rs = &s->resources[ri];
        Py_CLEAR(resource);
        if (!(resource = attributes_map(b, rs->attrs, rs->nattrs))) goto fail;
        PyObject *service = get_str(resource, k_service_name);
        PyObject *resource_org = service ? get_str(resource, k_org_id) : NULL;
        PyObject *resource_schema = resource_org ? span_str(b, rs->schema_url) : NULL;
        if (!resource_schema) { Py_XDECREF(service); Py_XDECREF(resource_org); goto fail; }
        for (int32_t si = rs->first_scope; si < rs->first_scope + rs->nscopes; si++) {
            const lw_scope *sc = &s->scopes[si];
            Py_CLEAR(scope_attrs);
            if (!(scope_attrs = attributes_map(b, sc->attrs, sc->nattrs))) goto fail_scope;
            Py_ssize_t count = sc->nrecords;
            if (extend_same(lc[L_SERVICE], service, count) < 0) goto fail_scope;
            if (extend_same(lc[L_RESOURCE_SCHEMA], resource_schema, count) < 0) goto fail_scope;
            if (extend_same(lc[L_RESOURCE_ATTRS], resource, count) < 0) goto fail_scope;
            Py_CLEAR(tmp);
            if (!(tmp = span_str(b, sc->schema_url)) || extend_same(lc[L_SCOPE_SCHEMA], tmp, count) < 0) goto fail_scope;
            Py_CLEAR(tmp);
            if (!(tmp = span_str(b, sc->name)) || extend_same(lc[L_SCOPE_NAME], tmp, count) < 0) goto fail_scope;
            Py_CLEAR(tmp);
            if (!(tmp = span_str(b, sc->version)) || extend_same(lc[L_SCOPE_VERSION], tmp, count) < 0) goto fail_scope;
            Py_CLEAR(tmp);
            if (extend_same(lc[L_SCOPE_ATTRS], scope_attrs, count) < 0) goto fail_scope;
            for (int32_t k = sc->first_record; k < sc->first_record + sc->nrecords; k++) {
                const lw_record *r = &s->records[k];
                Py_CLEAR(attributes); Py_CLEAR(body); Py_CLEAR(org); Py_CLEAR(event_name);
                if (!(attributes = attributes_map(b, r->attrs, r->nattrs))) goto fail_scope;
                if (!(body = value_str(b, r->body))) goto fail_scope;
                uint64_t timestamp = clamp_ns(r->time ? r->time : r->observed);
                PyObject *claimed = PyDict_GetItemWithError(attributes, k_org_id);
                if (!claimed && PyErr_Occurred()) goto fail_scope;
                int truthy = claimed ? PyObject_IsTrue(claimed) : 0;
                if (truthy < 0) goto fail_scope;
                if (!(org = PyObject_CallOneArg(org_for, truthy ? claimed : resource_org))) goto fail_scope;
                if (!(event_name = event_name_of(body, attributes))) goto fail_scope;
                uint64_t observed = clamp_ns(r->observed);
                if (append_new(lc[L_TIMESTAMP], PyLong_FromUnsignedLongLong(timestamp)) < 0) goto fail_scope;
                if (append_new(lc[L_OBSERVED], PyLong_FromUnsignedLongLong(observed ? observed : timestamp)) < 0) goto fail_scope;
                if (append_new(lc[L_TRACE_ID], hex_str(b, r->trace_id)) < 0) goto fail_scope;
                if (append_new(lc[L_SPAN_ID], hex_str(b, r->span_id)) < 0) goto fail_scope;
                if (append_new(lc[L_FLAGS], PyLong_FromUnsignedLong(r->flags & 0xFF)) < 0) goto fail_scope;
                if (append_new(lc[L_SEVERITY_TEXT], span_str(b, r->severity_text)) < 0) goto fail_scope;
                if (append_new(lc[L_SEVERITY_NUMBER], PyLong_FromLong((long)((uint32_t)r->severity & 0xFF))) < 0) goto fail_scope;
                if (PyList_Append(lc[L_BODY], body) < 0) goto fail_scope;
                if (PyList_Append(lc[L_LOG_ATTRS], attributes) < 0) goto fail_scope;
                if (r->event_name.len) {
                    if (append_new(lc[L_EVENT_NAME], span_str(b, r->event_name)) < 0) goto fail_scope;
                } else if (PyList_Append(lc[L_EVENT_NAME], event_name == Py_None ? s_empty : event_name) < 0) {
                    goto fail_scope;
                }
                if (PyList_Append(lc[L_ORG], org) < 0) goto fail_scope;
                accepted++;
                if (event_name == Py_None) continue;
                PyObject *session_id = get_str(attributes, k_session_id);
                if (!session_id) goto fail_scope;
                if (PyUnicode_GET_LENGTH(session_id) == 0) {
                    Py_DECREF(session_id);
                    no_session++;
                    continue;
                }
                int rc = typed_event(b, ec, org, session_id, r->key, event_name, clamp_ns(r->time), attributes, resource);
                PyObject *pair = rc == 0 ? PyTuple_Pack(2, org, session_id) : NULL;
                Py_DECREF(session_id);
                if (!pair) goto fail_scope;
                rc = PySet_Add(sessions, pair);
                Py_DECREF(pair);
                if (rc < 0) goto fail_scope;
            }
        }
        Py_DECREF(service);
        Py_DECREF(resource_org);
        Py_DECREF(resource_schema);
        continue;
    fail_scope:
        Py_DECREF(service);
        Py_DECREF(resource_org);
        Py_DECREF(resource_schema);
        goto fail;
    }
    result = Py_BuildValue("(sOO(LLLL)OLL)", "ok", logs, events, b->dropped, b->truncated, b->long_keys,
                           b->out_of_range, sessions, no_session, accepted);
fail:
    Py_XDECREF(logs); Py_XDECREF(events); Py_XDECREF(sessions);
    Py_XDECREF(resource); Py_XDECREF(scope_attrs); Py_XDECREF(attributes); Py_XDECREF(body);
    Py_XDECREF(org); Py_XDECREF(event_name); Py_XDECREF(tmp);
    for (size_t i = 0; i < b->nkeys; i++) Py_XDECREF(b->keys[i].str);
    for (size_t i = 0; i < b->nvalues; i++) Py_XDECREF(b->values[i].str);
    PyMem_Free(b->keys);
    PyMem_Free(b->values);
    PyMem_Free(b);
    return result;
}

/* decode(body, max_rows, max_expanded, row_overhead, max_attributes, max_attribute_length,
 *        max_key_length, org_for)
 * -> ("fallback", reason) | ("too_large", rows, expanded) |
 *    ("ok", log columns, event columns, (dropped, truncated, long keys, out of range),
 *     sessions, records without session.id, accepted) */
static PyObject *lw_decode(PyObject *self, PyObject *args) {
    Py_buffer body;
    unsigned long long max_rows, max_expanded, row_overhead;
    Py_ssize_t max_attributes, max_len, max_key_len;
    PyObject *org_for;
    (void)self;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "receiver._logswire.configure() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*KKKnnnO", &body, &max_rows, &max_expanded, &row_overhead, &max_attributes,
                          &max_len, &max_key_len, &org_for))
        return NULL;
    lw_scan_t *s = PyMem_RawMalloc(sizeof(lw_scan_t));
    if (!s) { PyBuffer_Release(&body); return PyErr_NoMemory(); }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = lw_scan(s, (const uint8_t *)body.buf, (size_t)body.len, max_rows);
    Py_END_ALLOW_THREADS
    PyObject *result;
    if (status == LW_NOMEM) {
        result = PyErr_NoMemory();
    } else if (status != LW_OK) {
        result = Py_BuildValue("(ss)", "fallback", s->reason);
    } else {
        unsigned long long rows = s->nrecords;
        unsigned long long expanded = s->expanded + rows * row_overhead;
        if (expanded > max_expanded) result = Py_BuildValue("(sKK)", "too_large", rows, expanded);
        else {
            /* Thousands of new dicts and lists, none in a cycle: collections triggered
             * by their allocation would only walk them. */
            int gc_was_enabled = PyGC_Disable();
            result = build(s, max_attributes, max_len, max_key_len, org_for);
            if (gc_was_enabled) PyGC_Enable();
        }
    }
    lw_scan_free(s);
    PyMem_RawFree(s);
    PyBuffer_Release(&body);
    return result;
}

/* scan(body) -> (status, reason, rows, request ByteSize, keys): the wire scan alone, for
 * tests and benchmarks. */
static PyObject *lw_scan_only(PyObject *self, PyObject *args) {
    Py_buffer body;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*", &body)) return NULL;
    lw_scan_t *s = PyMem_RawMalloc(sizeof(lw_scan_t));
    if (!s) { PyBuffer_Release(&body); return PyErr_NoMemory(); }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = lw_scan(s, (const uint8_t *)body.buf, (size_t)body.len, UINT64_MAX);
    Py_END_ALLOW_THREADS
    PyObject *keys = PyList_New(0), *result = NULL;
    for (size_t i = 0; keys && status == LW_OK && i < s->nrecords; i++) {
        if (append_new(keys, PyLong_FromUnsignedLongLong(s->records[i].key)) < 0) Py_CLEAR(keys);
    }
    if (keys) {
        result = Py_BuildValue("(isKKO)", status, s->reason, (unsigned long long)s->nrecords,
                               (unsigned long long)s->request_size, keys);
        Py_DECREF(keys);
    }
    lw_scan_free(s);
    PyMem_RawFree(s);
    PyBuffer_Release(&body);
    return result;
}

static PyObject *lw_blake2b_py(PyObject *self, PyObject *args) {
    Py_buffer data;
    Py_ssize_t size;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &data, &size)) return NULL;
    if (size < 1 || size > 64) { PyBuffer_Release(&data); PyErr_SetString(PyExc_ValueError, "digest size 1..64"); return NULL; }
    uint8_t out[64];
    lw_blake2b(out, (size_t)size, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, size);
}


/* ---- ClickHouse Native blocks ----------------------------------------------------------- */

typedef struct { char *p; size_t n, cap; } out_buf;

static int out_reserve(out_buf *o, size_t more) {
    if (o->n + more <= o->cap) return 0;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->n + more) cap *= 2;
    char *p = PyMem_Realloc(o->p, cap);
    if (!p) { PyErr_NoMemory(); return -1; }
    o->p = p;
    o->cap = cap;
    return 0;
}

static int out_put(out_buf *o, const void *data, size_t n) {
    if (out_reserve(o, n) < 0) return -1;
    memcpy(o->p + o->n, data, n);
    o->n += n;
    return 0;
}

static int out_varint(out_buf *o, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) { tmp[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    tmp[n++] = (uint8_t)v;
    return out_put(o, tmp, n);
}

static int out_le(out_buf *o, uint64_t v, int bytes) {
    uint8_t tmp[8];
    for (int i = 0; i < bytes; i++) { tmp[i] = (uint8_t)v; v >>= 8; }
    return out_put(o, tmp, (size_t)bytes);
}

static int out_str(out_buf *o, PyObject *text) {
    if (!PyUnicode_Check(text)) { PyErr_SetString(PyExc_TypeError, "Native String column: a value is not a str"); return -1; }
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &n);
    if (!utf8) return -1;
    if (out_varint(o, (uint64_t)n) < 0) return -1;
    return out_put(o, utf8, (size_t)n);
}

enum { N_INT64, N_UINT64, N_INT32, N_UINT8, N_BOOL, N_FLOAT64, N_STRING, N_MAP };

/* The kind of a Native type name (-1: not supported). */
static int native_kind(const char *t) {
    if (!strcmp(t, "DateTime64(9)") || !strcmp(t, "DateTime64(6, 'UTC')") || !strcmp(t, "Int64")) return N_INT64;
    if (!strcmp(t, "UInt64")) return N_UINT64;
    if (!strcmp(t, "Int32")) return N_INT32;
    if (!strcmp(t, "UInt8")) return N_UINT8;
    if (!strcmp(t, "Bool")) return N_BOOL;
    if (!strcmp(t, "Float64")) return N_FLOAT64;
    if (!strcmp(t, "String")) return N_STRING;
    if (!strcmp(t, "Map(String, String)")) return N_MAP;
    return -1;
}

/* The bytes of one value of a fixed-width integer kind. */
static int int_width(int kind) { return kind == N_UINT8 ? 1 : kind == N_INT32 ? 4 : 8; }

/* One non-null value of a fixed-width kind (None writes the kind's zero: a Nullable's slot). */
static int out_fixed(out_buf *o, int kind, PyObject *v) {
    if (kind == N_FLOAT64) {
        double x = 0.0;
        if (v != Py_None) {
            if (!PyFloat_Check(v) && !PyLong_Check(v)) {
                PyErr_SetString(PyExc_TypeError, "Native Float64 column: a value is not a number");
                return -1;
            }
            x = PyFloat_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred()) return -1;
        }
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        return out_le(o, bits, 8);
    }
    if (kind == N_BOOL) {
        if (v != Py_None && !PyBool_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "Native Bool column: a value is not a bool");
            return -1;
        }
        return out_le(o, v == Py_True ? 1 : 0, 1);
    }
    if (v == Py_None) return out_le(o, 0, int_width(kind));
    if (!PyLong_Check(v)) { PyErr_SetString(PyExc_TypeError, "Native integer column: a value is not an int"); return -1; }
    if (kind == N_UINT64) {
        unsigned long long x = PyLong_AsUnsignedLongLong(v);
        if (x == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "Native integer column: a value is out of range");
            return -1;
        }
        return out_le(o, (uint64_t)x, 8);
    }
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || (kind == N_UINT8 && (x < 0 || x > 255))
        || (kind == N_INT32 && (x < INT32_MIN || x > INT32_MAX))) {
        PyErr_SetString(PyExc_ValueError, "Native integer column: a value is out of range");
        return -1;
    }
    return out_le(o, (uint64_t)x, int_width(kind));
}

/* native_block(names, types, columns) -> bytes: one ClickHouse Native block. Types:
 * "DateTime64(9)" / "DateTime64(6, 'UTC')" / "Int64" / "UInt64" / "Int32" / "UInt8" (int),
 * "Bool" (bool), "Float64" (float or int), "String" (str), "Map(String, String)" (dict
 * str -> str), and "Nullable(T)" of the fixed-width ones (None is NULL). A value of the
 * wrong kind raises TypeError / ValueError. */
static PyObject *lw_native_block(PyObject *self, PyObject *args) {
    PyObject *names, *types, *columns;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &names, &PyList_Type, &types, &PyList_Type, &columns)) return NULL;
    Py_ssize_t ncols = PyList_GET_SIZE(columns);
    if (PyList_GET_SIZE(names) != ncols || PyList_GET_SIZE(types) != ncols || ncols == 0) {
        PyErr_SetString(PyExc_ValueError, "names, types and columns must have the same, non-zero length");
        return NULL;
    }
    PyObject *first = PyList_GET_ITEM(columns, 0);
    if (!PyList_Check(first)) { PyErr_SetString(PyExc_TypeError, "columns must be lists"); return NULL; }
    Py_ssize_t rows = PyList_GET_SIZE(first);
    out_buf o = {NULL, 0, 0};
    if (out_varint(&o, (uint64_t)ncols) < 0 || out_varint(&o, (uint64_t)rows) < 0) goto fail;
    for (Py_ssize_t c = 0; c < ncols; c++) {
        PyObject *name = PyList_GET_ITEM(names, c), *type = PyList_GET_ITEM(types, c), *col = PyList_GET_ITEM(columns, c);
        if (!PyList_Check(col) || PyList_GET_SIZE(col) != rows) {
            PyErr_SetString(PyExc_ValueError, "every column must be a list of the same length");
            goto fail;
        }
        const char *t = PyUnicode_Check(type) ? PyUnicode_AsUTF8(type) : NULL;
        if (!t) { PyErr_SetString(PyExc_TypeError, "types must be str"); goto fail; }
        int nullable = 0;
        char inner[64];
        size_t tl = strlen(t);
        if (tl > 10 && tl - 10 < sizeof inner && !strncmp(t, "Nullable(", 9) && t[tl - 1] == ')') {
            memcpy(inner, t + 9, tl - 10);
            inner[tl - 10] = '\0';
            nullable = 1;
        }
        int kind = native_kind(nullable ? inner : t);
        if (kind < 0 || (nullable && (kind == N_STRING || kind == N_MAP))) {
            PyErr_Format(PyExc_ValueError, "Native type %s is not supported", t);
            goto fail;
        }
        if (out_str(&o, name) < 0 || out_str(&o, type) < 0) goto fail;
        if (kind == N_MAP) {
            uint64_t offset = 0;
            for (Py_ssize_t r = 0; r < rows; r++) {
                PyObject *d = PyList_GET_ITEM(col, r);
                if (!PyDict_Check(d)) { PyErr_SetString(PyExc_TypeError, "Native Map column: a value is not a dict"); goto fail; }
                offset += (uint64_t)PyDict_GET_SIZE(d);
                if (out_le(&o, offset, 8) < 0) goto fail;
            }
            for (int part = 0; part < 2; part++) {
                for (Py_ssize_t r = 0; r < rows; r++) {
                    PyObject *d = PyList_GET_ITEM(col, r), *k, *v;
                    Py_ssize_t pos = 0;
                    while (PyDict_Next(d, &pos, &k, &v)) {
                        if (out_str(&o, part == 0 ? k : v) < 0) goto fail;
                    }
                }
            }
            continue;
        }
        if (kind == N_STRING) {
            for (Py_ssize_t r = 0; r < rows; r++) {
                if (out_str(&o, PyList_GET_ITEM(col, r)) < 0) goto fail;
            }
            continue;
        }
        if (nullable) {  /* the null map first, then every slot (zero where NULL) */
            for (Py_ssize_t r = 0; r < rows; r++) {
                if (out_le(&o, PyList_GET_ITEM(col, r) == Py_None ? 1 : 0, 1) < 0) goto fail;
            }
        }
        for (Py_ssize_t r = 0; r < rows; r++) {
            PyObject *v = PyList_GET_ITEM(col, r);
            if (v == Py_None && !nullable) {
                PyErr_SetString(PyExc_TypeError, "Native column: None in a column that is not Nullable");
                goto fail;
            }
            if (out_fixed(&o, kind, v) < 0) goto fail;
        }
    }
    PyObject *block = PyBytes_FromStringAndSize(o.p, (Py_ssize_t)o.n);
    PyMem_Free(o.p);
    return block;
fail:
    PyMem_Free(o.p);
    return NULL;
}

static int column(PyObject *special, const char *name, Py_ssize_t *out) {
    PyObject *v = PyDict_GetItemString(special, name);
    if (!v) { PyErr_Format(PyExc_KeyError, "event column %s", name); return -1; }
    *out = PyLong_AsSsize_t(v);
    if (*out < 0 || *out >= cfg_ncols) { PyErr_Format(PyExc_ValueError, "event column %s out of range", name); return -1; }
    return 0;
}

/* configure(ncols, special, key_map, defaults, json_dumps, to_int, to_float, nullable_int64,
 *           parse_iso_timestamp_us, OutOfRange, max_tokens, max_duration_ms, max_cost_usd) */
static PyObject *lw_configure(PyObject *self, PyObject *args) {
    PyObject *special, *key_map, *defaults, *json_dumps, *to_int, *to_float, *nullable_int64, *parse_iso, *out_of_range;
    Py_ssize_t ncols;
    long long max_tokens;
    double max_duration, max_cost;
    (void)self;
    if (!PyArg_ParseTuple(args, "nO!O!O!OOOOOOLdd", &ncols, &PyDict_Type, &special, &PyDict_Type, &key_map,
                          &PyTuple_Type, &defaults, &json_dumps, &to_int, &to_float, &nullable_int64, &parse_iso,
                          &out_of_range, &max_tokens, &max_duration, &max_cost))
        return NULL;
    if (ncols < 1 || ncols > MAX_COLS) { PyErr_SetString(PyExc_ValueError, "too many event columns"); return NULL; }
    cfg_ncols = ncols;
    if (column(special, "OrgId", &c_org) < 0 || column(special, "SessionId", &c_session) < 0
        || column(special, "EventKey", &c_key) < 0 || column(special, "EventName", &c_name) < 0
        || column(special, "Timestamp", &c_ts) < 0 || column(special, "Sequence", &c_seq) < 0
        || column(special, "UserEmail", &c_user_email) < 0 || column(special, "OrganizationId", &c_org_id) < 0
        || column(special, "CostUsd", &c_cost) < 0 || column(special, "CostMicros", &c_micros) < 0
        || column(special, "AppVersion", &c_app_version) < 0 || column(special, "ServiceName", &c_service) < 0
        || column(special, "Attributes", &c_attributes) < 0 || column(special, "ResourceAttributes", &c_resource_attrs) < 0)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(key_map, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyTuple_Check(v) || PyTuple_GET_SIZE(v) != 4) {
            PyErr_SetString(PyExc_TypeError, "key_map: str -> (column, kind, rank, parser)");
            return NULL;
        }
        Py_ssize_t col = PyLong_AsSsize_t(PyTuple_GET_ITEM(v, 0));
        if (col < 0 || col >= ncols) { PyErr_SetString(PyExc_ValueError, "key_map column out of range"); return NULL; }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(defaults); i++) {
        PyObject *pair = PyTuple_GET_ITEM(defaults, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) { PyErr_SetString(PyExc_TypeError, "defaults: (column, value)"); return NULL; }
        Py_ssize_t col = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        if (col < 0 || col >= ncols) { PyErr_SetString(PyExc_ValueError, "defaults column out of range"); return NULL; }
    }
    Py_INCREF(key_map); Py_XSETREF(cfg_key_map, key_map);
    Py_INCREF(defaults); Py_XSETREF(cfg_defaults, defaults);
    Py_INCREF(json_dumps); Py_XSETREF(cfg_json_dumps, json_dumps);
    Py_INCREF(to_int); Py_XSETREF(cfg_to_int, to_int);
    Py_INCREF(to_float); Py_XSETREF(cfg_to_float, to_float);
    Py_INCREF(nullable_int64); Py_XSETREF(cfg_nullable_int64, nullable_int64);
    Py_INCREF(parse_iso); Py_XSETREF(cfg_parse_iso, parse_iso);
    Py_INCREF(out_of_range); Py_XSETREF(cfg_out_of_range, out_of_range);
    cfg_max_tokens = max_tokens;
    cfg_max_duration = max_duration;
    cfg_max_cost = max_cost;
    configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", lw_configure, METH_VARARGS, "Set the events table's column layout and parsers (once)."},
    {"decode", lw_decode, METH_VARARGS, "Decode ExportLogsServiceRequest bytes into column lists."},
    {"scan", lw_scan_only, METH_VARARGS, "Wire scan alone: (status, reason, rows, request size, record keys)."},
    {"blake2b", lw_blake2b_py, METH_VARARGS, "BLAKE2b digest (the scanner's own implementation)."},
    {"native_block", lw_native_block, METH_VARARGS, "Columns as one ClickHouse Native block."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_logswire", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__logswire(void) {
#define INTERN(var, text) if (!(var = PyUnicode_InternFromString(text))) return NULL
    INTERN(s_empty, "");
    INTERN(s_true, "true");
    INTERN(s_false, "false");
    INTERN(k_service_name, "service.name");
    INTERN(k_org_id, "organization.id");
    INTERN(k_event_name, "event.name");
    INTERN(k_session_id, "session.id");
    INTERN(k_event_timestamp, "event.timestamp");
    INTERN(k_event_sequence, "event.sequence");
    INTERN(k_cost_usd, "cost_usd");
    INTERN(k_cost_usd_micros, "cost_usd_micros");
    INTERN(k_user_email, "user.email");
    INTERN(k_service_version, "service.version");
    INTERN(p_claude, "claude_code.");
    INTERN(p_bridge, "loomline.");
#undef INTERN
    return PyModule_Create(&module);
}
