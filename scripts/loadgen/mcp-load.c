/*
 * mcp-load: a small single-threaded HTTP/1.1 and h2c load generator.
 *
 * One process drives many keep-alive connections from one epoll loop. Every request is the same
 * POST with a body from a file; each connection may carry its own session header (one line of
 * --session-file per connection), which is what h2load cannot do without one process per session.
 *
 * Build: cc -O2 -Wall -Wextra -o mcp-load scripts/loadgen/mcp-load.c -lnghttp2
 * See README.md next to this file for the options and the output line.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

/* ---------------------------------------------------------------- configuration */

typedef struct {
    char *name;  /* as given (h1) */
    char *lname; /* lower-cased (h2) */
    char *value;
    size_t nlen, vlen;
} header_t;

static struct {
    int h2;          /* 1: h2c prior knowledge, 0: HTTP/1.1 */
    int conns;       /* -c */
    int inflight;    /* -m */
    double duration; /* -D */
    double warmup;   /* --warm-up */
    char *host, *port, *path, *authority;
    char *body;
    size_t body_len;
    header_t *hdrs;
    size_t nhdrs;
    char **sessions;
    size_t nsessions;
    char *session_header;  /* as given */
    char *lsession_header; /* lower-cased */
    struct addrinfo *ai;
} cfg;

/* ---------------------------------------------------------------- statistics */

/* Latency histogram: 1 us buckets below 100 ms, 1 ms buckets from 100 ms to 10 s, one overflow bucket. */
#define FINE_US 100000u
#define COARSE_MS 9900u
#define NBUCKETS (FINE_US + COARSE_MS + 1u)
static uint32_t hist[NBUCKETS];
static uint64_t lat_max_us;

