/* bench/native/common.h: what the load generator and the relay share (one
 * copy, included by both): a growable byte buffer and a JSON scanner that
 * finds top-level members of an object without decoding anything.
 *
 * Each program defines out_of_memory() (how it reports dying). Everything
 * here is used by both, so -Wunused-function stays quiet.
 */

#ifndef HUBBUB_BENCH_NATIVE_COMMON_H
#define HUBBUB_BENCH_NATIVE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void);

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) out_of_memory();
    return q;
}

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_put(buf_t *b, const void *data, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        buf_reserve(b, (size_t)n + 1);
    }
}

/* Drop the first n bytes. */
static void buf_consume(buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* --- the JSON scanner ------------------------------------------------------------------ */

static const char *js_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* Past the string starting at p (on its quote). */
static const char *js_skip_string(const char *p, const char *e) {
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return e;
}

/* Past the value starting at p. */
static const char *js_skip(const char *p, const char *e) {
    p = js_ws(p, e);
    if (p >= e) return e;
    if (*p == '"') return js_skip_string(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                p = js_skip_string(p, e);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') depth--;
            p++;
            if (depth == 0) return p;
        }
        return e;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']') p++;
    return p;
}

/* A raw JSON value: [p, end); p is NULL for none. */
typedef struct {
    const char *p, *end;
} raw_t;

/* Top-level member `key` of the object in [p, e). */
static raw_t js_member(const char *p, const char *e, const char *key) {
    raw_t none = {NULL, NULL};
    size_t klen = strlen(key);
    p = js_ws(p, e);
    if (p >= e || *p != '{') return none;
    p++;
    while (p < e) {
        p = js_ws(p, e);
        if (p < e && *p == ',') p = js_ws(p + 1, e);
        if (p >= e || *p != '"') return none;
        const char *k = p + 1, *kend = js_skip_string(p, e) - 1;
        p = js_ws(kend + 1, e);
        if (p >= e || *p != ':') return none;
        p = js_ws(p + 1, e);
        const char *vend = js_skip(p, e);
        if ((size_t)(kend - k) == klen && memcmp(k, key, klen) == 0) return (raw_t){p, vend};
        p = vend;
    }
    return none;
}

#endif
