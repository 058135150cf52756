/* bench/native/relay.c: a native do-nothing relay, the machine's own limit for
 * the fan-out. It speaks exactly what bench/trivial.py speaks of hubbub's wire
 * protocol (hello on upgrade; subscribe -> subscribed; send -> a message frame
 * to every subscriber of the channel + an ack; ping -> pong), and the S1
 * tutorial's frames (connect with ?room_name=R to join R; sendMessage -> a
 * {"messages": [...]} push to the room's tutorial members, and a message
 * frame to its native subscribers). No database, no auth, no validation.
 *
 *   relay [--port N] [--coalesce]      prints "relay listening on port N"
 *
 * One thread, one epoll loop, libc only. Two ways of writing:
 *   default      one write() per delivery (a frame built once per message,
 *                written to each subscriber in turn), as hubbub did before
 *                batching and as the Node.js peers do;
 *   --coalesce   every frame one read() produced for a subscriber goes out in
 *                one write() once that read is handled.
 * What a socket does not take at once waits in the connection's buffer.
 *
 * Built by the bench (bench/native.py): cc -O2 -Wall -Wextra -o relay relay.c
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void out_of_memory(void) { die("realloc"); }



/* --- SHA-1 and base64, for Sec-WebSocket-Accept ------------------------------------------- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *blk) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
               (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const uint8_t *msg, size_t n, uint8_t out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t i = 0;
    for (; n - i >= 64; i += 64) sha1_block(h, msg + i);
    uint8_t tail[128] = {0};
    size_t rest = n - i;
    memcpy(tail, msg + i, rest);
    tail[rest] = 0x80;
    size_t total = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++) tail[total - 1 - k] = (uint8_t)(bits >> (8 * k));
    for (size_t k = 0; k < total; k += 64) sha1_block(h, tail + k);
    for (int k = 0; k < 20; k++) out[k] = (uint8_t)(h[k / 4] >> (24 - 8 * (k % 4)));
}

static void base64(const uint8_t *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = 0;
}

/* --- raw JSON values (the scanner is common.h's) ------------------------------------------ */

static bool raw_ok(raw_t r) { return r.p != NULL; }

static bool raw_is(raw_t r, const char *s) {
    size_t n = strlen(s);
    return r.p && (size_t)(r.end - r.p) == n + 2 && r.p[0] == '"' && memcmp(r.p + 1, s, n) == 0;
}

static void buf_raw(buf_t *b, raw_t r, const char *dflt) {
    if (raw_ok(r))
        buf_put(b, r.p, (size_t)(r.end - r.p));
    else
        buf_str(b, dflt);
}

/* --- rooms and connections ------------------------------------------------------------- */

struct conn;

typedef struct {
    struct conn **v;
    int n, cap;
} members_t;

typedef struct room {
    char *key; /* the channel as a raw JSON string, quotes included */
    long seq;
    members_t native, tutorial;
    struct room *next; /* hash chain */
} room_t;

typedef struct conn {
    int fd;
    bool upgraded, dirty, closing;
    buf_t in, out, frag;
    bool in_frag;
    room_t **joined; /* for leaving them on close */
    int njoined;
    room_t *tutorial_room;
} conn_t;

#define BUCKETS 4096
static room_t *rooms[BUCKETS];
static bool coalesce;
static int epfd;
static conn_t **dirty; /* coalesced: subscribers with frames waiting for this read's end */
static int ndirty, dirty_cap;

static unsigned hash(const char *p, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static room_t *room(const char *key, size_t n) {
    unsigned h = hash(key, n) % BUCKETS;
    for (room_t *r = rooms[h]; r; r = r->next)
        if (strlen(r->key) == n && memcmp(r->key, key, n) == 0) return r;
    room_t *r = calloc(1, sizeof *r);
    if (r == NULL) die("calloc");
    r->key = strndup(key, n);
    r->next = rooms[h];
    rooms[h] = r;
    return r;
}

static void members_add(members_t *m, conn_t *c) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = xrealloc(m->v, (size_t)m->cap * sizeof *m->v);
    }
    m->v[m->n++] = c;
}

static void members_remove(members_t *m, conn_t *c) {
    for (int i = 0; i < m->n; i++) {
        if (m->v[i] == c) {
            m->v[i] = m->v[--m->n]; /* order does not matter: each gets every frame */
            return;
        }
    }
}