static uint64_t t_window_start, t_window_end; /* ns, CLOCK_MONOTONIC */
static uint64_t n_requests, n_2xx, n_other, n_errors;
static uint64_t n_done_total; /* completed responses, warm-up included (for --progress) */
static int ever_connected, initial_failures, n_waiting, progress;
static unsigned n_messages;

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void vsay(const char *fmt, va_list ap) {
    fputs("mcp-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    exit(1);
}

/* Rate-limited diagnostics (connection errors can repeat many times a second). */
static void diag(const char *fmt, ...) {
    if (n_messages > 20) return;
    if (n_messages++ == 20) {
        fputs("mcp-load: further diagnostics suppressed\n", stderr);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

/* A response completed now; t0 is when its request was submitted. */
static inline void record(uint64_t t0, int status) {
    uint64_t t = now_ns();
    if (t < t_window_start || t >= t_window_end) return;
    n_requests++;
    if (status >= 200 && status < 300)
        n_2xx++;
    else
        n_other++;
    uint64_t us = (t - t0) / 1000u;
    if (us > lat_max_us) lat_max_us = us;
    if (us < FINE_US)
        hist[us]++;
    else if (us / 1000u - FINE_US / 1000u < COARSE_MS)
        hist[FINE_US + (us / 1000u - FINE_US / 1000u)]++;
    else
        hist[NBUCKETS - 1]++;
}

static double percentile_ms(double q) {
    if (n_requests == 0) return 0.0;
    uint64_t rank = (uint64_t)(q * (double)n_requests + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t cum = 0;
    for (uint32_t b = 0; b < NBUCKETS; b++) {
        cum += hist[b];
        if (cum >= rank) {
            if (b < FINE_US) return (double)b / 1000.0;
            if (b < NBUCKETS - 1) return (double)(FINE_US / 1000u + (b - FINE_US));
            break;
        }
    }
    return (double)lat_max_us / 1000.0;
}

/* ---------------------------------------------------------------- connections */

enum { ST_WAITING, ST_CONNECTING, ST_OPEN };
enum { P_IDLE, P_HEAD, P_BODY_CL, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_BODY_EOF };

struct conn;

typedef struct slot {
    struct conn *c;
    uint64_t t0;
    size_t off; /* body bytes handed to nghttp2 */
    int status;
    int idx;
} slot_t;

typedef struct conn {
    int fd;
    int idx;
    int state;
    int attempted; /* first connect attempt has failed already */
    uint64_t retry_at;
    uint64_t responses; /* completed on the current TCP connection */
    uint64_t tick_done; /* completed since the last --progress line */

    /* h2 */
    nghttp2_session *ng;
    nghttp2_nv *nv;
    size_t nnv;
    slot_t *slots;
    int *free_slots;
    int nfree;
    int goaway;
    uint8_t *out;
    size_t out_len, out_off, out_cap;

    /* h1 */
    char *req;
    size_t req_len, req_off;
    char *in;
    size_t in_start, in_end, in_cap, scan;
    int pstate, status, close_after, keep_alive_10;
    uint64_t remaining;
    uint64_t t0;
} conn_t;

static conn_t *conns;
static int epfd;
static nghttp2_session_callbacks *ng_callbacks;
static uint8_t rbuf[65536];

static void conn_start(conn_t *c);

/* Tear the connection down; reconnect from the main loop. error: count it as an error. */
static void conn_drop(conn_t *c, int error, const char *why) {
    if (error) {
        n_errors++;
        diag("connection %d: %s", c->idx, why);
    }
    if (c->ng) {
        nghttp2_session_del(c->ng);
        c->ng = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->fd = -1;
    }
    if (cfg.h2) {
        c->nfree = 0;
        for (int i = cfg.inflight - 1; i >= 0; i--) c->free_slots[c->nfree++] = i;
        c->out_len = c->out_off = 0;
        c->goaway = 0;
    } else {
        c->in_start = c->in_end = c->scan = 0;
        c->pstate = P_IDLE;
        c->req_off = c->req_len;
    }
    c->state = ST_WAITING;
    /* Reconnect at once after a connection that did work; otherwise back off a little. */
    c->retry_at = now_ns() + (c->responses > 0 || !error ? 0 : 100000000u);
    c->responses = 0;
    n_waiting++;
}

static void connect_failed(conn_t *c, int err) {
    if (!ever_connected && !c->attempted) {
        c->attempted = 1;
        if (++initial_failures >= cfg.conns)
            die("could not connect to %s:%s: %s", cfg.host, cfg.port, strerror(err));
    }
    conn_drop(c, 1, strerror(err));
}

/* ---------------------------------------------------------------- h2 */

static ssize_t body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
    (void)s, (void)stream_id, (void)user_data;
    slot_t *sl = source->ptr;
    size_t n = cfg.body_len - sl->off;
    if (n > length) n = length;
    memcpy(buf, cfg.body + sl->off, n);
    sl->off += n;
    if (sl->off == cfg.body_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
    (void)flags, (void)user_data;
    if (frame->hd.type == NGHTTP2_HEADERS && namelen == 7 && memcmp(name, ":status", 7) == 0) {
        slot_t *sl = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (sl) {
            int st = 0;
            for (size_t i = 0; i < valuelen && isdigit(value[i]); i++) st = st * 10 + (value[i] - '0');
            sl->status = st;
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user_data) {
    (void)s;
    if (frame->hd.type == NGHTTP2_GOAWAY) ((conn_t *)user_data)->goaway = 1;
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user_data) {
    conn_t *c = user_data;
    slot_t *sl = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!sl) return 0;
    if (error_code == NGHTTP2_NO_ERROR) {
        record(sl->t0, sl->status);
        c->responses++;
        c->tick_done++;
        n_done_total++;
    } else {
        n_errors++;
        diag("connection %d: stream %d reset: %s", c->idx, stream_id, nghttp2_http2_strerror(error_code));
    }
    c->free_slots[c->nfree++] = sl->idx;
    return 0;
}

static int h2_submit(conn_t *c, slot_t *sl) {
    nghttp2_data_provider dp;
    dp.source.ptr = sl;
    dp.read_callback = body_read;
    sl->t0 = now_ns();
    sl->off = 0;
    sl->status = 0;
    int32_t id = nghttp2_submit_request(c->ng, NULL, c->nv, c->nnv, cfg.body_len ? &dp : NULL, sl);
    if (id < 0) {
        conn_drop(c, 1, nghttp2_strerror(id));
        return -1;
    }
    return 0;
}

static int h2_refill(conn_t *c) {
    while (c->nfree > 0 && !c->goaway) {
        int i = c->free_slots[--c->nfree];
        if (h2_submit(c, &c->slots[i]) < 0) return -1;
    }
    return 0;
}

/* Write out what nghttp2 has queued. Returns -1 if the connection was dropped. */
static int h2_flush(conn_t *c) {
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return 0; /* EPOLLOUT (edge-triggered) resumes */
                conn_drop(c, 1, strerror(errno));
                return -1;
            }
            c->out_off += (size_t)n;
        }
        c->out_off = c->out_len = 0;
        while (c->out_len < 65536) {
            const uint8_t *p;
            ssize_t k = nghttp2_session_mem_send(c->ng, &p);
            if (k < 0) {
                conn_drop(c, 1, nghttp2_strerror((int)k));
                return -1;
            }
            if (k == 0) break;
            if (c->out_len + (size_t)k > c->out_cap) {
                size_t cap = c->out_cap * 2;
                while (cap < c->out_len + (size_t)k) cap *= 2;
                uint8_t *o = realloc(c->out, cap);
                if (!o) die("out of memory");
                c->out = o;
                c->out_cap = cap;
            }
            memcpy(c->out + c->out_len, p, (size_t)k);
            c->out_len += (size_t)k;
        }
        if (c->out_len == 0) return 0;
    }
}

static void h2_established(conn_t *c) {
    if (nghttp2_session_client_new(&c->ng, ng_callbacks, c) != 0) die("nghttp2_session_client_new failed");
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 30) - 1},
    };
    if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 2) != 0) die("nghttp2_submit_settings failed");
    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
    if (h2_refill(c) < 0) return;
    h2_flush(c);
}

