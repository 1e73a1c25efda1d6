/* Wire-format scan of ExportLogsServiceRequest: see scan.h. Pure C, no allocation beyond
 * the node arrays (bounded by the body: every node takes at least two bytes of it). */
#include "scan.h"

#include <stdlib.h>
#include <string.h>

#define FALLBACK(why) do { s->status = LW_FALLBACK; s->reason = (why); return -1; } while (0)
#define CHECK(expr) do { if ((expr) < 0) return -1; } while (0)

/* ---- growable arrays ---------------------------------------------------------------- */

static int grow(lw_scan_t *s, void **items, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*items, cap2 * item);
    if (!p) { s->status = LW_NOMEM; s->reason = "out of memory"; return -1; }
    *items = p;
    *cap = cap2;
    return 0;
}

static int32_t new_value(lw_scan_t *s) {
    if (s->nvalues >= INT32_MAX) FALLBACK("too many values");
    if (grow(s, (void **)&s->values, &s->cvalues, s->nvalues + 1, sizeof(lw_value)) < 0) return -1;
    lw_value *v = &s->values[s->nvalues];
    memset(v, 0, sizeof(*v));
    v->next = -1;
    return (int32_t)s->nvalues++;
}

static int32_t new_kv(lw_scan_t *s) {
    if (s->nkvs >= INT32_MAX) FALLBACK("too many attributes");
    if (grow(s, (void **)&s->kvs, &s->ckvs, s->nkvs + 1, sizeof(lw_kv)) < 0) return -1;
    lw_kv *kv = &s->kvs[s->nkvs];
    memset(kv, 0, sizeof(*kv));
    kv->value = -1;
    kv->next = -1;
    return (int32_t)s->nkvs++;
}

/* ---- wire primitives ---------------------------------------------------------------- */

/* Varint; stricter than upb (a 10th byte above 1 is refused), never laxer. */
static int rd_varint(lw_scan_t *s, const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*p >= end) FALLBACK("truncated varint");
        uint8_t b = *(*p)++;
        if (i == 9 && b > 1) FALLBACK("varint too long");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) { *out = v; return 0; }
    }
    FALLBACK("varint too long");
}

static int rd_tag(lw_scan_t *s, const uint8_t **p, const uint8_t *end, uint32_t *field, uint32_t *wt) {
    uint64_t tag;
    CHECK(rd_varint(s, p, end, &tag));
    if (tag > UINT32_MAX || (tag >> 3) == 0) FALLBACK("bad tag");
    *field = (uint32_t)(tag >> 3);
    *wt = (uint32_t)(tag & 7);
    return 0;
}

static int rd_len(lw_scan_t *s, const uint8_t **p, const uint8_t *end, const uint8_t **start, const uint8_t **stop) {
    uint64_t n;
    CHECK(rd_varint(s, p, end, &n));
    if (n > (uint64_t)(end - *p)) FALLBACK("length beyond the message");
    *start = *p;
    *stop = *p + n;
    *p = *stop;
    return 0;
}

static int rd_fixed64(lw_scan_t *s, const uint8_t **p, const uint8_t *end, uint64_t *out) {
    if (end - *p < 8) FALLBACK("truncated fixed64");
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | (*p)[i];
    *p += 8;
    *out = v;
    return 0;
}

static int rd_fixed32(lw_scan_t *s, const uint8_t **p, const uint8_t *end, uint32_t *out) {
    if (end - *p < 4) FALLBACK("truncated fixed32");
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | (*p)[i];
    *p += 4;
    *out = v;
    return 0;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), as Python decodes. */
static int utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && p[i + 1] < 0xA0) return 0;
            if (c == 0xED && p[i + 1] > 0x9F) return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 || (p[i + 3] & 0xC0) != 0x80) return 0;
            if (c == 0xF0 && p[i + 1] < 0x90) return 0;
            if (c == 0xF4 && p[i + 1] > 0x8F) return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

uint64_t lw_codepoints(const uint8_t *p, size_t n) {
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) count += (p[i] & 0xC0) != 0x80;
    return count;
}

