/* bench/native/loadgen.c: the native fan-out load generator, a drop-in for
 * `python -m bench.gen CONFIG.json` in its `fanout` mode (see bench/gen.py).
 *
 * One thread, one epoll loop, libc only. It reads the same CONFIG.json (the
 * keys of bench/fanout.py generator_config plus what the harness adds: port,
 * server_pid, receiver_tokens, sender_token, dialect, server_core, gen_core),
 * prints the same JSON lines on stdout ({"event": "connected"}, one
 * {"event": "step"} per rate step, {"event": "latency"}, then the result object
 * with the same keys), and runs the same rate search: the numbers mean what
 * they mean in gen.py, only the generator costs much less per delivery.
 *
 * It holds R receivers and S senders (one unless "sender_tokens" lists more).
 * The senders are one open-loop source: message i is due at t0 + i/rate, goes
 * out through sender i mod S, its text is "bench <intended send time> xxx...",
 * and it goes out once due and while the in-flight window (sent, not yet
 * acked, over all senders) has room. Where a sender's own copy is its ack
 * (echo_ack dialects), the first sender's copies ack every sender's messages:
 * it is in the room, so its copy says the server broadcast the message. With "burst": N in the config it first sends N messages as fast as the
 * socket takes them (window "burst_window", default N) and reports the
 * deliveries/s of that burst. Receivers count deliveries by a prefix check;
 * every sample_every-th receiver (a sampler) also reads seq (continuity) and
 * the intended send time (latency, per rate step and for the latency run).
 *
 * Dialects (bench/dialects.py): hubbub (native), socketio (Engine.IO 4 /
 * Socket.IO 5), plain (ws / websockets peers), tutorial (hubbub's S1 tutorial
 * protocol: ?room_name= on connect, sendMessage, {"messages": [...]} pushes).
 *
 * The WebSocket client is written here: HTTP/1.1 upgrade, masked client frames
 * (a fresh xorshift key per frame), server frames with continuation frames
 * reassembled, ping -> pong, close answered. Incoming JSON is never fully
 * parsed: a small scanner looks up top-level members of an object by key,
 * skipping strings (escapes included) and nested values, and reads integers
 * and the intended-time prefix of a text. It relies on: deliveries starting
 * with the dialect's prefix (e.g. {"type":"message"), seq being a JSON integer
 * and the text starting "bench <float>" (so escapes inside it never matter),
 * and a frame's type/id/code being top-level members. Stdin: a line asks it to
 * stop after the current rate step (no latency run); gen.py's fan-out reads no
 * stdin at all, so the harness never sends one to either.
 *
 * Built by the bench (bench/native.py): cc -O2 -Wall -Wextra -o loadgen loadgen.c
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h> /* NAN, INFINITY, isnan: macros, no libm */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* --- small things ---------------------------------------------------------------- */

/* Our own min/max/round: libm is not linked (libc only). */
static double dmin(double a, double b) { return a < b ? a : b; }
static double dmax(double a, double b) { return a > b ? a : b; }
static double dround(double x) { return x < 0 ? -(double)(long long)(-x + 0.5) : (double)(long long)(x + 0.5); }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit_error(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen: %s\n", msg);
    /* The harness reads {"error": ...} and shows it; keep the text JSON-safe. */
    for (char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = ' ';
    printf("{\"error\": \"%s\"}\n", msg);
    fflush(stdout);
    exit(1);
}

static void out_of_memory(void) { emit_error("out of memory"); }


static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void) { /* xorshift64: mask keys and ping phases */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(rng() >> 11) / 9007199254740992.0;
}