/* After a read that returned -1: 1 to read again (EINTR), 0 when the socket is drained (EAGAIN), and -1
 * after dropping the connection for any other error. */
static int read_failed(conn_t *c) {
    if (errno == EINTR) return 1;
    if (errno == EAGAIN) return 0;
    conn_drop(c, 1, strerror(errno));
    return -1;
}

static void h2_event(conn_t *c, uint32_t ev) {
    const uint32_t hup = EPOLLERR | EPOLLHUP | EPOLLRDHUP;
    if (ev & (EPOLLIN | hup)) {
        for (;;) {
            ssize_t n = read(c->fd, rbuf, sizeof rbuf);
            if (n > 0) {
                ssize_t rv = nghttp2_session_mem_recv(c->ng, rbuf, (size_t)n);
                if (rv < 0) {
                    conn_drop(c, 1, nghttp2_strerror((int)rv));
                    return;
                }
                if (c->goaway) {
                    conn_drop(c, 1, "GOAWAY received");
                    return;
                }
                /* A short read drained the socket (epoll(7)); a new edge comes with new data. */
                if ((size_t)n < sizeof rbuf && !(ev & hup)) break;
                continue;
            }
            if (n == 0) {
                conn_drop(c, 1, "connection closed by server");
                return;
            }
            int again = read_failed(c);
            if (again > 0) continue;
            if (again < 0) return;
            break;
        }
    }
    if (h2_refill(c) < 0) return;
    if (h2_flush(c) < 0) return;
    if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng))
        conn_drop(c, 1, "h2 session finished");
}

/* ---------------------------------------------------------------- HTTP/1.1 */

static int h1_write(conn_t *c) {
    while (c->req_off < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            conn_drop(c, 1, strerror(errno));
            return -1;
        }
        c->req_off += (size_t)n;
    }
    return 0;
}

static int h1_send(conn_t *c) {
    c->t0 = now_ns();
    c->req_off = 0;
    c->pstate = P_HEAD;
    c->scan = c->in_start;
    return h1_write(c);
}

static int has_token(const char *v, size_t len, const char *tok) {
    size_t tl = strlen(tok), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < len && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0) return 1;
    }
    return 0;
}

/* Parse the response head in [in_start, hend) (hend points past the blank line). */
static int h1_head(conn_t *c, size_t hend, int *chunked, int *has_cl, uint64_t *cl) {
    const char *p = c->in + c->in_start, *end = c->in + hend;
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[9]) ||
        !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
        return -1;
    int http10 = p[7] == '0';
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    c->close_after = 0;
    c->keep_alive_10 = 0;
    *chunked = *has_cl = 0;
    *cl = 0;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    if (!line) return -1;
    line++;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) break;
        const char *le = nl;
        if (le > line && le[-1] == '\r') le--;
        if (le == line) break; /* blank line */
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon) {
            size_t nlen = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t')) v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            size_t vlen = (size_t)(ve - v);
            if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
                uint64_t x = 0;
                size_t i = 0;
                for (; i < vlen && isdigit((unsigned char)v[i]); i++) x = x * 10 + (uint64_t)(v[i] - '0');
                if (i == 0) return -1;
                *cl = x;
                *has_cl = 1;
            } else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
                *chunked = vlen >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0;
                if (!*chunked) c->close_after = 1; /* other codings: body runs to the close */
            } else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
                if (has_token(v, vlen, "close")) c->close_after = 1;
                if (has_token(v, vlen, "keep-alive")) c->keep_alive_10 = 1;
            }
        }
        line = nl + 1;
    }
    if (http10 && !c->keep_alive_10) c->close_after = 1;
    return 0;
}