static int rd_string(lw_scan_t *s, const uint8_t **p, const uint8_t *end, lw_span *out, int utf8) {
    const uint8_t *a, *b;
    CHECK(rd_len(s, p, end, &a, &b));
    if (utf8 && !utf8_valid(a, (size_t)(b - a))) FALLBACK("invalid UTF-8");
    out->off = (uint32_t)(a - s->buf);
    out->len = (uint32_t)(b - a);
    return 0;
}

static uint64_t varint_size(uint64_t v) {
    uint64_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

/* Size of a length-delimited field (one-byte tag) holding ``n`` bytes. */
static uint64_t ld_size(uint64_t n) { return 1 + varint_size(n) + n; }

#define SEEN(bit) do { if (seen & (1u << (bit))) FALLBACK("singular field repeated"); seen |= 1u << (bit); } while (0)
#define EXPECT(w) do { if (wt != (w)) FALLBACK("unexpected wire type"); } while (0)

/* ---- messages ----------------------------------------------------------------------- */

static int parse_value(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, int32_t *out);

static int parse_kv(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, int32_t *out) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    int32_t idx = new_kv(s);
    CHECK(idx);
    unsigned seen = 0;
    lw_span key = {0, 0};
    int32_t value = -1;
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        if (field == 1) {
            EXPECT(2); SEEN(1);
            CHECK(rd_string(s, &p, end, &key, 1));
        } else if (field == 2) {
            EXPECT(2); SEEN(2);
            const uint8_t *a, *b;
            CHECK(rd_len(s, &p, end, &a, &b));
            CHECK(parse_value(s, a, b, depth + 1, &value));
        } else {
            FALLBACK("unknown KeyValue field");
        }
    }
    lw_kv *kv = &s->kvs[idx];
    kv->key = key;
    kv->value = value;
    kv->size = (key.len ? ld_size(key.len) : 0) + (value >= 0 ? ld_size(s->values[value].size) : 0);
    *out = idx;
    return 0;
}

/* Repeated KeyValue at field ``number``: appended to the list (first, count, last). */
typedef struct { int32_t first, count, last; uint64_t size; } kv_list;

static int add_kv(lw_scan_t *s, kv_list *list, const uint8_t **p, const uint8_t *end, int depth) {
    const uint8_t *a, *b;
    CHECK(rd_len(s, p, end, &a, &b));
    int32_t idx;
    CHECK(parse_kv(s, a, b, depth + 1, &idx));
    if (list->count == INT32_MAX) FALLBACK("too many attributes");
    if (list->count == 0) list->first = idx;
    else s->kvs[list->last].next = idx;
    list->last = idx;
    list->count++;
    list->size += ld_size(s->kvs[idx].size);
    return 0;
}

