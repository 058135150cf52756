/* The machine's own ceiling for an HTTP upload (bench/upload.py): a native
 * server that reads one request per connection (headers, then Content-Length
 * bytes), throws the body away and answers 201. Nothing is parsed beyond
 * Content-Length, nothing is stored: what is left is the kernel's loopback and
 * the client. Prints "sink listening on port N" once it accepts.
 *
 * cc -O2 -o sink sink.c && ./sink */

#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)

static char buf[BUF];

/* Content-Length of the headers in buf[0..n), -1 without one. */
static long content_length(const char *head, size_t n) {
    const char *p = head, *end = head + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) eol = end;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
            return strtol(p + 15, NULL, 10);
        p = eol + 1;
    }
    return -1;
}

static void serve(int fd) {
    size_t have = 0;
    char *body = NULL;
    while (body == NULL) {
        if (have == BUF) return; /* headers over 256 KiB: not ours */
        ssize_t n = read(fd, buf + have, BUF - have);
        if (n <= 0) return;
        have += (size_t)n;
        body = memmem(buf, have, "\r\n\r\n", 4);
    }
    body += 4;
    long left = content_length(buf, (size_t)(body - buf));
    if (left < 0) return;
    left -= (long)(have - (size_t)(body - buf));
    while (left > 0) {
        ssize_t n = read(fd, buf, BUF);
        if (n <= 0) return;
        left -= n;
    }
    static const char answer[] =
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n[]";
    if (write(fd, answer, sizeof answer - 1) < 0) return;
}

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 16) < 0 ||
        getsockname(s, (struct sockaddr *)&addr, &len) < 0) {
        perror("sink");
        return 1;
    }
    printf("sink listening on port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        serve(fd);
        close(fd);
    }
}