/* Advance the response parser over the buffered bytes. 1: response complete, 0: need more, -1: bad. */
static int h1_parse(conn_t *c) {
    for (;;) {
        size_t avail = c->in_end - c->in_start;
        char *p = c->in + c->in_start;
        switch (c->pstate) {
        case P_IDLE:
            return avail ? -1 : 0; /* bytes nobody asked for */
        case P_HEAD: {
            size_t from = c->scan > c->in_start ? c->scan : c->in_start;
            char *h = memmem(c->in + from, c->in_end - from, "\r\n\r\n", 4);
            if (!h) {
                c->scan = c->in_end >= 3 ? c->in_end - 3 : 0;
                return 0;
            }
            size_t hend = (size_t)(h - c->in) + 4;
            int chunked, has_cl;
            uint64_t cl;
            if (h1_head(c, hend, &chunked, &has_cl, &cl) < 0) return -1;
            c->in_start = hend;
            c->scan = hend;
            if (c->status >= 100 && c->status < 200 && c->status != 101) continue; /* interim response */
            if (c->status == 204 || c->status == 304) {
                c->pstate = P_IDLE;
                return 1;
            }
            if (chunked) {
                c->pstate = P_CHUNK_SIZE;
            } else if (has_cl) {
                if (cl == 0) {
                    c->pstate = P_IDLE;
                    return 1;
                }
                c->remaining = cl;
                c->pstate = P_BODY_CL;
            } else {
                c->close_after = 1;
                c->pstate = P_BODY_EOF;
            }
            continue;
        }
        case P_BODY_CL:
        case P_CHUNK_DATA: {
            size_t take = avail < c->remaining ? avail : (size_t)c->remaining;
            c->in_start += take;
            c->remaining -= take;
            if (c->remaining) return 0;
            if (c->pstate == P_BODY_CL) {
                c->pstate = P_IDLE;
                return 1;
            }
            c->pstate = P_CHUNK_CRLF;
            continue;
        }
        case P_CHUNK_SIZE:
        case P_CHUNK_CRLF:
        case P_TRAILER: {
            char *nl = memchr(p, '\n', avail);
            if (!nl) return avail > 8192 ? -1 : 0;
            size_t llen = (size_t)(nl - p);
            if (llen && p[llen - 1] == '\r') llen--;
            c->in_start += (size_t)(nl - p) + 1;
            if (c->pstate == P_CHUNK_CRLF) {
                if (llen != 0) return -1;
                c->pstate = P_CHUNK_SIZE;
            } else if (c->pstate == P_TRAILER) {
                if (llen == 0) {
                    c->pstate = P_IDLE;
                    return 1;
                }
            } else {
                uint64_t sz = 0;
                size_t i = 0;
                for (; i < llen && isxdigit((unsigned char)p[i]); i++) {
                    int d = isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10);
                    if (sz >> 59) return -1;
                    sz = sz * 16 + (uint64_t)d;
                }
                if (i == 0) return -1;
                if (sz == 0) {
                    c->pstate = P_TRAILER;
                } else {
                    c->remaining = sz;
                    c->pstate = P_CHUNK_DATA;
                }
            }
            continue;
        }
        case P_BODY_EOF:
            c->in_start = c->in_end;
            return 0;
        }
    }
}

/* Handle what has been read. Returns -1 if the connection was dropped. */
static int h1_process(conn_t *c) {
    for (;;) {
        int r = h1_parse(c);
        if (r == 0) return 0;
        if (r < 0) {
            conn_drop(c, 1, "malformed HTTP/1.1 response");
            return -1;
        }
        record(c->t0, c->status);
        c->responses++;
        c->tick_done++;
        n_done_total++;
        if (c->close_after || c->req_off < c->req_len) {
            conn_drop(c, 0, NULL); /* server closes (or answered before reading the body): reconnect */
            return -1;
        }
        if (h1_send(c) < 0) return -1;
    }
}