static int parse_value(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, int32_t *out) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    int32_t idx = new_value(s);
    CHECK(idx);
    uint8_t kind = LW_NONE;
    uint64_t size = 0, raw, inner_size = 0;
    lw_span span = {0, 0};
    int64_t ival = 0;
    double dval = 0.0;
    int bval = 0;
    int32_t first = -1, count = 0, last = -1;
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        if (kind != LW_NONE && field >= 1 && field <= 7) FALLBACK("AnyValue holds two values");
        switch (field) {
        case 1:
            EXPECT(2);
            CHECK(rd_string(s, &p, end, &span, 1));
            kind = LW_STR; size = ld_size(span.len);
            break;
        case 2:
            EXPECT(0);
            CHECK(rd_varint(s, &p, end, &raw));
            kind = LW_BOOL; bval = raw != 0; size = 2;
            break;
        case 3:
            EXPECT(0);
            CHECK(rd_varint(s, &p, end, &raw));
            kind = LW_INT; ival = (int64_t)raw; size = 1 + varint_size(raw);
            break;
        case 4:
            EXPECT(1);
            CHECK(rd_fixed64(s, &p, end, &raw));
            kind = LW_DOUBLE; memcpy(&dval, &raw, 8); size = 9;
            break;
        case 5:
        case 6: {
            EXPECT(2);
            const uint8_t *a, *b;
            CHECK(rd_len(s, &p, end, &a, &b));
            uint64_t inner = 0;
            /* ArrayValue / KeyValueList: repeated field 1 only */
            while (a < b) {
                uint32_t f2, w2;
                CHECK(rd_tag(s, &a, b, &f2, &w2));
                if (f2 != 1 || w2 != 2) FALLBACK("unknown array or kvlist field");
                const uint8_t *c, *d;
                CHECK(rd_len(s, &a, b, &c, &d));
                int32_t child;
                if (field == 5) {
                    CHECK(parse_value(s, c, d, depth + 2, &child));
                    inner += ld_size(s->values[child].size);
                    if (last >= 0) s->values[last].next = child;
                } else {
                    CHECK(parse_kv(s, c, d, depth + 2, &child));
                    inner += ld_size(s->kvs[child].size);
                    if (last >= 0) s->kvs[last].next = child;
                }
                if (count == INT32_MAX) FALLBACK("too many values");
                if (count == 0) first = child;
                last = child;
                count++;
            }
            kind = field == 5 ? LW_ARRAY : LW_KVLIST;
            size = ld_size(inner);
            inner_size = inner;
            break;
        }
        case 7:
            EXPECT(2);
            CHECK(rd_string(s, &p, end, &span, 0));
            kind = LW_BYTES; size = ld_size(span.len);
            break;
        default:
            FALLBACK("unknown AnyValue field");
        }
    }
    lw_value *v = &s->values[idx];
    v->kind = kind;
    v->size = size;
    v->inner = inner_size;
    switch (kind) {
    case LW_STR: case LW_BYTES: v->u.s = span; break;
    case LW_BOOL: v->u.b = bval; break;
    case LW_INT: v->u.i = ival; break;
    case LW_DOUBLE: v->u.d = dval; break;
    case LW_ARRAY: case LW_KVLIST: v->u.list.first = first; v->u.list.count = count; break;
    default: break;
    }
    *out = idx;
    return 0;
}

/* ---- canonical re-encoding (what upb's SerializeToString(deterministic=True) writes) --- */

static uint8_t *put_varint(uint8_t *o, uint64_t v) {
    while (v >= 0x80) { *o++ = (uint8_t)(v | 0x80); v >>= 7; }
    *o++ = (uint8_t)v;
    return o;
}

static uint8_t *put_fixed(uint8_t *o, uint64_t v, int n) {
    for (int i = 0; i < n; i++) { *o++ = (uint8_t)v; v >>= 8; }
    return o;
}

static uint8_t *put_bytes(lw_scan_t *s, uint8_t *o, uint8_t tag, lw_span sp) {
    *o++ = tag;
    o = put_varint(o, sp.len);
    memcpy(o, s->buf + sp.off, sp.len);
    return o + sp.len;
}

static uint8_t *enc_kv(lw_scan_t *s, uint8_t *o, int32_t idx);

static uint8_t *enc_value(lw_scan_t *s, uint8_t *o, int32_t idx) {
    const lw_value *v = &s->values[idx];
    switch (v->kind) {
    case LW_STR: return put_bytes(s, o, 0x0a, v->u.s);
    case LW_BOOL: *o++ = 0x10; *o++ = (uint8_t)v->u.b; return o;
    case LW_INT: *o++ = 0x18; return put_varint(o, (uint64_t)v->u.i);
    case LW_DOUBLE: { uint64_t raw; memcpy(&raw, &v->u.d, 8); *o++ = 0x21; return put_fixed(o, raw, 8); }
    case LW_BYTES: return put_bytes(s, o, 0x3a, v->u.s);
    case LW_ARRAY: case LW_KVLIST: {
        *o++ = v->kind == LW_ARRAY ? 0x2a : 0x32;
        o = put_varint(o, v->inner);
        int32_t c = v->u.list.first;
        for (int32_t i = 0; i < v->u.list.count; i++) {
            *o++ = 0x0a;
            if (v->kind == LW_ARRAY) {
                o = put_varint(o, s->values[c].size);
                o = enc_value(s, o, c);
                c = s->values[c].next;
            } else {
                o = put_varint(o, s->kvs[c].size);
                o = enc_kv(s, o, c);
                c = s->kvs[c].next;
            }
        }
        return o;
    }
    default: return o;
    }
}