static void join(conn_t *c, room_t *r, bool tutorial) {
    members_add(tutorial ? &r->tutorial : &r->native, c);
    c->joined = xrealloc(c->joined, (size_t)(c->njoined + 1) * sizeof *c->joined);
    c->joined[c->njoined++] = r;
}

static void drop(conn_t *c) {
    for (int i = 0; i < c->njoined; i++) {
        members_remove(&c->joined[i]->native, c);
        members_remove(&c->joined[i]->tutorial, c);
    }
    for (int i = 0; i < ndirty; i++)
        if (dirty[i] == c) dirty[i] = NULL;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c->frag.p);
    free(c->joined);
    free(c);
}

/* --- writing ---------------------------------------------------------------------------- */

static void want_out(conn_t *c, bool on) {
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write c->out; what the socket does not take waits for EPOLLOUT. */
static void flush(conn_t *c) {
    size_t had = c->out.len;
    while (c->out.len) {
        ssize_t n = write(c->fd, c->out.p, c->out.len);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && errno != EAGAIN) c->closing = true;
            break;
        }
    }
    if (c->out.len && !c->closing)
        want_out(c, true);
    else if (had && !c->out.len)
        want_out(c, false);
}

/* One frame to one connection: written now, or at this read's end (coalesced). */
static void deliver(conn_t *c, const char *frame, size_t n) {
    bool queued = c->out.len > 0;
    buf_put(&c->out, frame, n);
    if (coalesce) {
        if (!c->dirty) {
            c->dirty = true;
            if (ndirty == dirty_cap) {
                dirty_cap = dirty_cap ? dirty_cap * 2 : 1024;
                dirty = xrealloc(dirty, (size_t)dirty_cap * sizeof *dirty);
            }
            dirty[ndirty++] = c;
        }
    } else if (!queued) { /* behind a pending write: it goes with that one */
        flush(c);
    }
}

static void flush_dirty(void) {
    for (int i = 0; i < ndirty; i++) {
        conn_t *c = dirty[i];
        if (c == NULL) continue;
        c->dirty = false;
        if (!c->closing) flush(c);
    }
    ndirty = 0;
}