static void h1_event(conn_t *c, uint32_t ev) {
    const uint32_t hup = EPOLLERR | EPOLLHUP | EPOLLRDHUP;
    if ((ev & EPOLLOUT) && c->req_off < c->req_len && h1_write(c) < 0) return;
    if (!(ev & (EPOLLIN | hup))) return;
    for (;;) {
        if (c->in_start == c->in_end) {
            c->in_start = c->in_end = c->scan = 0;
        } else if (c->in_end == c->in_cap && c->in_start > 0) {
            memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
            c->in_end -= c->in_start;
            c->scan = c->scan > c->in_start ? c->scan - c->in_start : 0;
            c->in_start = 0;
        }
        size_t space = c->in_cap - c->in_end;
        if (space == 0) {
            conn_drop(c, 1, "response head too large");
            return;
        }
        ssize_t n = read(c->fd, c->in + c->in_end, space);
        if (n > 0) {
            c->in_end += (size_t)n;
            if (h1_process(c) < 0) return;
            if ((size_t)n < space && !(ev & hup)) return;
            continue;
        }
        if (n == 0) {
            if (c->pstate == P_BODY_EOF) {
                record(c->t0, c->status);
                c->tick_done++;
                n_done_total++;
                conn_drop(c, 0, NULL);
            } else {
                conn_drop(c, 1, "connection closed by server");
            }
            return;
        }
        if (read_failed(c) > 0) continue;
        return;
    }
}

/* ---------------------------------------------------------------- connection setup */

static void conn_established(conn_t *c) {
    c->state = ST_OPEN;
    ever_connected = 1;
    if (cfg.h2) {
        h2_established(c);
    } else {
        h1_send(c);
    }
}

static void conn_start(conn_t *c) {
    const struct addrinfo *ai = cfg.ai;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->state = ST_CONNECTING;
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl: %s", strerror(errno));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        conn_established(c);
    } else if (errno != EINPROGRESS) {
        connect_failed(c, errno);
    }
}

static void on_event(conn_t *c, uint32_t ev) {
    if (c->state == ST_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) {
            connect_failed(c, err);
            return;
        }
        conn_established(c);
        return; /* nothing to read yet: the server has not been sent anything */
    }
    if (c->state != ST_OPEN) return;
    if (cfg.h2)
        h2_event(c, ev);
    else
        h1_event(c, ev);
}

/* ---------------------------------------------------------------- argument handling */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) die("out of memory");
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) die("out of memory");
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (ferror(f)) die("cannot read %s", path);
    fclose(f);
    buf = realloc(buf, n + 1);
    buf[n] = 0;
    *len = n;
    return buf;
}

static char *lower_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) die("out of memory");
    for (size_t i = 0; i < n; i++) d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = 0;
    return d;
}

static void add_header(const char *arg) {
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg) die("bad header \"%s\" (expected \"name: value\")", arg);
    size_t nlen = (size_t)(colon - arg);
    while (nlen && (arg[nlen - 1] == ' ' || arg[nlen - 1] == '\t')) nlen--;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
    if (nlen == 0) die("bad header \"%s\"", arg);
    cfg.hdrs = realloc(cfg.hdrs, (cfg.nhdrs + 1) * sizeof *cfg.hdrs);
    if (!cfg.hdrs) die("out of memory");
    header_t *h = &cfg.hdrs[cfg.nhdrs++];
    h->name = strndup(arg, nlen);
    h->lname = lower_dup(arg, nlen);
    h->value = strndup(v, vlen);
    h->nlen = nlen;
    h->vlen = vlen;
}

static void read_sessions(const char *path) {
    size_t len;
    char *text = read_file(path, &len);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t')) line[--l] = 0;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line) continue;
        cfg.sessions = realloc(cfg.sessions, (cfg.nsessions + 1) * sizeof *cfg.sessions);
        if (!cfg.sessions) die("out of memory");
        cfg.sessions[cfg.nsessions++] = line;
    }
    if (cfg.nsessions == 0) die("session file %s has no lines", path);
}