static uint8_t *enc_kv(lw_scan_t *s, uint8_t *o, int32_t idx) {
    const lw_kv *kv = &s->kvs[idx];
    if (kv->key.len) o = put_bytes(s, o, 0x0a, kv->key);
    if (kv->value >= 0) {
        *o++ = 0x12;
        o = put_varint(o, s->values[kv->value].size);
        o = enc_value(s, o, kv->value);
    }
    return o;
}

/* ---- records, scopes, resources ---------------------------------------------------- */

static int parse_record(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, lw_record *r) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    memset(r, 0, sizeof(*r));
    r->body = -1;
    kv_list attrs = {-1, 0, -1, 0};
    unsigned seen = 0;
    uint64_t raw;
    uint32_t raw32;
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        switch (field) {
        case 1: EXPECT(1); SEEN(1); CHECK(rd_fixed64(s, &p, end, &r->time)); break;
        case 2: EXPECT(0); SEEN(2); CHECK(rd_varint(s, &p, end, &raw)); r->severity = (int32_t)(uint32_t)raw; break;
        case 3: EXPECT(2); SEEN(3); CHECK(rd_string(s, &p, end, &r->severity_text, 1)); break;
        case 5: {
            EXPECT(2); SEEN(5);
            const uint8_t *a, *b;
            CHECK(rd_len(s, &p, end, &a, &b));
            CHECK(parse_value(s, a, b, depth + 1, &r->body));
            break;
        }
        case 6: EXPECT(2); CHECK(add_kv(s, &attrs, &p, end, depth)); break;
        case 7: EXPECT(0); SEEN(7); CHECK(rd_varint(s, &p, end, &raw)); r->dropped = (uint32_t)raw; break;
        case 8: EXPECT(5); SEEN(8); CHECK(rd_fixed32(s, &p, end, &raw32)); r->flags = raw32; break;
        case 9: EXPECT(2); SEEN(9); CHECK(rd_string(s, &p, end, &r->trace_id, 0)); break;
        case 10: EXPECT(2); SEEN(10); CHECK(rd_string(s, &p, end, &r->span_id, 0)); break;
        case 11: EXPECT(1); SEEN(11); CHECK(rd_fixed64(s, &p, end, &r->observed)); break;
        case 12: EXPECT(2); SEEN(12); CHECK(rd_string(s, &p, end, &r->event_name, 1)); break;
        default: FALLBACK("unknown LogRecord field");
        }
    }
    r->attrs = attrs.first;
    r->nattrs = attrs.count;
    uint64_t size = 0;
    if (r->time) size += 9;
    if (r->severity) size += 1 + varint_size((uint64_t)(int64_t)r->severity);
    if (r->severity_text.len) size += ld_size(r->severity_text.len);
    if (r->body >= 0) size += ld_size(s->values[r->body].size);
    size += attrs.size;
    if (r->dropped) size += 1 + varint_size(r->dropped);
    if (r->flags) size += 5;
    if (r->trace_id.len) size += ld_size(r->trace_id.len);
    if (r->span_id.len) size += ld_size(r->span_id.len);
    if (r->observed) size += 9;
    if (r->event_name.len) size += ld_size(r->event_name.len);
    r->size = size;

    /* The EventKey: BLAKE2b-64 of the record's deterministic encoding, as record_key(). */
    if (size > SIZE_MAX / 2) FALLBACK("record too large");
    if (grow(s, (void **)&s->enc, &s->cenc, (size_t)size + 1, 1) < 0) return -1;
    uint8_t *o = s->enc;
    if (r->time) { *o++ = 0x09; o = put_fixed(o, r->time, 8); }
    if (r->severity) { *o++ = 0x10; o = put_varint(o, (uint64_t)(int64_t)r->severity); }
    if (r->severity_text.len) o = put_bytes(s, o, 0x1a, r->severity_text);
    if (r->body >= 0) { *o++ = 0x2a; o = put_varint(o, s->values[r->body].size); o = enc_value(s, o, r->body); }
    for (int32_t i = 0, c = r->attrs; i < r->nattrs; i++, c = s->kvs[c].next) {
        *o++ = 0x32;
        o = put_varint(o, s->kvs[c].size);
        o = enc_kv(s, o, c);
    }
    if (r->dropped) { *o++ = 0x38; o = put_varint(o, r->dropped); }
    if (r->flags) { *o++ = 0x45; o = put_fixed(o, r->flags, 4); }
    if (r->trace_id.len) o = put_bytes(s, o, 0x4a, r->trace_id);
    if (r->span_id.len) o = put_bytes(s, o, 0x52, r->span_id);
    if (r->observed) { *o++ = 0x59; o = put_fixed(o, r->observed, 8); }
    if (r->event_name.len) o = put_bytes(s, o, 0x62, r->event_name);
    if ((uint64_t)(o - s->enc) != size) FALLBACK("internal: encoded size mismatch");
    uint8_t digest[8];
    lw_blake2b(digest, 8, s->enc, (size_t)size);
    r->key = 0;
    for (int i = 7; i >= 0; i--) r->key = (r->key << 8) | digest[i];
    return 0;
}