/* A JSON string literal (for tokens, channel names, texts we make). */
static void buf_json_str(buf_t *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf_put(b, "\\", 1);
            buf_put(b, s, 1);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_put(b, s, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* A growable array of doubles (latency samples). */
typedef struct {
    double *v;
    size_t n, cap;
} samples_t;

static void samples_add(samples_t *s, double x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

/* --- the config: a small but complete JSON parser ---------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int type;
    double num;
    char *str;
    int n;
    struct jv *items;
    char **keys; /* objects: keys[i] names items[i] */
} jv;

typedef struct {
    const char *p, *end;
} jparser;

static void jp_ws(jparser *jp) {
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
        jp->p++;
}

static void jp_utf8(buf_t *b, unsigned cp) {
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else {
        out[0] = (char)(0xE0 | (cp >> 12)), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    }
    buf_put(b, out, n);
}

static char *jp_string(jparser *jp) {
    buf_t b = {0};
    jp->p++; /* the opening quote */
    while (jp->p < jp->end && *jp->p != '"') {
        char c = *jp->p++;
        if (c != '\\') {
            buf_put(&b, &c, 1);
            continue;
        }
        if (jp->p >= jp->end) break;
        char e = *jp->p++;
        const char *plain = strchr("\"\\/bfnrt", e);
        if (e == 'u' && jp->end - jp->p >= 4) {
            char hex[5] = {jp->p[0], jp->p[1], jp->p[2], jp->p[3], 0};
            jp->p += 4;
            jp_utf8(&b, (unsigned)strtoul(hex, NULL, 16));
        } else if (plain != NULL) {
            static const char real[] = "\"\\/\b\f\n\r\t";
            buf_put(&b, &real[plain - "\"\\/bfnrt"], 1);
        }
    }
    jp->p++; /* the closing quote */
    buf_put(&b, "", 1);
    return b.p;
}

static jv jp_value(jparser *jp);

static void jp_add(jv *v, jv item, char *key) {
    v->items = xrealloc(v->items, (size_t)(v->n + 1) * sizeof *v->items);
    v->keys = xrealloc(v->keys, (size_t)(v->n + 1) * sizeof *v->keys);
    v->items[v->n] = item;
    v->keys[v->n] = key;
    v->n++;
}

static jv jp_container(jparser *jp, bool object) {
    jv v = {.type = object ? J_OBJ : J_ARR};
    char close = object ? '}' : ']';
    jp->p++;
    for (;;) {
        jp_ws(jp);
        if (jp->p >= jp->end) emit_error("config: unexpected end");
        if (*jp->p == close) {
            jp->p++;
            return v;
        }
        if (*jp->p == ',') {
            jp->p++;
            continue;
        }
        char *key = NULL;
        if (object) {
            if (*jp->p != '"') emit_error("config: expected a key");
            key = jp_string(jp);
            jp_ws(jp);
            if (jp->p >= jp->end || *jp->p != ':') emit_error("config: expected ':'");
            jp->p++;
        }
        jp_add(&v, jp_value(jp), key);
    }
}

static jv jp_value(jparser *jp) {
    jp_ws(jp);
    jv v = {.type = J_NULL};
    if (jp->p >= jp->end) emit_error("config: unexpected end");
    char c = *jp->p;
    if (c == '{' || c == '[') return jp_container(jp, c == '{');
    if (c == '"') {
        v.type = J_STR;
        v.str = jp_string(jp);
    } else if (c == 't' || c == 'f') {
        v.type = J_BOOL;
        v.num = c == 't';
        jp->p += c == 't' ? 4 : 5;
    } else if (c == 'n') {
        jp->p += 4;
    } else {
        char *end;
        v.type = J_NUM;
        v.num = strtod(jp->p, &end);
        if (end == jp->p) emit_error("config: bad value at '%.20s'", jp->p);
        jp->p = end;
    }
    return v;
}

static const jv *cfg_get(const jv *obj, const char *key) {
    for (int i = 0; obj->type == J_OBJ && i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

static bool cfg_has_num(const jv *obj, const char *key) {
    const jv *v = cfg_get(obj, key);
    return v != NULL && v->type == J_NUM;
}

static double cfg_num(const jv *obj, const char *key, double dflt) {
    const jv *v = cfg_get(obj, key);
    return v != NULL && (v->type == J_NUM || v->type == J_BOOL) ? v->num : dflt;
}

static const char *cfg_str(const jv *obj, const char *key, const char *dflt) {
    const jv *v = cfg_get(obj, key);
    return v != NULL && v->type == J_STR ? v->str : dflt;
}

/* --- the frame scanner: a few fields of a JSON text, nothing decoded --------------- */

/* The value of top-level member `key` of the object at p, or NULL. */
static const char *js_value(const char *p, const char *e, const char *key) {
    return js_member(p, e, key).p;
}

/* The first element of the array at p, or NULL. */
static const char *js_first(const char *p, const char *e) {
    p = js_ws(p, e);
    if (p >= e || *p != '[') return NULL;
    p = js_ws(p + 1, e);
    return p < e && *p != ']' ? p : NULL;
}

/* The i-th element of the array at p, or NULL. */
static const char *js_nth(const char *p, const char *e, int i) {
    p = js_first(p, e);
    while (p != NULL && i-- > 0) {
        p = js_ws(js_skip(p, e), e);
        if (p >= e || *p != ',') return NULL;
        p = js_ws(p + 1, e);
    }
    return p;
}

/* An integer value at p (-1 if it is not one, e.g. null). */
static long js_int(const char *p, const char *e) {
    if (p == NULL || p >= e || !(*p == '-' || (*p >= '0' && *p <= '9'))) return -1;
    long v = 0;
    bool neg = *p == '-';
    for (p += neg; p < e && *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
    return neg ? -v : v;
}

/* Whether the string value at p equals s. */
static bool js_is(const char *p, const char *e, const char *s) {
    size_t n = strlen(s);
    return p != NULL && e - p >= (long)n + 2 && *p == '"' && memcmp(p + 1, s, n) == 0 &&
           p[n + 1] == '"';
}

/* The contents of the string value at p, copied into out (truncated). */
static void js_copy(const char *p, const char *e, char *out, size_t cap) {
    size_t n = 0;
    if (p != NULL && p < e && *p == '"') {
        const char *end = js_skip_string(p, e) - 1;
        for (p++; p < end && n + 1 < cap; p++) out[n++] = *p;
    } else if (p != NULL) {
        const char *end = js_skip(p, e);
        for (; p < end && n + 1 < cap; p++) out[n++] = *p;
    }
    out[n] = 0;
}

/* The intended send time in a text value "bench <time> ...", or NAN. */
static double js_intended(const char *p, const char *e) {
    if (p == NULL || e - p < 8 || memcmp(p, "\"bench ", 7) != 0) return NAN;
    char tmp[32];
    size_t n = 0;
    for (p += 7; p < e && n + 1 < sizeof tmp && ((*p >= '0' && *p <= '9') || *p == '.'); p++)
        tmp[n++] = *p;
    tmp[n] = 0;
    return n ? strtod(tmp, NULL) : NAN;
}

/* --- dialects -------------------------------------------------------------------- */

typedef enum { K_OTHER, K_HELLO, K_SUBSCRIBED, K_ACK, K_ERROR, K_PONG, K_REPLY, K_OPEN } kind_t;

typedef struct {
    kind_t kind;
    long id;          /* K_ACK, K_ERROR: the frame id (-1: none) */
    char code[64];    /* K_ERROR */
    const char *reply; /* K_REPLY */
} control_t;

typedef struct {
    const char *name;
    const char *prefix; /* a text frame starting with it is a delivery */
    bool echo_ack;      /* the sender is in the room: its own copy is its ack */
    bool ready_on_upgrade;
    bool subscribe_on_connect; /* joined by the handshake itself: no join frame */
    const char *ping;          /* the client's heartbeat, or NULL */
    void (*path)(buf_t *, const char *token, const char *channel);
    void (*session)(buf_t *, const char *token);
    void (*subscribe)(buf_t *, const char *channel, const char *token);
    void (*send)(buf_t *, const char *channel, const char *text, long n, const char *client_id);
    void (*control)(const char *p, const char *e, control_t *out);
    /* a delivery's seq (-1: none) and the intended time of its text */
    void (*message)(const char *p, const char *e, long *seq, double *intended);
} dialect_t;

static void json_control(const char *p, const char *e, control_t *c) {
    const char *type = js_value(p, e, "type");
    if (js_is(type, e, "ack")) {
        c->kind = K_ACK;
        c->id = js_int(js_value(p, e, "id"), e);
    } else if (js_is(type, e, "pong")) {
        c->kind = K_PONG;
    } else if (js_is(type, e, "hello")) {
        c->kind = K_HELLO;
    } else if (js_is(type, e, "subscribed") || js_is(type, e, "joined")) {
        c->kind = K_SUBSCRIBED;
    } else if (js_is(type, e, "error")) {
        c->kind = K_ERROR;
        c->id = js_int(js_value(p, e, "id"), e);
        js_copy(js_value(p, e, "code"), e, c->code, sizeof c->code);
    }
}

static void json_message(const char *p, const char *e, long *seq, double *intended) {
    *seq = js_int(js_value(p, e, "seq"), e);
    *intended = js_intended(js_value(p, e, "text"), e);
}

static void no_session(buf_t *b, const char *token) { (void)b, (void)token; }

static void hub_path(buf_t *b, const char *token, const char *channel) {
    (void)channel;
    buf_printf(b, "/ws?token=%s", token);
}

static void hub_subscribe(buf_t *b, const char *channel, const char *token) {
    (void)token;
    buf_str(b, "{\"action\":\"subscribe\",\"channel\":");
    buf_json_str(b, channel);
    buf_str(b, ",\"id\":1}");
}

static void hub_send(buf_t *b, const char *channel, const char *text, long n, const char *cid) {
    buf_str(b, "{\"action\":\"send\",\"channel\":");
    buf_json_str(b, channel);
    buf_str(b, ",\"text\":");
    buf_json_str(b, text);
    buf_str(b, ",\"client_id\":");
    buf_json_str(b, cid);
    buf_printf(b, ",\"id\":%ld}", n);
}

static void sio_path(buf_t *b, const char *token, const char *channel) {
    (void)token, (void)channel;
    buf_str(b, "/socket.io/?EIO=4&transport=websocket");
}

static void sio_session(buf_t *b, const char *token) {
    buf_str(b, "40{\"name\":");
    buf_json_str(b, token);
    buf_str(b, "}");
}

static void sio_subscribe(buf_t *b, const char *channel, const char *token) {
    (void)token;
    buf_str(b, "420[\"join\","); /* ack id 0 is the join's; sends count from 1 */
    buf_json_str(b, channel);
    buf_str(b, "]");
}

static void sio_send(buf_t *b, const char *channel, const char *text, long n, const char *cid) {
    (void)cid;
    buf_printf(b, "42%ld[\"send\",{\"room\":", n);
    buf_json_str(b, channel);
    buf_str(b, ",\"text\":");
    buf_json_str(b, text);
    buf_str(b, "}]");
}

static void sio_control(const char *p, const char *e, control_t *c) {
    size_t n = (size_t)(e - p);
    if (n == 1 && *p == '2') { /* the server's ping: answer at once or be dropped */
        c->kind = K_REPLY;
        c->reply = "3";
    } else if (n >= 2 && p[0] == '4' && p[1] == '3') {
        long id = js_int(p + 2, e);
        c->kind = id == 0 ? K_SUBSCRIBED : K_ACK;
        c->id = id;
    } else if (n >= 1 && p[0] == '0') {
        c->kind = K_OPEN;
    } else if (n >= 2 && p[0] == '4' && p[1] == '0') {
        c->kind = K_HELLO;
    } else if (n >= 2 && p[0] == '4' && p[1] == '4') {
        c->kind = K_ERROR;
        snprintf(c->code, sizeof c->code, "connect_error");
    } else if (n >= 1 && p[0] == '1') {
        c->kind = K_ERROR;
        snprintf(c->code, sizeof c->code, "closed");
    }
}

static void sio_message(const char *p, const char *e, long *seq, double *intended) {
    json_message(js_nth(p + 2, e, 1), e, seq, intended); /* 42["message",{...}] */
}

static void plain_path(buf_t *b, const char *token, const char *channel) {
    (void)token, (void)channel;
    buf_str(b, "/");
}

static void plain_subscribe(buf_t *b, const char *channel, const char *token) {
    buf_str(b, "{\"action\":\"join\",\"room\":");
    buf_json_str(b, channel);
    buf_str(b, ",\"name\":");
    buf_json_str(b, token);
    buf_str(b, "}");
}

static void plain_send(buf_t *b, const char *channel, const char *text, long n, const char *cid) {
    (void)n, (void)cid;
    buf_str(b, "{\"action\":\"send\",\"room\":");
    buf_json_str(b, channel);
    buf_str(b, ",\"text\":");
    buf_json_str(b, text);
    buf_str(b, "}");
}

/* Whether a token is a real one (the relays take "-"). */
static bool has_token(const char *token) { return token[0] && strcmp(token, "-") != 0; }

static void tut_path(buf_t *b, const char *token, const char *channel) {
    buf_printf(b, "/ws?room_name=%s", channel);
    if (has_token(token)) buf_printf(b, "&token=%s", token);
}

static void tut_send(buf_t *b, const char *channel, const char *text, long n, const char *cid) {
    (void)n, (void)cid;
    buf_str(b, "{\"action\":\"sendMessage\",\"room_name\":");
    buf_json_str(b, channel);
    buf_str(b, ",\"user_name\":\"bench\",\"content\":");
    buf_json_str(b, text);
    buf_str(b, "}");
}

static void tut_message(const char *p, const char *e, long *seq, double *intended) {
    /* {"messages":[{"user_name":...,"content":"bench ..."}]}: no seq here */
    const char *first = js_first(js_value(p, e, "messages"), e);
    *seq = -1;
    *intended = first ? js_intended(js_value(first, e, "content"), e) : NAN;
}

static const dialect_t DIALECTS[] = {
    {"hubbub", "{\"type\":\"message\"", false, false, false, "{\"action\":\"ping\"}", hub_path,
     no_session, hub_subscribe, hub_send, json_control, json_message},
    {"socketio", "42[\"message\",", false, false, false, NULL, sio_path, sio_session,
     sio_subscribe, sio_send, sio_control, sio_message},
    {"plain", "{\"type\":\"message\"", true, true, false, NULL, plain_path, no_session,
     plain_subscribe, plain_send, json_control, json_message},
    {"tutorial", "{\"messages\":[", true, true, true, "{\"action\":\"ping\"}", tut_path,
     no_session, NULL, tut_send, json_control, tut_message},
};

/* --- connections ------------------------------------------------------------------- */

enum { R_RECEIVER, R_SAMPLER, R_SENDER };
enum { S_IDLE, S_CONNECTING, S_UPGRADING, S_OPEN, S_CLOSED };

typedef struct conn {
    int fd, role, state;
    const char *token;
    bool hello, subscribing, subscribed, lost, want_out;
    int close_code;
    double opened_at;
    buf_t in;   /* handshake bytes, or the start of a frame not yet whole */
    buf_t out;  /* what the socket did not take yet */
    buf_t frag; /* a fragmented text message so far */
    bool in_frag;
    long messages, last_seq, gaps, pongs, pings, errors, acks;
    char error[128];
} conn_t;

/* Latency windows: intended send times [lo, hi) whose deliveries count. */
typedef struct {
    double lo, hi;
    samples_t s;
} window_t;

static struct {
    const jv *cfg;
    const dialect_t *d;
    const char *host, *channel;
    int port;
    conn_t *conns; /* receivers, then the senders */
    int nconns, nreceivers, nsamplers, nsenders;
    int epfd;
    /* sender */
    long sent, acked, failed;
    double *intended; /* by send id, for acked dialects (NAN once popped) */
    size_t intended_cap;
    char prefix[16], pad[4096];
    int text_bytes;
    char codes[16][64];
    long code_counts[16];
    int ncodes;
    /* driver */
    bool driving;
    double next_t, interval, drive_end, window_full_since;
    long window, burst_left;
    bool burst_mode; /* sending burst_left more as fast as the window allows */
    /* latency */
    window_t windows[64];
    int nwindows;
    double ack_lo, ack_hi;
    samples_t ack_lat, loop_lag;
    double next_lag;
    /* burst */
    bool bursting;
    double last_delivery;
    /* heartbeats: conns in a random order, each pinging at its own phase */
    int *ping_order;
    double *ping_phase;
    int ping_next;
    double ping_round, ping_every;
    bool heartbeats;
    /* cores and pids */
    const char *server_core, *gen_core;
    int server_pid;
    bool stop_requested;
    int stdin_open;
} G;

static conn_t *sender(long k) { return &G.conns[G.nreceivers + k]; }

static long inflight(void) { return G.sent - G.acked - G.failed; }

static void watch(conn_t *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(G.epfd, op, c->fd, &ev) < 0 && errno != ENOENT) emit_error("epoll_ctl: %m");
}

static void lose(conn_t *c) {
    if (c->state == S_CLOSED) return;
    epoll_ctl(G.epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = S_CLOSED;
    c->lost = true;
}

/* Write what is queued; the rest waits for EPOLLOUT. */
static void flush(conn_t *c) {
    while (c->out.len && c->state != S_CLOSED) {
        ssize_t n = write(c->fd, c->out.p, c->out.len);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        lose(c);
        return;
    }
    bool want = c->out.len > 0;
    if (want != c->want_out && c->state != S_CLOSED) {
        c->want_out = want;
        watch(c, EPOLLIN | (want ? EPOLLOUT : 0), EPOLL_CTL_MOD);
    }
}

/* Queue one masked client frame (opcode, payload). */
static void queue_frame(conn_t *c, int opcode, const char *payload, size_t n) {
    uint8_t head[14];
    size_t h = 0;
    head[h++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        head[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        head[h++] = 0x80 | 126;
        head[h++] = (uint8_t)(n >> 8);
        head[h++] = (uint8_t)n;
    } else {
        head[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) head[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t key = (uint32_t)rng();
    memcpy(head + h, &key, 4);
    const uint8_t *k = head + h;
    h += 4;
    buf_reserve(&c->out, h + n);
    memcpy(c->out.p + c->out.len, head, h);
    uint8_t *dst = (uint8_t *)c->out.p + c->out.len + h;
    for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)payload[i] ^ k[i & 3];
    c->out.len += h + n;
}

static void send_text(conn_t *c, const char *payload, size_t n) {
    if (c->state != S_OPEN) return;
    queue_frame(c, 0x1, payload, n);
    flush(c);
}

static void send_buf(conn_t *c, buf_t *b) { send_text(c, b->p, b->len); }

static void start_connect(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) emit_error("socket: %m (raise the open-files limit?)");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.port)};
    if (inet_pton(AF_INET, G.host, &addr.sin_addr) != 1) emit_error("bad host %s", G.host);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        emit_error("connect: %m");
    c->state = S_CONNECTING;
    c->opened_at = now();
    c->want_out = true;
    watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
}

static void send_handshake(conn_t *c) {
    buf_t path = {0}, req = {0};
    G.d->path(&path, c->token, G.channel);
    buf_put(&path, "", 1);
    uint8_t key[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)rng();
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char k64[25];
    int o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16;
        if (i + 1 < 16) v |= (uint32_t)key[i + 1] << 8;
        if (i + 2 < 16) v |= key[i + 2];
        k64[o++] = b64[(v >> 18) & 63];
        k64[o++] = b64[(v >> 12) & 63];
        k64[o++] = i + 1 < 16 ? b64[(v >> 6) & 63] : '=';
        k64[o++] = i + 2 < 16 ? b64[v & 63] : '=';
    }
    k64[o] = 0;
    buf_printf(&req,
               "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
               path.p, G.host, G.port, k64);
    buf_put(&c->out, req.p, req.len);
    free(path.p);
    free(req.p);
    c->state = S_UPGRADING;
    flush(c);
}

/* --- what arrives -------------------------------------------------------------------- */

static void record_latency(double intended, double latency) {
    for (int i = G.nwindows - 1; i >= 0; i--) {
        if (G.windows[i].lo <= intended) {
            if (intended < G.windows[i].hi) samples_add(&G.windows[i].s, latency);
            return;
        }
    }
}

static void wake_acked(double intended) {
    G.acked++;
    if (intended >= G.ack_lo && intended < G.ack_hi) samples_add(&G.ack_lat, now() - intended);
}

static void count_error(const char *code) {
    for (int i = 0; i < G.ncodes; i++) {
        if (strcmp(G.codes[i], code) == 0) {
            G.code_counts[i]++;
            return;
        }
    }
    if (G.ncodes < 16) {
        snprintf(G.codes[G.ncodes], sizeof G.codes[0], "%s", code);
        G.code_counts[G.ncodes++] = 1;
    }
}

static void on_control(conn_t *c, const char *p, const char *e) {
    control_t ctl = {.kind = K_OTHER, .id = -1};
    G.d->control(p, e, &ctl);
    switch (ctl.kind) {
    case K_REPLY:
        send_text(c, ctl.reply, strlen(ctl.reply));
        break;
    case K_OPEN: {
        buf_t b = {0};
        G.d->session(&b, c->token);
        send_buf(c, &b);
        free(b.p);
        break;
    }
    case K_HELLO:
        c->hello = true;
        break;
    case K_SUBSCRIBED:
        c->subscribed = true;
        break;
    case K_PONG:
        c->pongs++;
        break;
    case K_ACK:
        if (c->role == R_SENDER && ctl.id > 0 && (size_t)ctl.id < G.intended_cap &&
            !isnan(G.intended[ctl.id])) {
            double t = G.intended[ctl.id];
            G.intended[ctl.id] = NAN;
            c->acks++;
            wake_acked(t);
        }
        break;
    case K_ERROR:
        c->errors++;
        if (c->role == R_SENDER && c->hello) {
            G.failed++;
            count_error(ctl.code);
            if (ctl.id > 0 && (size_t)ctl.id < G.intended_cap) G.intended[ctl.id] = NAN;
        } else if (!c->error[0]) {
            snprintf(c->error, sizeof c->error, "server error: %.*s", (int)(e - p > 100 ? 100 : e - p), p);
        }
        break;
    case K_OTHER:
        break;
    }
}

static void on_text(conn_t *c, const char *p, size_t n, double t) {
    const char *e = p + n;
    size_t plen = strlen(G.d->prefix);
    if (n < plen || memcmp(p, G.d->prefix, plen) != 0) {
        on_control(c, p, e);
        return;
    }
    c->messages++;
    if (c->role == R_RECEIVER) return;
    long seq;
    double intended;
    G.d->message(p, e, &seq, &intended);
    if (c->role == R_SENDER) { /* echo-ack dialects: the first sender's copy is the ack */
        if (G.d->echo_ack && c == sender(0)) wake_acked(isnan(intended) ? -1 : intended);
        return;
    }
    if (seq >= 0) {
        if (c->last_seq && seq != c->last_seq + 1) c->gaps++;
        c->last_seq = seq;
    }
    if (!isnan(intended)) record_latency(intended, t - intended);
}

/* The frames in p[0..n): returns how many bytes were whole frames. */
static size_t parse_frames(conn_t *c, char *p, size_t n, double t) {
    size_t i = 0;
    while (n - i >= 2 && c->state == S_OPEN) {
        uint8_t b0 = (uint8_t)p[i], b1 = (uint8_t)p[i + 1];
        uint64_t len = b1 & 0x7F;
        size_t start = i + 2;
        if (len == 126) {
            if (n - i < 4) break;
            len = ((uint64_t)(uint8_t)p[i + 2] << 8) | (uint8_t)p[i + 3];
            start = i + 4;
        } else if (len == 127) {
            if (n - i < 10) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = (len << 8) | (uint8_t)p[i + 2 + k];
            start = i + 10;
        }
        const uint8_t *mask = NULL;
        if (b1 & 0x80) { /* servers must not mask, but be lenient */
            if (n - start < 4) break;
            mask = (const uint8_t *)p + start;
            start += 4;
        }
        if (len > n - start) break;
        char *payload = p + start;
        if (mask)
            for (uint64_t k = 0; k < len; k++) payload[k] ^= (char)mask[k & 3];
        int opcode = b0 & 0x0F;
        bool fin = b0 & 0x80;
        if (opcode == 0x1 || opcode == 0x2) {
            if (fin) {
                if (opcode == 0x1) on_text(c, payload, len, t);
            } else {
                c->in_frag = true;
                c->frag.len = 0;
                buf_put(&c->frag, payload, len);
            }
        } else if (opcode == 0x0 && c->in_frag) {
            buf_put(&c->frag, payload, len);
            if (fin) {
                c->in_frag = false;
                on_text(c, c->frag.p, c->frag.len, t);
            }
        } else if (opcode == 0x8) {
            c->close_code = len >= 2 ? ((uint8_t)payload[0] << 8) | (uint8_t)payload[1] : 1005;
            queue_frame(c, 0x8, payload, len >= 2 ? 2 : 0);
            flush(c);
            lose(c);
            return n;
        } else if (opcode == 0x9) {
            queue_frame(c, 0xA, payload, len);
            flush(c);
        }
        i = start + len;
    }
    return i;
}

/* The HTTP answer to the upgrade, in c->in. */
static void on_upgrade(conn_t *c, double t) {
    char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
    if (end == NULL) return;
    char *eol = memchr(c->in.p, '\r', c->in.len);
    if (memmem(c->in.p, (size_t)(eol - c->in.p), " 101 ", 5) == NULL) {
        snprintf(c->error, sizeof c->error, "handshake refused: %.*s", (int)(eol - c->in.p),
                 c->in.p);
        lose(c);
        return;
    }
    c->state = S_OPEN;
    if (G.d->ready_on_upgrade) c->hello = true;
    if (G.d->subscribe_on_connect) c->subscribed = true;
    buf_consume(&c->in, (size_t)(end + 4 - c->in.p));
    size_t used = parse_frames(c, c->in.p, c->in.len, t);
    buf_consume(&c->in, used);
}

static char rbuf[256 * 1024];

static void on_readable(conn_t *c) {
    for (;;) {
        ssize_t n = read(c->fd, rbuf, sizeof rbuf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            lose(c);
            return;
        }
        double t = c->role != R_RECEIVER || G.bursting ? now() : 0.0;
        long before = c->messages;
        if (c->state == S_UPGRADING) {
            buf_put(&c->in, rbuf, (size_t)n);
            on_upgrade(c, t);
        } else if (c->in.len) { /* the start of a frame came in the last read */
            buf_put(&c->in, rbuf, (size_t)n);
            buf_consume(&c->in, parse_frames(c, c->in.p, c->in.len, t));
        } else {
            size_t used = parse_frames(c, rbuf, (size_t)n, t);
            if (used < (size_t)n && c->state == S_OPEN) buf_put(&c->in, rbuf + used, (size_t)n - used);
        }
        if (G.bursting && c->messages > before && c->role != R_SENDER) G.last_delivery = t;
        if ((size_t)n < sizeof rbuf || c->state == S_CLOSED) return;
    }
}

static void on_event(conn_t *c, uint32_t events) {
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            snprintf(c->error, sizeof c->error, "connect: %s", strerror(err));
            lose(c);
            return;
        }
        if (events & EPOLLOUT) send_handshake(c);
        return;
    }
    if (events & EPOLLOUT) flush(c);
    if (c->state != S_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
}

/* --- the sender ---------------------------------------------------------------------- */

static void sender_frame(double intended) {
    long n = ++G.sent;
    if (!G.d->echo_ack) {
        if ((size_t)n >= G.intended_cap) {
            size_t cap = G.intended_cap ? G.intended_cap * 2 : 65536;
            G.intended = xrealloc(G.intended, cap * sizeof *G.intended);
            for (size_t i = G.intended_cap; i < cap; i++) G.intended[i] = NAN;
            G.intended_cap = cap;
        }
        G.intended[n] = intended;
    }
    char text[4200], cid[48];
    snprintf(text, sizeof text, "bench %.6f %s", intended, G.pad);
    snprintf(cid, sizeof cid, "%s-%ld", G.prefix, n);
    static buf_t payload;
    payload.len = 0;
    G.d->send(&payload, G.channel, text, n, cid);
    queue_frame(sender((n - 1) % G.nsenders), 0x1, payload.p, payload.len);
}

static bool senders_open(void) {
    for (int k = 0; k < G.nsenders; k++)
        if (sender(k)->state != S_OPEN) return false;
    return true;
}

/* Send what is due (open loop), or what the window allows (burst). */
static void drive_tick(double t) {
    if (!G.driving) return;
    if (t >= G.drive_end || !senders_open()) {
        G.driving = false;
        return;
    }
    if (G.burst_mode) {
        while (G.burst_left > 0 && inflight() < G.window) {
            sender_frame(t);
            G.burst_left--;
        }
    } else {
        while (G.next_t <= t && inflight() < G.window) {
            sender_frame(G.next_t);
            G.next_t += G.interval;
        }
    }
    for (int k = 0; k < G.nsenders; k++)
        if (sender(k)->out.len) flush(sender(k));
    if (inflight() >= G.window && (!G.burst_mode || G.burst_left > 0)) {
        if (G.window_full_since == 0) G.window_full_since = t;
        if (t - G.window_full_since > 10.0) emit_error("RuntimeError: no ack for 10 s: server stuck?");
    } else {
        G.window_full_since = 0;
    }
}

/* How far behind schedule the sender is (its oldest unsent due message). The
 * step's last snapshot may come just after the drive ended: then how far
 * behind it was at the end, or a window-bound sender would read as on time. */
static double lag(void) {
    if (G.burst_mode || G.drive_end == 0) return 0.0;
    return dmax(0.0, dmin(now(), G.drive_end) - G.next_t);
}

/* --- heartbeats ------------------------------------------------------------------------ */

static void start_heartbeats(double every) {
    if (G.d->ping == NULL) return;
    G.ping_order = xrealloc(NULL, (size_t)G.nconns * sizeof *G.ping_order);
    G.ping_phase = xrealloc(NULL, (size_t)G.nconns * sizeof *G.ping_phase);
    /* A random phase each, as gen.py; sorted so the next one due is at hand. */
    for (int i = 0; i < G.nconns; i++) {
        G.ping_order[i] = i;
        G.ping_phase[i] = uniform(0, every);
    }
    for (int i = 1; i < G.nconns; i++) { /* insertion sort by phase */
        double ph = G.ping_phase[i];
        int o = G.ping_order[i], j = i - 1;
        for (; j >= 0 && G.ping_phase[j] > ph; j--) {
            G.ping_phase[j + 1] = G.ping_phase[j];
            G.ping_order[j + 1] = G.ping_order[j];
        }
        G.ping_phase[j + 1] = ph;
        G.ping_order[j + 1] = o;
    }
    G.ping_every = every;
    G.ping_round = now();
    G.ping_next = 0;
    G.heartbeats = true;
}

static double next_ping_at(void) {
    return G.heartbeats ? G.ping_round + G.ping_phase[G.ping_next] : INFINITY;
}

static void ping_tick(double t) {
    while (G.heartbeats && next_ping_at() <= t) {
        conn_t *c = &G.conns[G.ping_order[G.ping_next]];
        if (c->state == S_OPEN) {
            c->pings++;
            send_text(c, G.d->ping, strlen(G.d->ping));
        }
        if (++G.ping_next == G.nconns) {
            G.ping_next = 0;
            G.ping_round += G.ping_every;
        }
    }
}

/* --- the loop ------------------------------------------------------------------------ */

static void on_stdin(void) {
    char line[256];
    ssize_t n = read(0, line, sizeof line);
    if (n <= 0) { /* EOF: nobody will tell us anything more */
        epoll_ctl(G.epfd, EPOLL_CTL_DEL, 0, NULL);
        G.stdin_open = 0;
        return;
    }
    if (memchr(line, '\n', (size_t)n)) G.stop_requested = true;
}

/* Run the loop until `until` (monotonic seconds). */
static void pump(double until) {
    static struct epoll_event evs[512];
    for (;;) {
        double t = now();
        if (t >= G.next_lag) { /* how late the loop ran a 10 ms timer */
            if (G.next_lag > 0) samples_add(&G.loop_lag, t - G.next_lag);
            G.next_lag = t + 0.01;
        }
        ping_tick(t);
        drive_tick(t);
        if (t >= until) return;
        double wake = dmin(until, dmin(G.next_lag, next_ping_at()));
        if (G.driving) {
            double due = G.burst_mode ? (G.burst_left > 0 ? t : INFINITY) : G.next_t;
            if (inflight() < G.window) wake = dmin(wake, dmax(due, t));
            wake = dmin(wake, G.drive_end);
        }
        double dt = dmax(0.0, wake - t);
        struct timespec ts = {.tv_sec = (time_t)dt, .tv_nsec = (long)((dt - (double)(time_t)dt) * 1e9)};
        int n = epoll_pwait2(G.epfd, evs, 512, &ts, NULL);
        if (n < 0 && errno == ENOSYS) n = epoll_wait(G.epfd, evs, 512, (int)(dt * 1000) + 1);
        if (n < 0 && errno != EINTR) emit_error("epoll: %m");
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                on_stdin();
            else
                on_event(evs[i].data.ptr, evs[i].events);
        }
    }
}

/* --- /proc readings ----------------------------------------------------------------- */

typedef struct {
    long long v[8]; /* user, nice, system, idle, iowait, irq, softirq, steal */
} cores_t;

static cores_t core_breakdown(const char *core) {
    cores_t out = {{0}};
    FILE *f = fopen("/proc/stat", "r");
    char line[512], tag[16];
    snprintf(tag, sizeof tag, "cpu%s ", core);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, tag, strlen(tag)) == 0) {
            char *p = line + strlen(tag);
            for (int i = 0; i < 8; i++) out.v[i] = strtoll(p, &p, 10);
            break;
        }
    }
    if (f) fclose(f);
    return out;
}