static void parse_url(const char *url) {
    if (strncmp(url, "http://", 7) != 0) die("URL must start with http:// (cleartext only): %s", url);
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    const char *hp_end = slash ? slash : h + strlen(h);
    cfg.path = strdup(slash ? slash : "/");
    const char *colon;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(hp_end - h));
        if (!rb) die("bad URL: %s", url);
        cfg.host = strndup(h + 1, (size_t)(rb - h - 1));
        colon = rb + 1 < hp_end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(hp_end - h));
        cfg.host = strndup(h, (size_t)((colon ? colon : hp_end) - h));
    }
    cfg.port = colon ? strndup(colon + 1, (size_t)(hp_end - colon - 1)) : strdup("80");
    if (!*cfg.host || !*cfg.port) die("bad URL: %s", url);
    for (const char *q = cfg.port; *q; q++)
        if (!isdigit((unsigned char)*q)) die("bad port in URL: %s", url);
    size_t alen = strlen(cfg.host) + strlen(cfg.port) + 4;
    cfg.authority = malloc(alen);
    if (strchr(cfg.host, ':'))
        snprintf(cfg.authority, alen, "[%s]:%s", cfg.host, cfg.port);
    else
        snprintf(cfg.authority, alen, "%s:%s", cfg.host, cfg.port);
}

static void usage(FILE *f) {
    fputs("usage: mcp-load (--h1 | --h2) -c CONNECTIONS -m IN_FLIGHT_PER_CONNECTION -D SECONDS\n"
          "                [--warm-up SECONDS] -d BODY_FILE [-H \"name: value\"]...\n"
          "                [--session-file FILE] [--session-header NAME] URL\n"
          "  URL is http://HOST:PORT/PATH; every request is POST PATH with the body of BODY_FILE.\n"
          "  --h2 uses h2c by prior knowledge; --h1 uses HTTP/1.1 keep-alive (-m must be 1).\n"
          "  --session-file: connection i sends <session header>: <line i mod lines>\n"
          "  --session-header: that header's name (default mcp-session-id)\n"
          "  --progress: each second, print to stderr the responses completed in that second and\n"
          "              how many connections completed none (a stalled connection shows up there)\n",
          f);
}

static double parse_seconds(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end != 0 || v < 0 || v != v) die("bad %s: %s", what, s);
    return v;
}

static int parse_int(const char *s, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 1 || v > 1000000) die("bad %s: %s (must be a positive integer)", what, s);
    return (int)v;
}

static void build_requests(void) {
    for (int i = 0; i < cfg.conns; i++) {
        conn_t *c = &conns[i];
        const char *sid = cfg.nsessions ? cfg.sessions[(size_t)i % cfg.nsessions] : NULL;
        if (cfg.h2) {
            static char clen[32];
            snprintf(clen, sizeof clen, "%zu", cfg.body_len);
            size_t n = 5 + cfg.nhdrs + (sid ? 1 : 0);
            c->nv = calloc(n, sizeof *c->nv);
            if (!c->nv) die("out of memory");
            size_t k = 0;
#define NV(N, NL, V, VL)                                                                                     \
    do {                                                                                                     \
        c->nv[k].name = (uint8_t *)(N);                                                                      \
        c->nv[k].namelen = (NL);                                                                             \
        c->nv[k].value = (uint8_t *)(V);                                                                     \
        c->nv[k].valuelen = (VL);                                                                            \
        c->nv[k].flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;                       \
        k++;                                                                                                 \
    } while (0)
            NV(":method", 7, "POST", 4);
            NV(":scheme", 7, "http", 4);
            NV(":authority", 10, cfg.authority, strlen(cfg.authority));
            NV(":path", 5, cfg.path, strlen(cfg.path));
            NV("content-length", 14, clen, strlen(clen));
            for (size_t j = 0; j < cfg.nhdrs; j++) NV(cfg.hdrs[j].lname, cfg.hdrs[j].nlen, cfg.hdrs[j].value, cfg.hdrs[j].vlen);
            if (sid) NV(cfg.lsession_header, strlen(cfg.lsession_header), sid, strlen(sid));
#undef NV
            c->nnv = k;
            c->slots = calloc((size_t)cfg.inflight, sizeof *c->slots);
            c->free_slots = calloc((size_t)cfg.inflight, sizeof *c->free_slots);
            if (!c->slots || !c->free_slots) die("out of memory");
            for (int j = 0; j < cfg.inflight; j++) {
                c->slots[j].c = c;
                c->slots[j].idx = j;
            }
            for (int j = cfg.inflight - 1; j >= 0; j--) c->free_slots[c->nfree++] = j;
            c->out_cap = 65536 + 16384;
            c->out = malloc(c->out_cap);
            if (!c->out) die("out of memory");
        } else {
            size_t cap = 256 + strlen(cfg.path) + strlen(cfg.authority) + cfg.body_len;
            for (size_t j = 0; j < cfg.nhdrs; j++) cap += cfg.hdrs[j].nlen + cfg.hdrs[j].vlen + 4;
            if (sid) cap += strlen(cfg.session_header) + strlen(sid) + 4;
            c->req = malloc(cap);
            if (!c->req) die("out of memory");
            int n = snprintf(c->req, cap, "POST %s HTTP/1.1\r\nhost: %s\r\ncontent-length: %zu\r\n", cfg.path,
                             cfg.authority, cfg.body_len);
            size_t len = (size_t)n;
            for (size_t j = 0; j < cfg.nhdrs; j++)
                len += (size_t)snprintf(c->req + len, cap - len, "%s: %s\r\n", cfg.hdrs[j].name, cfg.hdrs[j].value);
            if (sid) len += (size_t)snprintf(c->req + len, cap - len, "%s: %s\r\n", cfg.session_header, sid);
            len += (size_t)snprintf(c->req + len, cap - len, "\r\n");
            memcpy(c->req + len, cfg.body, cfg.body_len);
            c->req_len = c->req_off = len + cfg.body_len;
            c->in_cap = 32768;
            c->in = malloc(c->in_cap);
            if (!c->in) die("out of memory");
        }
    }
}