/* InstrumentationScope into ``sc``; returns its ByteSize() in *size. */
static int parse_scope(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, lw_scope *sc) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    kv_list attrs = {-1, 0, -1, 0};
    unsigned seen = 0;
    uint64_t raw;
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        switch (field) {
        case 1: EXPECT(2); SEEN(1); CHECK(rd_string(s, &p, end, &sc->name, 1)); break;
        case 2: EXPECT(2); SEEN(2); CHECK(rd_string(s, &p, end, &sc->version, 1)); break;
        case 3: EXPECT(2); CHECK(add_kv(s, &attrs, &p, end, depth)); break;
        case 4: EXPECT(0); SEEN(4); CHECK(rd_varint(s, &p, end, &raw)); sc->dropped = (uint32_t)raw; break;
        default: FALLBACK("unknown InstrumentationScope field");
        }
    }
    sc->attrs = attrs.first;
    sc->nattrs = attrs.count;
    sc->scope_size = (sc->name.len ? ld_size(sc->name.len) : 0) + (sc->version.len ? ld_size(sc->version.len) : 0)
        + attrs.size + (sc->dropped ? 1 + varint_size(sc->dropped) : 0);
    return 0;
}

/* ScopeLogs; returns its ByteSize() in *size. */
static int parse_scope_logs(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, int32_t resource, uint64_t *size) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    if (s->nscopes >= INT32_MAX) FALLBACK("too many scopes");
    if (grow(s, (void **)&s->scopes, &s->cscopes, s->nscopes + 1, sizeof(lw_scope)) < 0) return -1;
    size_t si = s->nscopes++;
    lw_scope *sc = &s->scopes[si];
    memset(sc, 0, sizeof(*sc));
    sc->resource = resource;
    sc->attrs = -1;
    sc->first_record = (int32_t)s->nrecords;
    unsigned seen = 0;
    int has_scope = 0;
    uint64_t records_size = 0;
    lw_span schema_url = {0, 0};
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        const uint8_t *a, *b;
        switch (field) {
        case 1: {
            EXPECT(2); SEEN(1);
            CHECK(rd_len(s, &p, end, &a, &b));
            lw_scope tmp = s->scopes[si];
            CHECK(parse_scope(s, a, b, depth + 1, &tmp));
            s->scopes[si] = tmp;
            has_scope = 1;
            break;
        }
        case 2: {
            EXPECT(2);
            CHECK(rd_len(s, &p, end, &a, &b));
            if (s->nrecords >= s->max_rows || s->nrecords >= INT32_MAX) FALLBACK("too many rows");
            if (grow(s, (void **)&s->records, &s->crecords, s->nrecords + 1, sizeof(lw_record)) < 0) return -1;
            lw_record r;
            CHECK(parse_record(s, a, b, depth + 1, &r));
            s->records[s->nrecords++] = r;
            records_size += ld_size(r.size);
            break;
        }
        case 3: EXPECT(2); SEEN(3); CHECK(rd_string(s, &p, end, &schema_url, 1)); break;
        default: FALLBACK("unknown ScopeLogs field");
        }
    }
    sc = &s->scopes[si];
    sc->schema_url = schema_url;
    sc->nrecords = (int32_t)(s->nrecords - (size_t)sc->first_record);
    *size = (has_scope ? ld_size(sc->scope_size) : 0) + records_size + (schema_url.len ? ld_size(schema_url.len) : 0);
    return 0;
}