/* A server text frame around payload, into b. */
static void text_frame(buf_t *b, const char *payload, size_t n) {
    uint8_t head[10];
    size_t h = 0;
    head[h++] = 0x81;
    if (n < 126) {
        head[h++] = (uint8_t)n;
    } else if (n < 65536) {
        head[h++] = 126, head[h++] = (uint8_t)(n >> 8), head[h++] = (uint8_t)n;
    } else {
        head[h++] = 127;
        for (int i = 7; i >= 0; i--) head[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    buf_put(b, head, h);
    buf_put(b, payload, n);
}

static void send_json(conn_t *c, buf_t *payload) {
    static buf_t frame;
    frame.len = 0;
    text_frame(&frame, payload->p, payload->len);
    deliver(c, frame.p, frame.len);
}

/* --- the protocol ------------------------------------------------------------------------- */

static long long millis(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A message in room r: to its native subscribers as trivial.py's message frame,
 * to its tutorial members as a push; `body` receives the message body for the ack. */
static void publish(room_t *r, raw_t text, raw_t client_id, buf_t *body) {
    r->seq++;
    buf_str(body, "{\"channel\":");
    buf_str(body, r->key);
    buf_printf(body, ",\"seq\":%ld,\"author\":{\"username\":\"b00000\",\"display_name\":\"b00000\"},",
               r->seq);
    buf_str(body, "\"text\":");
    buf_raw(body, text, "\"\"");
    buf_str(body, ",\"client_id\":");
    buf_raw(body, client_id, "null");
    buf_printf(body, ",\"created_at\":%lld}", millis());
    static buf_t payload, frame;
    if (r->native.n) {
        payload.len = frame.len = 0;
        buf_str(&payload, "{\"type\":\"message\",");
        buf_put(&payload, body->p + 1, body->len - 1);
        text_frame(&frame, payload.p, payload.len); /* built once, written to each */
        for (int i = 0; i < r->native.n; i++) deliver(r->native.v[i], frame.p, frame.len);
    }
    if (r->tutorial.n) {
        payload.len = frame.len = 0;
        buf_str(&payload, "{\"messages\":[{\"user_name\":\"b00000\",\"content\":");
        buf_raw(&payload, text, "\"\"");
        buf_str(&payload, "}]}");
        text_frame(&frame, payload.p, payload.len);
        for (int i = 0; i < r->tutorial.n; i++) deliver(r->tutorial.v[i], frame.p, frame.len);
    }
}

static void on_subscribe(conn_t *c, raw_t channel, raw_t id) {
    if (!raw_ok(channel)) return;
    join(c, room(channel.p, (size_t)(channel.end - channel.p)), false);
    static buf_t b;
    b.len = 0;
    buf_str(&b, "{\"type\":\"subscribed\",\"id\":");
    buf_raw(&b, id, "null");
    buf_str(&b, ",\"channel\":");
    buf_raw(&b, channel, "null");
    buf_str(&b, ",\"last_seq\":0}");
    send_json(c, &b);
}

static void on_send(conn_t *c, raw_t channel, raw_t text, raw_t client_id, raw_t id) {
    if (!raw_ok(channel)) return;
    room_t *r = room(channel.p, (size_t)(channel.end - channel.p));
    static buf_t body, b;
    body.len = b.len = 0;
    publish(r, text, client_id, &body);
    buf_str(&b, "{\"type\":\"ack\",\"id\":");
    buf_raw(&b, id, "null");
    buf_str(&b, ",\"channel\":");
    buf_str(&b, r->key);
    buf_printf(&b, ",\"seq\":%ld,\"client_id\":", r->seq);
    buf_raw(&b, client_id, "null");
    buf_str(&b, ",\"duplicate\":false,\"message\":");
    buf_put(&b, body.p, body.len);
    buf_str(&b, "}");
    send_json(c, &b);
}

static void on_send_message(conn_t *c, raw_t room_name, raw_t content) {
    room_t *r = raw_ok(room_name) ? room(room_name.p, (size_t)(room_name.end - room_name.p))
                                  : c->tutorial_room;
    if (r == NULL) return;
    static buf_t body;
    body.len = 0;
    raw_t none = {NULL, NULL};
    publish(r, content, none, &body); /* the tutorial has no ack */
}

static void on_ping(conn_t *c, raw_t id) {
    static buf_t b;
    b.len = 0;
    buf_str(&b, "{\"type\":\"pong\",\"id\":");
    buf_raw(&b, id, "null");
    buf_printf(&b, ",\"time\":%lld}", millis());
    send_json(c, &b);
}

static void handle(conn_t *c, const char *p, size_t n) {
    const char *e = p + n;
    raw_t action = js_member(p, e, "action");
    if (raw_is(action, "send"))
        on_send(c, js_member(p, e, "channel"), js_member(p, e, "text"),
                js_member(p, e, "client_id"), js_member(p, e, "id"));
    else if (raw_is(action, "subscribe"))
        on_subscribe(c, js_member(p, e, "channel"), js_member(p, e, "id"));
    else if (raw_is(action, "ping"))
        on_ping(c, js_member(p, e, "id"));
    else if (raw_is(action, "sendMessage"))
        on_send_message(c, js_member(p, e, "room_name"), js_member(p, e, "content"));
}

/* --- WebSocket ------------------------------------------------------------------------------ */

/* The frames in c->in; returns false once the connection is to be closed. */
static bool parse_frames(conn_t *c) {
    char *p = c->in.p;
    size_t n = c->in.len, i = 0;
    while (n - i >= 2) {
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
        uint8_t key[4] = {0};
        if (b1 & 0x80) {
            if (n - start < 4) break;
            memcpy(key, p + start, 4);
            start += 4;
        }
        if (len > n - start) break;
        char *payload = p + start;
        for (uint64_t k = 0; k < len; k++) payload[k] ^= (char)key[k & 3];
        int opcode = b0 & 0x0F;
        bool fin = b0 & 0x80;
        i = start + len;
        if (opcode == 0x1 && fin) {
            handle(c, payload, len);
        } else if (opcode == 0x1) {
            c->in_frag = true;
            c->frag.len = 0;
            buf_put(&c->frag, payload, len);
        } else if (opcode == 0x0 && c->in_frag) {
            buf_put(&c->frag, payload, len);
            if (fin) {
                c->in_frag = false;
                handle(c, c->frag.p, c->frag.len);
            }
        } else if (opcode == 0x8) {
            static const char bye[] = {(char)0x88, 0x02, 0x03, (char)0xE8};
            buf_put(&c->out, bye, sizeof bye);
            flush(c);
            return false;
        } else if (opcode == 0x9) {
            static buf_t pong;
            pong.len = 0;
            text_frame(&pong, payload, len);
            pong.p[0] = (char)0x8A;
            deliver(c, pong.p, pong.len);
        }
    }
    buf_consume(&c->in, i);
    return true;
}

/* The value of ?room_name= in the request line, URL-decoded into out. */
static bool room_param(const char *line, size_t n, char *out, size_t cap) {
    const char *q = memmem(line, n, "room_name=", 10);
    if (q == NULL || (q[-1] != '?' && q[-1] != '&')) return false;
    size_t o = 0;
    for (q += 10; q < line + n && *q != '&' && *q != ' ' && o + 1 < cap; q++) {
        if (*q == '%' && q + 2 < line + n) {
            char hex[3] = {q[1], q[2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            q += 2;
        } else {
            out[o++] = *q == '+' ? ' ' : *q;
        }
    }
    out[o] = 0;
    return true;
}

static bool upgrade(conn_t *c) {
    char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
    if (end == NULL) return c->in.len < 65536;
    *end = 0;
    char key[128] = "";
    for (char *line = strstr(c->in.p, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "sec-websocket-key:", 18) == 0) {
            const char *v = line + 20;
            while (*v == ' ') v++;
            size_t k = strcspn(v, "\r\n ");
            if (k < sizeof key - 40) memcpy(key, v, k), key[k] = 0;
        }
    }
    strcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    uint8_t digest[20];
    char accept[32];
    sha1((const uint8_t *)key, strlen(key), digest);
    base64(digest, 20, accept);
    buf_t head = {0};
    buf_str(&head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
    buf_str(&head, "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    buf_str(&head, accept);
    buf_str(&head, "\r\n\r\n");
    buf_put(&c->out, head.p, head.len);
    free(head.p);
    char name[256];
    size_t line_len = strcspn(c->in.p, "\r\n");
    if (room_param(c->in.p, line_len, name, sizeof name - 2)) {
        char quoted[260];
        snprintf(quoted, sizeof quoted, "\"%s\"", name);
        c->tutorial_room = room(quoted, strlen(quoted));
        join(c, c->tutorial_room, true);
    } else {
        static const char hello[] =
            "{\"type\":\"hello\",\"user\":{\"username\":\"bench\"},\"server_version\":\"0\"}";
        text_frame(&c->out, hello, sizeof hello - 1);
    }
    c->upgraded = true;
    buf_consume(&c->in, (size_t)(end + 4 - c->in.p));
    flush(c);
    return true;
}

static char rbuf[256 * 1024];

/* Returns false once the connection is to be dropped. */
static bool on_readable(conn_t *c) {
    ssize_t n = read(c->fd, rbuf, sizeof rbuf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    buf_put(&c->in, rbuf, (size_t)n);
    bool ok = true;
    if (!c->upgraded) ok = upgrade(c);
    if (ok && c->upgraded) ok = parse_frames(c);
    flush_dirty(); /* coalesced: one write per subscriber for this whole read */
    return ok && !c->closing;
}

static void on_accept(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        if (c == NULL) die("calloc");
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--coalesce") == 0)
            coalesce = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: relay [--port N] [--coalesce]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 4096) < 0 ||
        getsockname(s, (struct sockaddr *)&addr, &len) < 0)
        die("relay");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, s, &lev) < 0) die("epoll");
    printf("relay listening on port %d (%s)\n", ntohs(addr.sin_port),
           coalesce ? "coalesced" : "one write per delivery");
    fflush(stdout);
    static struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(epfd, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                on_accept(s);
                continue;
            }
            if (evs[i].events & EPOLLOUT) flush(c);
            bool ok = !c->closing;
            if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) ok = on_readable(c);
            if (!ok) drop(c);
        }
    }
}