int main(int argc, char **argv) {
    enum { OPT_H1 = 256, OPT_H2, OPT_WARMUP, OPT_SESSION_FILE, OPT_SESSION_HEADER, OPT_PROGRESS };
    static const struct option opts[] = {
        {"h1", no_argument, NULL, OPT_H1},
        {"h2", no_argument, NULL, OPT_H2},
        {"connections", required_argument, NULL, 'c'},
        {"max-concurrent-streams", required_argument, NULL, 'm'},
        {"duration", required_argument, NULL, 'D'},
        {"warm-up", required_argument, NULL, OPT_WARMUP},
        {"data", required_argument, NULL, 'd'},
        {"header", required_argument, NULL, 'H'},
        {"session-file", required_argument, NULL, OPT_SESSION_FILE},
        {"session-header", required_argument, NULL, OPT_SESSION_HEADER},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int mode = -1, have_d = 0, have_D = 0;
    const char *body_file = NULL, *session_file = NULL;
    cfg.conns = 1;
    cfg.inflight = 1;
    cfg.session_header = "mcp-session-id";
    int o;
    while ((o = getopt_long(argc, argv, "c:m:D:d:H:h", opts, NULL)) != -1) {
        switch (o) {
        case OPT_H1:
        case OPT_H2:
            if (mode >= 0 && mode != (o == OPT_H2)) die("give only one of --h1 and --h2");
            mode = o == OPT_H2;
            break;
        case 'c': cfg.conns = parse_int(optarg, "-c"); break;
        case 'm': cfg.inflight = parse_int(optarg, "-m"); break;
        case 'D':
            cfg.duration = parse_seconds(optarg, "-D");
            have_D = 1;
            break;
        case OPT_WARMUP: cfg.warmup = parse_seconds(optarg, "--warm-up"); break;
        case 'd':
            body_file = optarg;
            have_d = 1;
            break;
        case 'H': add_header(optarg); break;
        case OPT_SESSION_FILE: session_file = optarg; break;
        case OPT_SESSION_HEADER:
            if (!*optarg || strpbrk(optarg, ": \t\r\n")) die("bad --session-header: \"%s\"", optarg);
            cfg.session_header = optarg;
            break;
        case OPT_PROGRESS: progress = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (mode < 0) die("give --h1 or --h2 (see --help)");
    if (!have_D || cfg.duration <= 0) die("give -D SECONDS (greater than 0)");
    if (!have_d) die("give -d BODY_FILE");
    if (optind != argc - 1) die(optind >= argc ? "give the URL" : "give exactly one URL");
    cfg.h2 = mode;
    if (!cfg.h2 && cfg.inflight > 1)
        die("--h1 keeps exactly one request in flight per connection: -m must be 1 (got %d); use more connections",
            cfg.inflight);
    parse_url(argv[optind]);
    cfg.body = read_file(body_file, &cfg.body_len);
    cfg.lsession_header = lower_dup(cfg.session_header, strlen(cfg.session_header));
    if (session_file) read_sessions(session_file);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(cfg.host, cfg.port, &hints, &cfg.ai);
    if (gai != 0) die("cannot resolve %s: %s", cfg.host, gai_strerror(gai));
    /* Pick the first address that accepts a connection (e.g. "localhost" may resolve to ::1 first). */
    int last_err = 0;
    struct addrinfo *chosen = NULL;
    for (struct addrinfo *ai = cfg.ai; ai && !chosen; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            chosen = ai;
        else
            last_err = errno;
        close(fd);
    }
    if (!chosen) die("could not connect to %s:%s: %s", cfg.host, cfg.port, strerror(last_err));
    cfg.ai = chosen;

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.conns + 16) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)cfg.conns + 16 ? rl.rlim_max : (rlim_t)cfg.conns + 16;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (cfg.h2) {
        nghttp2_session_callbacks_new(&ng_callbacks);
        nghttp2_session_callbacks_set_on_header_callback(ng_callbacks, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(ng_callbacks, on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(ng_callbacks, on_stream_close);
    }

    conns = calloc((size_t)cfg.conns, sizeof *conns);
    if (!conns) die("out of memory");
    for (int i = 0; i < cfg.conns; i++) {
        conns[i].fd = -1;
        conns[i].idx = i;
    }
    build_requests();

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1: %s", strerror(errno));

    uint64_t t_begin = now_ns();
    t_window_start = t_begin + (uint64_t)(cfg.warmup * 1e9);
    t_window_end = t_window_start + (uint64_t)(cfg.duration * 1e9);

    for (int i = 0; i < cfg.conns; i++) conn_start(&conns[i]);

    struct rusage ru0, ru1;
    int measuring = 0;
    struct epoll_event evs[256];
    uint64_t next_tick = t_begin + 1000000000u, last_done = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (progress && now >= next_tick) {
            int idle = 0;
            for (int i = 0; i < cfg.conns; i++) {
                if (conns[i].tick_done == 0) idle++;
                conns[i].tick_done = 0;
            }
            fprintf(stderr, "mcp-load: t=%.0fs%s done=%llu idle_connections=%d errors=%llu\n",
                    (double)(next_tick - t_begin) / 1e9, now < t_window_start ? " (warm-up)" : "",
                    (unsigned long long)(n_done_total - last_done), idle, (unsigned long long)n_errors);
            last_done = n_done_total;
            next_tick += 1000000000u;
        }
        if (!measuring && now >= t_window_start) {
            getrusage(RUSAGE_SELF, &ru0);
            measuring = 1;
        }
        if (now >= t_window_end) break;
        uint64_t next = measuring ? t_window_end : t_window_start;
        if (progress && next_tick < next) next = next_tick;
        if (n_waiting > 0) {
            for (int i = 0; i < cfg.conns; i++) {
                conn_t *c = &conns[i];
                if (c->state != ST_WAITING) continue;
                if (c->retry_at <= now) {
                    n_waiting--;
                    conn_start(c); /* may fail and wait again */
                    if (c->state == ST_WAITING && c->retry_at < next) next = c->retry_at;
                } else if (c->retry_at < next) {
                    next = c->retry_at;
                }
            }
        }
        uint64_t wait_ns = next > now ? next - now : 0;
        int timeout = (int)((wait_ns + 999999u) / 1000000u);
        int n = epoll_wait(epfd, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) on_event(evs[i].data.ptr, evs[i].events);
    }
    getrusage(RUSAGE_SELF, &ru1);

    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("requests=%llu rps=%.1f p50_ms=%.3f p99_ms=%.3f status_2xx=%llu status_other=%llu errors=%llu cpu_s=%.3f\n",
           (unsigned long long)n_requests, (double)n_requests / cfg.duration, percentile_ms(0.50), percentile_ms(0.99),
           (unsigned long long)n_2xx, (unsigned long long)n_other, (unsigned long long)n_errors, cpu);
    fflush(stdout);
    return 0;
}