static int parse_resource(lw_scan_t *s, const uint8_t *p, const uint8_t *end, int depth, lw_resource *rs) {
    if (depth > LW_MAX_DEPTH) FALLBACK("nesting too deep");
    kv_list attrs = {-1, 0, -1, 0};
    unsigned seen = 0;
    uint64_t raw;
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        switch (field) {
        case 1: EXPECT(2); CHECK(add_kv(s, &attrs, &p, end, depth)); break;
        case 2: EXPECT(0); SEEN(2); CHECK(rd_varint(s, &p, end, &raw)); rs->dropped = (uint32_t)raw; break;
        default: FALLBACK("unknown Resource field");
        }
    }
    rs->attrs = attrs.first;
    rs->nattrs = attrs.count;
    rs->resource_size = attrs.size + (rs->dropped ? 1 + varint_size(rs->dropped) : 0);
    return 0;
}

static int parse_resource_logs(lw_scan_t *s, const uint8_t *p, const uint8_t *end, uint64_t *size) {
    if (s->nresources >= INT32_MAX) FALLBACK("too many resources");
    if (grow(s, (void **)&s->resources, &s->cresources, s->nresources + 1, sizeof(lw_resource)) < 0) return -1;
    size_t ri = s->nresources++;
    lw_resource *rs = &s->resources[ri];
    memset(rs, 0, sizeof(*rs));
    rs->attrs = -1;
    rs->first_scope = (int32_t)s->nscopes;
    unsigned seen = 0;
    int has_resource = 0;
    uint64_t scopes_size = 0;
    lw_span schema_url = {0, 0};
    while (p < end) {
        uint32_t field, wt;
        CHECK(rd_tag(s, &p, end, &field, &wt));
        const uint8_t *a, *b;
        switch (field) {
        case 1: {
            EXPECT(2); SEEN(1);
            CHECK(rd_len(s, &p, end, &a, &b));
            lw_resource tmp = s->resources[ri];
            CHECK(parse_resource(s, a, b, 2, &tmp));
            s->resources[ri] = tmp;
            has_resource = 1;
            break;
        }
        case 2: {
            EXPECT(2);
            CHECK(rd_len(s, &p, end, &a, &b));
            uint64_t n;
            CHECK(parse_scope_logs(s, a, b, 2, (int32_t)ri, &n));
            scopes_size += ld_size(n);
            break;
        }
        case 3: EXPECT(2); SEEN(3); CHECK(rd_string(s, &p, end, &schema_url, 1)); break;
        default: FALLBACK("unknown ResourceLogs field");
        }
    }
    rs = &s->resources[ri];
    rs->schema_url = schema_url;
    rs->nscopes = (int32_t)(s->nscopes - (size_t)rs->first_scope);
    *size = (has_resource ? ld_size(rs->resource_size) : 0) + scopes_size + (schema_url.len ? ld_size(schema_url.len) : 0);
    return 0;
}