/* (busy, total) jiffies of a core: all ten fields, as bench.common.core_times. */
static void core_times(const char *core, double *busy, double *total) {
    FILE *f = fopen("/proc/stat", "r");
    char line[512], tag[16];
    snprintf(tag, sizeof tag, "cpu%s ", core);
    *busy = *total = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, tag, strlen(tag)) == 0) {
            char *p = line + strlen(tag);
            long long v[10] = {0}, sum = 0;
            for (int i = 0; i < 10; i++) sum += v[i] = strtoll(p, &p, 10);
            *total = (double)sum;
            *busy = (double)(sum - v[3] - v[4]);
            break;
        }
    }
    if (f) fclose(f);
}

static double proc_cpu(int pid) {
    char path[64], data[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    size_t n = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    data[n] = 0;
    char *p = strrchr(data, ')');
    if (p == NULL) return 0;
    p++;
    long long fields[13] = {0};
    for (int i = 0; i < 13; i++) {
        while (*p == ' ') p++;
        fields[i] = strtoll(p, &p, 10);
        if (i == 0) { /* the state is a letter */
            while (*p && *p != ' ') p++;
        }
    }
    return (double)(fields[11] + fields[12]) / (double)sysconf(_SC_CLK_TCK);
}

static double gen_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* --- measuring ------------------------------------------------------------------------ */

typedef struct {
    cores_t cores[2];
    double t, delivered, sent, acked, failed, gen_cpu, server_cpu, core_busy, core_total, lag;
} snap_t;

static long delivered(void) {
    long sum = 0;
    for (int i = 0; i < G.nreceivers; i++) sum += G.conns[i].messages;
    return sum;
}

static snap_t snapshot(void) {
    snap_t s;
    s.cores[0] = core_breakdown(G.server_core);
    s.cores[1] = core_breakdown(G.gen_core);
    s.t = now();
    s.delivered = (double)delivered();
    s.sent = (double)G.sent;
    s.acked = (double)G.acked;
    s.failed = (double)G.failed;
    s.gen_cpu = gen_cpu();
    s.server_cpu = G.server_pid ? proc_cpu(G.server_pid) : 0;
    core_times(G.gen_core, &s.core_busy, &s.core_total);
    s.lag = lag();
    return s;
}

typedef struct {
    double user, system, softirq, steal, idle, other;
} share_t;

static share_t core_share(const cores_t *a, const cores_t *b) {
    double d[8], total = 0;
    for (int i = 0; i < 8; i++) total += d[i] = (double)(b->v[i] - a->v[i]);
    if (total == 0) total = 1;
    share_t s = {
        .user = (d[0] + d[1]) / total,
        .system = d[2] / total,
        .softirq = (d[5] + d[6]) / total,
        .steal = d[7] / total,
        .idle = (d[3] + d[4]) / total,
    };
    return s;
}

static double round_to(double x, int digits) {
    double f = 1;
    while (digits-- > 0) f *= 10;
    return dround(x * f) / f;
}

static void put_share(buf_t *b, const char *name, share_t s) {
    buf_printf(b,
               "\"%s\": {\"user\": %.3f, \"system\": %.3f, \"softirq\": %.3f, \"steal\": %.3f, "
               "\"idle\": %.3f, \"other\": %.3f}",
               name, s.user, s.system, s.softirq, s.steal, s.idle, s.other);
}

typedef struct {
    buf_t json; /* the step's members, without braces (more are added later) */
    double dps, server_cpu;
    bool saturated, noisy, gen_saturated, retried;
    int window; /* its latency window */
} step_t;

/* The figures between two snapshots, as gen.py's Fanout.between. */
static step_t between(const snap_t *a, const snap_t *b, double rate) {
    step_t st = {0};
    double dt = b->t - a->t, r = G.nreceivers;
    double dps = (b->delivered - a->delivered) / dt;
    double ack_rate = (b->acked - a->acked) / dt;
    double gcpu = (b->gen_cpu - a->gen_cpu) / dt;
    double ctotal = b->core_total - a->core_total;
    double cbusy = ctotal ? (b->core_busy - a->core_busy) / ctotal : 0;
    share_t sc = core_share(&a->cores[0], &b->cores[0]);
    share_t gc = core_share(&a->cores[1], &b->cores[1]);
    double scpu = (b->server_cpu - a->server_cpu) / dt;
    sc.other = round_to(dmax(0, 1 - sc.idle - scpu), 3);
    gc.other = round_to(dmax(0, 1 - gc.idle - gcpu), 3);
    long lost = 0;
    for (int i = 0; i < G.nreceivers; i++) lost += G.conns[i].lost;
    st.dps = dround(dps);
    st.server_cpu = round_to(scpu, 3);
    st.saturated = dps < 0.9 * rate * r || ack_rate < 0.9 * rate || b->lag > 0.25;
    st.noisy = sc.other > 0.3 || gc.other > 0.3;
    st.gen_saturated = gcpu > 0.85;
    buf_t *j = &st.json;
    buf_printf(j, "\"rate\": %.2f, \"target_dps\": %.0f, \"dps\": %.0f, \"send_rate\": %.1f, ",
               round_to(rate, 2), dround(rate * r), st.dps, (b->sent - a->sent) / dt);
    buf_printf(j, "\"ack_rate\": %.1f, \"failed\": %.0f, \"lag_s\": %.3f, \"inflight\": %ld, ",
               ack_rate, b->failed - a->failed, b->lag, inflight());
    buf_printf(j, "\"receivers_lost\": %ld, \"server_cpu\": %.3f, \"gen_cpu\": %.3f, ", lost,
               st.server_cpu, gcpu);
    buf_printf(j, "\"gen_core_busy\": %.3f, ", cbusy);
    put_share(j, "server_core", sc);
    buf_str(j, ", ");
    put_share(j, "gen_core", gc);
    if (dps > 0)
        buf_printf(j, ", \"server_us_per_delivery\": %.2f", scpu / dps * 1e6);
    else
        buf_str(j, ", \"server_us_per_delivery\": null");
    buf_printf(j, ", \"saturated\": %s, \"noisy\": %s, \"gen_saturated\": %s",
               st.saturated ? "true" : "false", st.noisy ? "true" : "false",
               st.gen_saturated ? "true" : "false");
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void put_percentiles(buf_t *b, samples_t *s) {
    if (s->n == 0) {
        buf_str(b, "{\"n\": 0}");
        return;
    }
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    double q[3] = {0.50, 0.99, 0.999};
    buf_printf(b, "{\"n\": %zu", s->n);
    const char *names[3] = {"p50_ms", "p99_ms", "p999_ms"};
    for (int i = 0; i < 3; i++) {
        size_t k = (size_t)(q[i] * (double)s->n);
        if (k > s->n - 1) k = s->n - 1;
        buf_printf(b, ", \"%s\": %.3f", names[i], round_to(s->v[k] * 1000, 3));
    }
    buf_printf(b, ", \"max_ms\": %.3f}", round_to(s->v[s->n - 1] * 1000, 3));
}

static void emit_line(const char *event, buf_t *members) {
    printf("{\"event\": \"%s\", %.*s}\n", event, (int)members->len, members->p);
    fflush(stdout);
}

static int open_window(double lo, double hi) {
    if (G.nwindows == 64) emit_error("too many latency windows");
    window_t *w = &G.windows[G.nwindows];
    w->lo = lo;
    w->hi = hi;
    w->s.n = 0;
    return G.nwindows++;
}

static void start_driving(double rate, double duration) {
    double t = now();
    G.interval = 1.0 / rate;
    G.next_t = t;
    G.drive_end = t + duration;
    G.driving = true;
    G.burst_mode = false;
    G.window_full_since = 0;
}

/* Send at `rate` for settle + measure s; the figures of the last measure s. */
static step_t measured(double rate, double settle, double measure) {
    start_driving(rate, settle + measure);
    pump(now() + settle);
    snap_t a = snapshot();
    pump(now() + measure);
    snap_t b = snapshot();
    while (G.driving) pump(dmin(G.drive_end, now() + 0.05));
    return between(&a, &b, rate);
}

static bool settled(void) {
    return inflight() == 0 && delivered() >= G.acked * G.nreceivers;
}

static bool drain(double timeout) {
    double deadline = now() + timeout;
    while (now() < deadline) {
        if (settled()) return true;
        pump(now() + 0.05);
    }
    return false;
}

/* --- the run --------------------------------------------------------------------------- */

static void fail_if_broken(conn_t *c, const char *what) {
    if (c->error[0]) emit_error("RuntimeError: %s", c->error);
    if (c->lost) emit_error("RuntimeError: connection lost (close code %d) %s", c->close_code, what);
}

/* Open every connection (100 at a time) and wait for each one's session. */
static void connect_all(void) {
    int next = 0, opening = 0;
    for (;;) {
        opening = 0;
        bool all = true;
        for (int i = 0; i < next; i++) {
            conn_t *c = &G.conns[i];
            fail_if_broken(c, "while connecting");
            if (!c->hello) {
                all = false;
                opening++;
                if (now() - c->opened_at > 30) emit_error("TimeoutError: no session after 30 s");
            }
        }
        while (opening < 100 && next < G.nconns) {
            start_connect(&G.conns[next++]);
            opening++;
            all = false;
        }
        if (all && next == G.nconns) return;
        pump(now() + 0.002);
    }
}

static void subscribe_all(void) {
    double deadline = now() + 60;
    buf_t b = {0};
    for (int i = 0; i < G.nconns; i++) {
        conn_t *c = &G.conns[i];
        if (c->role == R_SENDER && !G.d->echo_ack) continue;
        if (G.d->subscribe == NULL) continue; /* joined by the handshake */
        b.len = 0;
        G.d->subscribe(&b, G.channel, c->token);
        c->subscribing = true;
        send_buf(c, &b);
    }
    free(b.p);
    for (;;) {
        bool all = true;
        for (int i = 0; i < G.nconns; i++) {
            conn_t *c = &G.conns[i];
            if (c->role == R_SENDER && !G.d->echo_ack) continue;
            fail_if_broken(c, "while subscribing");
            all = all && c->subscribed;
        }
        if (all) return;
        if (now() > deadline) emit_error("TimeoutError: not subscribed after 60 s");
        pump(now() + 0.005);
    }
}

static void setup_conns(const jv *cfg) {
    const jv *tokens = cfg_get(cfg, "receiver_tokens");
    if (tokens == NULL || tokens->type != J_ARR) emit_error("config: no receiver_tokens");
    int every = (int)cfg_num(cfg, "sample_every", 10);
    if (every < 1) every = 1;
    const jv *senders = cfg_get(cfg, "sender_tokens");
    bool listed = senders != NULL && senders->type == J_ARR && senders->n > 0;
    G.nreceivers = tokens->n;
    G.nsenders = listed ? senders->n : 1;
    G.nconns = tokens->n + G.nsenders;
    G.conns = calloc((size_t)G.nconns, sizeof *G.conns);
    if (G.conns == NULL) emit_error("out of memory");
    for (int i = 0; i < G.nreceivers; i++) {
        conn_t *c = &G.conns[i];
        c->token = tokens->items[i].type == J_STR ? tokens->items[i].str : "-";
        c->role = i % every == 0 ? R_SAMPLER : R_RECEIVER;
        G.nsamplers += c->role == R_SAMPLER;
        c->fd = -1;
    }
    for (int k = 0; k < G.nsenders; k++) {
        conn_t *s = sender(k);
        const jv *tok = listed ? &senders->items[k] : NULL;
        s->token = tok ? (tok->type == J_STR ? tok->str : "-") : cfg_str(cfg, "sender_token", "-");
        s->role = R_SENDER;
        s->fd = -1;
    }
}

static void setup(const jv *cfg) {
    G.cfg = cfg;
    const char *name = cfg_str(cfg, "dialect", "hubbub");
    for (size_t i = 0; i < sizeof DIALECTS / sizeof *DIALECTS; i++)
        if (strcmp(DIALECTS[i].name, name) == 0) G.d = &DIALECTS[i];
    if (G.d == NULL) emit_error("KeyError: unknown dialect %s", name);
    if (strcmp(cfg_str(cfg, "mode", "fanout"), "fanout") != 0)
        emit_error("the native generator only runs mode fanout");
    G.host = cfg_str(cfg, "host", "127.0.0.1");
    G.port = (int)cfg_num(cfg, "port", 0);
    G.channel = cfg_str(cfg, "channel", "general");
    G.server_pid = (int)cfg_num(cfg, "server_pid", 0);
    G.server_core = cfg_str(cfg, "server_core", "0");
    G.gen_core = cfg_str(cfg, "gen_core", "1");
    G.window = (long)cfg_num(cfg, "window", 256);
    G.text_bytes = (int)cfg_num(cfg, "text_bytes", 64);
    int pad = G.text_bytes - (int)strlen("bench 1234567.123456 ");
    if (pad < 0) pad = 0;
    if (pad > (int)sizeof G.pad - 1) pad = sizeof G.pad - 1;
    memset(G.pad, 'x', (size_t)pad);
    rng_state ^= (uint64_t)getpid() << 32 ^ (uint64_t)(now() * 1e9);
    snprintf(G.prefix, sizeof G.prefix, "%08x", (unsigned)rng());
    G.ack_lo = G.ack_hi = INFINITY;
    setup_conns(cfg);
    G.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    G.stdin_open = epoll_ctl(G.epfd, EPOLL_CTL_ADD, 0, &ev) == 0;
}

typedef struct {
    step_t steps[64];
    int nsteps;
    bool drained;
} search_t;

static void emit_step(step_t *st) { emit_line("step", &st->json); }

/* The rate steps until one saturates, as gen.py's RateSearch.search. */
static void search(search_t *out) {
    const jv *cfg = G.cfg;
    const jv *rates = cfg_get(cfg, "rates");
    int nrates = rates && rates->type == J_ARR ? rates->n : 0;
    double rate = cfg_num(cfg, "start_rate", 20), factor = cfg_num(cfg, "factor", 1.35);
    double settle = cfg_num(cfg, "settle", 1), measure = cfg_num(cfg, "measure", 3);
    int retries = (int)cfg_num(cfg, "noise_retries", 2), max_steps = (int)cfg_num(cfg, "max_steps", 14);
    int k = 0;
    while (k < max_steps && out->nsteps < 64 && !G.stop_requested) {
        if (k < nrates) rate = rates->items[k].num;
        double lo = now() + settle;
        int w = open_window(lo, lo + measure);
        step_t st = measured(rate, settle, measure);
        st.window = w;
        emit_step(&st);
        out->steps[out->nsteps++] = st;
        step_t *res = &out->steps[out->nsteps - 1];
        if (res->saturated && res->noisy && res->server_cpu < 0.8 && retries > 0) {
            /* behind while the server had CPU to spare: a neighbour; again */
            retries--;
            res->retried = true;
            drain(10);
            continue;
        }
        if (res->saturated || res->gen_saturated || (nrates > 0 && k + 1 >= nrates)) break;
        rate *= factor;
        k++;
    }
    out->drained = drain(20);
}

/* A run at `rate` that records latencies, as gen.py's RateSearch.latency_run. */
static bool latency_run(double rate, buf_t *out) {
    const jv *cfg = G.cfg;
    double warm = cfg_num(cfg, "latency_warmup", 2), meas = cfg_num(cfg, "latency_measure", 15);
    if (!(rate > 0 && meas > 0) || G.stop_requested) return true;
    pump(now() + 0.5);
    double t0 = now();
    G.ack_lo = t0 + warm;
    G.ack_hi = t0 + warm + meas;
    int w = open_window(G.ack_lo, G.ack_hi);
    G.ack_lat.n = 0;
    G.loop_lag.n = 0;
    step_t st = measured(rate, warm, meas);
    bool drained = drain(20);
    buf_put(out, st.json.p, st.json.len);
    buf_str(out, ", \"delivery\": ");
    put_percentiles(out, &G.windows[w].s);
    buf_str(out, ", \"ack\": ");
    put_percentiles(out, &G.ack_lat);
    buf_str(out, ", \"gen_loop_lag\": ");
    put_percentiles(out, &G.loop_lag);
    emit_line("latency", out);
    free(st.json.p);
    return drained;
}

/* N messages as fast as the socket takes them; the deliveries/s of that. */
static void burst(long count, buf_t *out) {
    long acked0 = G.acked, delivered0 = delivered();
    double cpu0 = gen_cpu(), t0 = now();
    int w = open_window(t0, INFINITY);
    G.window = (long)cfg_num(G.cfg, "burst_window", (double)count);
    G.bursting = true;
    G.last_delivery = t0;
    G.drive_end = t0 + 60;
    G.driving = true;
    G.burst_mode = true;
    G.burst_left = count;
    G.window_full_since = 0;
    double deadline = t0 + 60;
    while (now() < deadline && !(G.burst_left == 0 && settled())) pump(now() + 0.01);
    G.driving = false;
    G.burst_mode = false;
    G.bursting = false;
    G.drive_end = 0; /* no paced drive to be behind on */
    G.windows[w].hi = t0; /* closed: later sends are not the burst's */
    G.window = (long)cfg_num(G.cfg, "window", 256);
    long got = delivered() - delivered0;
    double secs = G.last_delivery - t0;
    buf_printf(out, "\"messages\": %ld, \"acked\": %ld, \"deliveries\": %ld, ", count,
               G.acked - acked0, got);
    buf_printf(out, "\"seconds\": %.6f, \"dps\": %.0f, \"gen_cpu_s\": %.3f, \"delivery\": ", secs,
               secs > 0 ? dround((double)got / secs) : 0.0, gen_cpu() - cpu0);
    put_percentiles(out, &G.windows[w].s);
    emit_line("burst", out);
}

static void close_all(double linger) {
    for (int i = 0; i < G.nconns; i++) {
        conn_t *c = &G.conns[i];
        if (c->state == S_OPEN) {
            static const char code[2] = {0x03, (char)0xE8};
            queue_frame(c, 0x8, code, 2);
            flush(c);
        }
    }
    G.heartbeats = false;
    pump(now() + linger);
}

/* The result object's members, as gen.py's Fanout.run (before the close). */
static buf_t result(search_t *sr, buf_t *latency, buf_t *burst_json, bool lat_drained) {
    double saturation = 0;
    bool reached = false;
    for (int i = 0; i < sr->nsteps; i++) {
        saturation = dmax(saturation, sr->steps[i].dps);
        reached = reached || (sr->steps[i].saturated && !sr->steps[i].retried);
    }
    long total = delivered(), gaps = 0, disconnected = 0;
    for (int i = 0; i < G.nreceivers; i++) {
        gaps += G.conns[i].gaps;
        disconnected += G.conns[i].lost;
    }
    buf_t r = {0};
    buf_printf(&r, "\"dialect\": \"%s\", \"generator\": \"native\", \"receivers\": %d, ",
               G.d->name, G.nreceivers);
    buf_printf(&r, "\"senders\": %d, \"sender_acks\": [", G.nsenders);
    for (int k = 0; k < G.nsenders; k++) buf_printf(&r, "%s%ld", k ? ", " : "", sender(k)->acks);
    buf_str(&r, "], ");
    buf_printf(&r, "\"samplers\": %d, \"steps\": [", G.nsamplers);
    for (int i = 0; i < sr->nsteps; i++) {
        step_t *st = &sr->steps[i];
        buf_printf(&r, "%s{%.*s", i ? ", " : "", (int)st->json.len, st->json.p);
        if (st->retried) buf_str(&r, ", \"retried\": true");
        buf_str(&r, ", \"delivery\": ");
        put_percentiles(&r, &G.windows[st->window].s);
        buf_str(&r, "}");
    }
    buf_printf(&r, "], \"saturation_dps\": %.0f, \"reached_saturation\": %s, ", saturation,
               reached ? "true" : "false");
    buf_printf(&r, "\"latency\": {%.*s}, ", (int)latency->len, latency->p ? latency->p : "");
    if (burst_json->len) buf_printf(&r, "\"burst\": {%.*s}, ", (int)burst_json->len, burst_json->p);
    buf_printf(&r, "\"messages_acked\": %ld, \"send_errors\": {", G.acked);
    for (int i = 0; i < G.ncodes; i++) {
        buf_str(&r, i ? ", " : "");
        buf_json_str(&r, G.codes[i]);
        buf_printf(&r, ": %ld", G.code_counts[i]);
    }
    buf_printf(&r, "}, \"deliveries\": %ld, \"missing_deliveries\": %ld, ", total,
               G.acked * G.nreceivers - total);
    buf_printf(&r, "\"drained\": %s, \"seq_gaps\": %ld, \"disconnected\": %ld, \"close_codes\": [",
               sr->drained && lat_drained ? "true" : "false", gaps, disconnected);
    /* the distinct close codes, sorted (a few values at most) */
    int last = 0;
    for (bool first = true;;) {
        int lowest = 0;
        for (int i = 0; i < G.nreceivers; i++) {
            int cc = G.conns[i].close_code;
            if (G.conns[i].lost && cc > last && (lowest == 0 || cc < lowest)) lowest = cc;
        }
        if (lowest == 0) break;
        buf_printf(&r, "%s%d", first ? "" : ", ", lowest);
        first = false;
        last = lowest;
    }
    buf_str(&r, "]");
    return r;
}

static void run(void) {
    double t = now();
    connect_all();
    subscribe_all();
    buf_t ev = {0};
    buf_printf(&ev, "\"receivers\": %d, \"seconds\": %.3f", G.nreceivers, now() - t);
    emit_line("connected", &ev);
    start_heartbeats(cfg_num(G.cfg, "ping_every", 30.0));
    buf_t burst_json = {0}, latency = {0};
    long count = (long)cfg_num(G.cfg, "burst", 0);
    if (count > 0) {
        burst(count, &burst_json);
        drain(20);
    }
    search_t sr = {0};
    search(&sr);
    double saturation = 0;
    for (int i = 0; i < sr.nsteps; i++) saturation = dmax(saturation, sr.steps[i].dps);
    double lat_rate = cfg_has_num(G.cfg, "latency_rate") ? cfg_num(G.cfg, "latency_rate", 0)
                                                         : saturation / 2 / G.nreceivers;
    bool lat_drained = latency_run(lat_rate, &latency);
    buf_t r = result(&sr, &latency, &burst_json, lat_drained);
    close_all(0.3);
    emit_line("result", &r);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: loadgen CONFIG.json\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) emit_error("%s: %m", argv[1]);
    buf_t text = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&text, chunk, n);
    fclose(f);
    jparser jp = {text.p, text.p + text.len};
    jv cfg = jp_value(&jp);
    setup(&cfg);
    run();
    return 0;
}
