/* Wire-format scan of an OTLP ExportLogsServiceRequest (no Python API: the fuzz harness and
 * the sanitizer replay driver link this file alone).
 *
 * lw_scan() walks the protobuf bytes into flat arrays of nodes (offsets into the body, no
 * copies), computes what the Python path computes from upb messages (canonical ByteSize of
 * requests, resources and scopes; each record's deterministic re-encoding and its 64-bit
 * BLAKE2b key) and refuses -- LW_FALLBACK -- anything outside the strict subset it
 * reproduces exactly: malformed bytes, unknown fields, wrong wire types, a singular field
 * given twice, invalid UTF-8, nesting deeper than LW_MAX_DEPTH, too many rows. The caller
 * then takes the pure-Python path, which gives the error or the rows upb gives. */
#ifndef LOOMLINE_LOGSWIRE_SCAN_H
#define LOOMLINE_LOGSWIRE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define LW_MAX_DEPTH 64

enum { LW_OK = 0, LW_FALLBACK = 1, LW_NOMEM = 2 };
enum { LW_NONE = 0, LW_STR, LW_BOOL, LW_INT, LW_DOUBLE, LW_ARRAY, LW_KVLIST, LW_BYTES };

typedef struct { uint32_t off, len; } lw_span; /* bytes [off, off+len) of the body */

typedef struct {
    uint8_t kind;
    int32_t next; /* next value of the same array, -1 */
    uint64_t size; /* canonical encoded size of this AnyValue's content */
    uint64_t inner; /* array / kvlist: size of the ArrayValue / KeyValueList content */
    union {
        lw_span s; /* string, bytes */
        int64_t i;
        double d;
        int b;
        struct { int32_t first, count; } list; /* array: first value; kvlist: first kv */
    } u;
} lw_value;

typedef struct {
    lw_span key;
    int32_t value; /* -1: no value */
    int32_t next; /* next kv of the same list, -1 */
    uint64_t size;
} lw_kv;

typedef struct {
    uint64_t time, observed;
    int32_t severity;
    uint32_t dropped, flags;
    lw_span severity_text, trace_id, span_id, event_name;
    int32_t body; /* -1: absent */
    int32_t attrs, nattrs; /* first kv, count */
    uint64_t size; /* canonical encoded size */
    uint64_t key; /* BLAKE2b-64 (little-endian) of the canonical encoding */
} lw_record;

typedef struct {
    int32_t resource; /* index of its ResourceLogs */
    lw_span name, version, schema_url;
    int32_t attrs, nattrs;
    uint32_t dropped;
    int32_t first_record, nrecords;
    uint64_t scope_size; /* InstrumentationScope ByteSize() */
} lw_scope;

typedef struct {
    lw_span schema_url;
    int32_t attrs, nattrs;
    uint32_t dropped;
    int32_t first_scope, nscopes;
    uint64_t resource_size; /* Resource ByteSize() */
} lw_resource;

typedef struct {
    const uint8_t *buf;
    size_t len;
    lw_value *values; size_t nvalues, cvalues;
    lw_kv *kvs; size_t nkvs, ckvs;
    lw_record *records; size_t nrecords, crecords;
    lw_scope *scopes; size_t nscopes, cscopes;
    lw_resource *resources; size_t nresources, cresources;
    uint8_t *enc; size_t cenc; /* scratch for a record's re-encoding */
    uint64_t max_rows;
    uint64_t request_size; /* ExportLogsServiceRequest ByteSize() */
    uint64_t expanded; /* receiver.decode.request_size()'s expanded bytes */
    int status;
    const char *reason; /* why LW_FALLBACK (static string) */
} lw_scan_t;

/* Scan ``len`` bytes. Returns LW_OK, LW_FALLBACK or LW_NOMEM (also in s->status).
 * ``max_rows``: more records than this is LW_FALLBACK (the Python path refuses them). */
int lw_scan(lw_scan_t *s, const uint8_t *buf, size_t len, uint64_t max_rows);
void lw_scan_free(lw_scan_t *s);

/* Code points in a valid UTF-8 span. */
uint64_t lw_codepoints(const uint8_t *p, size_t n);

/* BLAKE2b (RFC 7693), unkeyed; ``outlen`` 1..64. */
void lw_blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen);

#endif
