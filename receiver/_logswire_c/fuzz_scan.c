/* Fuzz target and sanitizer replay driver for the wire scan (scan.c). See docs/decoder.md.
 *
 *   libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DLW_LIBFUZZER scan.c fuzz_scan.c
 *   replay:     gcc -fsanitize=address,undefined scan.c fuzz_scan.c -o replay
 *               ./replay [--mutations N] FILE_OR_DIR...   (each input, its truncations, N mutations)
 *
 * Besides what the sanitizers catch, check_scan() aborts when a scanned result breaks an
 * invariant the Python build phase relies on (every span inside the body, every index and
 * linked list in range and of the stated length). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan.h"

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void check_span(const lw_scan_t *s, lw_span sp) {
    REQUIRE((size_t)sp.off + sp.len <= s->len);
}

static void check_value(const lw_scan_t *s, int32_t idx, int depth);

static void check_kvs(const lw_scan_t *s, int32_t first, int32_t count, int depth) {
    REQUIRE(count >= 0);
    int32_t c = first;
    for (int32_t i = 0; i < count; i++) {
        REQUIRE(c >= 0 && (size_t)c < s->nkvs);
        check_span(s, s->kvs[c].key);
        if (s->kvs[c].value >= 0) check_value(s, s->kvs[c].value, depth + 1);
        c = s->kvs[c].next;
    }
}

static void check_value(const lw_scan_t *s, int32_t idx, int depth) {
    REQUIRE(depth <= 2 * LW_MAX_DEPTH);
    REQUIRE(idx >= 0 && (size_t)idx < s->nvalues);
    const lw_value *v = &s->values[idx];
    switch (v->kind) {
    case LW_STR: case LW_BYTES: check_span(s, v->u.s); break;
    case LW_ARRAY: {
        int32_t c = v->u.list.first;
        REQUIRE(v->u.list.count >= 0);
        for (int32_t i = 0; i < v->u.list.count; i++) {
            check_value(s, c, depth + 1);
            c = s->values[c].next;
        }
        break;
    }
    case LW_KVLIST: check_kvs(s, v->u.list.first, v->u.list.count, depth + 1); break;
    default: REQUIRE(v->kind <= LW_BYTES); break;
    }
}

static void check_scan(const uint8_t *data, size_t size) {
    lw_scan_t s;
    int status = lw_scan(&s, data, size, 100000);
    REQUIRE(status == s.status);
    if (status == LW_FALLBACK) REQUIRE(strncmp(s.reason, "internal", 8) != 0);
    if (status == LW_OK) {
        size_t records = 0, scopes = 0;
        for (size_t r = 0; r < s.nresources; r++) {
            const lw_resource *rs = &s.resources[r];
            check_span(&s, rs->schema_url);
            check_kvs(&s, rs->attrs, rs->nattrs, 0);
            REQUIRE(rs->first_scope >= 0 && (size_t)rs->first_scope + (size_t)rs->nscopes <= s.nscopes);
            scopes += (size_t)rs->nscopes;
            for (int32_t i = rs->first_scope; i < rs->first_scope + rs->nscopes; i++) {
                const lw_scope *sc = &s.scopes[i];
                REQUIRE(sc->resource == (int32_t)r);
                check_span(&s, sc->name); check_span(&s, sc->version); check_span(&s, sc->schema_url);
                check_kvs(&s, sc->attrs, sc->nattrs, 0);
                REQUIRE(sc->first_record >= 0 && (size_t)sc->first_record + (size_t)sc->nrecords <= s.nrecords);
                records += (size_t)sc->nrecords;
                for (int32_t k = sc->first_record; k < sc->first_record + sc->nrecords; k++) {
                    const lw_record *rec = &s.records[k];
                    check_span(&s, rec->severity_text); check_span(&s, rec->trace_id);
                    check_span(&s, rec->span_id); check_span(&s, rec->event_name);
                    if (rec->body >= 0) check_value(&s, rec->body, 0);
                    check_kvs(&s, rec->attrs, rec->nattrs, 0);
                }
            }
        }
        REQUIRE(records == s.nrecords && scopes == s.nscopes);
        REQUIRE(s.request_size <= 2 * (uint64_t)size + 16);
    }
    lw_scan_free(&s);
}

#ifdef LW_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_scan(data, size);
    return 0;
}
#else

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Deterministic mutations: bit flips, inserted and deleted runs, overwritten bytes. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
    int ops = 1 + (int)(next_random() % 6);
    for (int i = 0; i < ops; i++) {
        size_t pos = len ? (size_t)(next_random() % (len + 1)) : 0;
        switch (next_random() % 4) {
        case 0:
            if (len) buf[pos < len ? pos : len - 1] ^= (uint8_t)(1u << (next_random() % 8));
            break;
        case 1: {
            size_t n = 1 + (size_t)(next_random() % 8);
            if (len + n > cap) break;
            memmove(buf + pos + n, buf + pos, len - pos);
            for (size_t j = 0; j < n; j++) buf[pos + j] = (uint8_t)next_random();
            len += n;
            break;
        }
        case 2: {
            size_t n = 1 + (size_t)(next_random() % 16);
            if (pos + n > len) n = len - pos;
            memmove(buf + pos, buf + pos + n, len - pos - n);
            len -= n;
            break;
        }
        default:
            if (pos < len) buf[pos] = (uint8_t)next_random();
            break;
        }
    }
    return len;
}

static long inputs, mutations, truncations;

static void replay(const uint8_t *data, size_t size, long rounds) {
    /* each case in its own exact-size heap block, so ASan sees any read past its end */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    check_scan(copy, size);
    free(copy);
    inputs++;
    /* truncations: every prefix of a small input, 2000 random prefixes of a large one */
    size_t cuts = size <= 2000 ? size : 2000;
    for (size_t c = 0; c < cuts; c++) {
        size_t n = size <= 2000 ? c : (size_t)(next_random() % size);
        uint8_t *prefix = malloc(n ? n : 1);
        if (!prefix) abort();
        memcpy(prefix, data, n);
        check_scan(prefix, n);
        free(prefix);
        truncations++;
    }
    size_t cap = size + 64;
    uint8_t *work = malloc(cap);
    if (!work) abort();
    for (long r = 0; r < rounds; r++) {
        memcpy(work, data, size);
        size_t len = mutate(work, size, cap);
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) abort();
        memcpy(exact, work, len);
        check_scan(exact, len);
        free(exact);
        mutations++;
    }
    free(work);
}

static void replay_path(const char *path, long rounds) {
    struct stat st;
    if (stat(path, &st) != 0) { perror(path); exit(2); }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) { perror(path); exit(2); }
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (entry->d_name[0] == '.') continue;
            char child[4096];
            snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
            replay_path(child, rounds);
        }
        closedir(dir);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    uint8_t *data = malloc((size_t)st.st_size + 1);
    if (!data) abort();
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    replay(data, n, rounds);
    free(data);
}

int main(int argc, char **argv) {
    long rounds = 0;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--mutations") == 0) { rounds = atol(argv[i + 1]); i += 2; }
    if (i >= argc) { fprintf(stderr, "usage: %s [--mutations N] FILE_OR_DIR...\n", argv[0]); return 2; }
    for (; i < argc; i++) replay_path(argv[i], rounds);
    printf("replayed %ld inputs, %ld truncations and %ld mutations without a finding\n", inputs, truncations, mutations);
    return 0;
}
#endif