int lw_scan(lw_scan_t *s, const uint8_t *buf, size_t len, uint64_t max_rows) {
    memset(s, 0, sizeof(*s));
    s->buf = buf;
    s->len = len;
    s->max_rows = max_rows;
    s->status = LW_OK;
    s->reason = "";
    if (len >= (1u << 30)) { s->status = LW_FALLBACK; s->reason = "body too large for the scanner"; return s->status; }
    const uint8_t *p = buf, *end = buf + len;
    uint64_t total = 0;
    while (p < end) {
        uint32_t field, wt;
        const uint8_t *a, *b;
        if (rd_tag(s, &p, end, &field, &wt) < 0) return s->status;
        if (field != 1 || wt != 2) { s->status = LW_FALLBACK; s->reason = "unknown request field"; return s->status; }
        if (rd_len(s, &p, end, &a, &b) < 0) return s->status;
        uint64_t n;
        if (parse_resource_logs(s, a, b, &n) < 0) return s->status;
        total += ld_size(n);
    }
    s->request_size = total;
    /* receiver.decode.request_size(): resource and scope sizes count once per record. */
    uint64_t expanded = total;
    for (size_t i = 0; i < s->nscopes; i++) {
        const lw_scope *sc = &s->scopes[i];
        const lw_resource *rs = &s->resources[sc->resource];
        uint64_t per = rs->resource_size + lw_codepoints(buf + rs->schema_url.off, rs->schema_url.len)
            + sc->scope_size + lw_codepoints(buf + sc->schema_url.off, sc->schema_url.len);
        expanded += (uint64_t)sc->nrecords * per;
    }
    s->expanded = expanded;
    return s->status;
}

void lw_scan_free(lw_scan_t *s) {
    free(s->values);
    free(s->kvs);
    free(s->records);
    free(s->scopes);
    free(s->resources);
    free(s->enc);
    s->values = NULL; s->kvs = NULL; s->records = NULL; s->scopes = NULL; s->resources = NULL; s->enc = NULL;
}

/* ---- BLAKE2b (RFC 7693) ------------------------------------------------------------- */

static const uint64_t b2_iv[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

static const uint8_t b2_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2G(a, b, c, d, x, y) do { \
    v[a] = v[a] + v[b] + (x); v[d] = ROTR64(v[d] ^ v[a], 32); \
    v[c] = v[c] + v[d]; v[b] = ROTR64(v[b] ^ v[c], 24); \
    v[a] = v[a] + v[b] + (y); v[d] = ROTR64(v[d] ^ v[a], 16); \
    v[c] = v[c] + v[d]; v[b] = ROTR64(v[b] ^ v[c], 63); } while (0)

static void b2_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) { v[i] = h[i]; v[i + 8] = b2_iv[i]; }
    v[12] ^= t; /* inputs below 2^64 bytes: the high counter word stays 0 */
    if (last) v[14] = ~v[14];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, 128);
#else
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int j = 7; j >= 0; j--) w = (w << 8) | block[8 * i + j];
        m[i] = w;
    }
#endif
    for (int r = 0; r < 12; r++) {
        const uint8_t *sg = b2_sigma[r];
        B2G(0, 4, 8, 12, m[sg[0]], m[sg[1]]);
        B2G(1, 5, 9, 13, m[sg[2]], m[sg[3]]);
        B2G(2, 6, 10, 14, m[sg[4]], m[sg[5]]);
        B2G(3, 7, 11, 15, m[sg[6]], m[sg[7]]);
        B2G(0, 5, 10, 15, m[sg[8]], m[sg[9]]);
        B2G(1, 6, 11, 12, m[sg[10]], m[sg[11]]);
        B2G(2, 7, 8, 13, m[sg[12]], m[sg[13]]);
        B2G(3, 4, 9, 14, m[sg[14]], m[sg[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

void lw_blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen) {
    uint64_t h[8];
    uint8_t block[128];
    for (int i = 0; i < 8; i++) h[i] = b2_iv[i];
    h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    uint64_t t = 0;
    /* every full block but the last is compressed as not-last */
    while (inlen > 128) {
        t += 128;
        b2_compress(h, in, t, 0);
        in += 128;
        inlen -= 128;
    }
    memset(block, 0, sizeof(block));
    if (inlen) memcpy(block, in, inlen);
    t += inlen;
    b2_compress(h, block, t, 1);
    for (size_t i = 0; i < outlen; i++) out[i] = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
}
