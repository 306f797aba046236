// floor — the least work a WebSocket push server can do per connect and per
// publish on this kernel, with io_uring the way herald uses it. A measuring
// stick for Docs/BENCHMARKS.md ("The kernel floor"), not a server: no
// validation, no limits, no timers, no history, no compression; topics must be
// named t0..t(TOPICS-1) (herald-loadgen's names) and are found by their number.
//
// What it does is what every push server must do at least:
//   connect: accept (multishot, direct descriptor, TCP_DEFER_ACCEPT), receive
//     the upgrade, SHA-1 + base64 the key, send the 101, subscribe, and keep a
//     receive armed for the client's input;
//   publish: receive a keep-alive POST /publish?topic=tN, frame the body once,
//     send it to each subscriber, and answer 200 (one answer send per receive,
//     as herald answers a burst).
//
// Build and run (outside the test suite; Docs/BENCHMARKS.md has the runs):
//   gcc -O2 -o /tmp/floor LoadGen/floor/floor.c -luring -lcrypto
//   /tmp/floor PORT
// then drive it like a peer: --sub-url 'ws://{host}/ws?topic={topic}'
// --pub-url 'http://127.0.0.1:PORT/publish?topic={topic}'.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CONNS = 16384, TOPICS = 1 << 20, HEAD = 8192, QUEUE = 4096 };
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND_OWNED = 3, OP_SEND_SHARED = 0 };
enum { FREE = 0, HTTP = 1, SOCKET = 2 };

struct conn {
    int state, len, topic, next, prev;
    char *buffer;  // HTTP state only: heads arrive here (pooled, LIFO).
};
struct shared { int refs, len; char data[]; };

static struct io_uring ring;
static struct conn *conns;
static int *topicHead;
static char *pool[CONNS];
static int pooled;
static char scratch[65536];  // WebSocket input is read and dropped.
static long shortSends, failedSends;

static struct io_uring_sqe *sqe(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
    return s;
}

static void receive(int index) {
    struct io_uring_sqe *s = sqe();
    struct conn *c = &conns[index];
    if (c->state == SOCKET) io_uring_prep_recv(s, index, scratch, sizeof scratch, 0);
    else io_uring_prep_recv(s, index, c->buffer + c->len, HEAD - c->len, 0);
    s->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(s, (uint64_t)index << 2 | OP_RECV);
}

static void sendOwned(int index, char *bytes, int len) {
    struct io_uring_sqe *s = sqe();
    io_uring_prep_send(s, index, bytes, len, MSG_NOSIGNAL);
    s->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)bytes | OP_SEND_OWNED);
}

static void unsubscribe(int index) {
    struct conn *c = &conns[index];
    if (c->prev >= 0) conns[c->prev].next = c->next; else topicHead[c->topic] = c->next;
    if (c->next >= 0) conns[c->next].prev = c->prev;
}

static void closeConnection(int index) {
    struct conn *c = &conns[index];
    if (c->state == SOCKET) unsubscribe(index);
    if (c->buffer) pool[pooled++] = c->buffer;
    memset(c, 0, sizeof *c);
    struct io_uring_sqe *s = sqe();
    io_uring_prep_close_direct(s, index);
    io_uring_sqe_set_data64(s, 0);
}

// The topic number after `prefix` in the request target, or -1.
static int topicNumber(const char *head, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(head, prefix, n) != 0 || head[n] != 't') return -1;
    long value = strtol(head + n + 1, NULL, 10);
    return value >= 0 && value < TOPICS ? (int)value : -1;
}

// The value of header `name` (with its ": ") in head, or NULL; `length` set.
static const char *header(const char *head, const char *end, const char *name, int *length) {
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line + 2 < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, n) == 0) {
            const char *value = line + 2 + n;
            while (*value == ' ') value++;
            *length = (int)(strstr(value, "\r\n") - value);
            return value;
        }
    }
    return NULL;
}

static void upgrade(int index, int headLength) {
    struct conn *c = &conns[index];
    c->buffer[headLength - 1] = 0;
    int topic = topicNumber(c->buffer, "GET /ws?topic=");
    int keyLength = 0;
    const char *key = header(c->buffer, c->buffer + headLength, "sec-websocket-key:", &keyLength);
    if (topic < 0 || !key || keyLength > 64) { closeConnection(index); return; }
    unsigned char input[128], digest[SHA_DIGEST_LENGTH];
    memcpy(input, key, keyLength);
    memcpy(input + keyLength, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    SHA1(input, keyLength + 36, digest);
    static const char prefix[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
    char *response = malloc(sizeof prefix + 32);
    memcpy(response, prefix, sizeof prefix - 1);
    int length = sizeof prefix - 1;
    length += EVP_EncodeBlock((unsigned char *)response + length, digest, SHA_DIGEST_LENGTH);
    memcpy(response + length, "\r\n\r\n", 4);
    sendOwned(index, response, length + 4);
    pool[pooled++] = c->buffer;
    c->buffer = NULL;
    c->state = SOCKET;
    c->topic = topic;
    c->prev = -1;
    c->next = topicHead[topic];
    if (c->next >= 0) conns[c->next].prev = index;
    topicHead[topic] = index;
    receive(index);
}

static void publish(int topic, const char *body, int length) {
    int header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    struct shared *frame = aligned_alloc(16, (sizeof(struct shared) + header + length + 15) & ~15UL);
    unsigned char *out = (unsigned char *)frame->data;
    out[0] = 0x81;
    if (header == 2) out[1] = (unsigned char)length;
    else if (header == 4) { out[1] = 126; out[2] = length >> 8; out[3] = length & 255; }
    else { out[1] = 127; for (int i = 0; i < 8; i++) out[2 + i] = (unsigned char)((uint64_t)length >> (56 - 8 * i)); }
    memcpy(out + header, body, length);
    frame->len = header + length;
    frame->refs = 1;
    for (int index = topicHead[topic]; index >= 0; index = conns[index].next) {
        struct io_uring_sqe *s = sqe();
        io_uring_prep_send(s, index, frame->data, frame->len, MSG_NOSIGNAL);
        s->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)frame | OP_SEND_SHARED);
        frame->refs++;
    }
    if (--frame->refs == 0) free(frame);
}

// Every complete request at the start of the buffer; one answer send.
static void requests(int index) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    struct conn *c = &conns[index];
    int consumed = 0, answers = 0;
    for (;;) {
        char *start = c->buffer + consumed;
        char *end = memmem(start, c->len - consumed, "\r\n\r\n", 4);
        if (!end) break;
        int headLength = (int)(end - start) + 4;
        if (consumed == 0 && answers == 0 && strncmp(start, "GET ", 4) == 0) { upgrade(index, headLength); return; }
        int bodyLength = 0;
        const char *value = header(start, end + 2, "content-length:", &bodyLength);
        bodyLength = value ? atoi(value) : 0;
        if (c->len - consumed < headLength + bodyLength) break;
        int topic = topicNumber(start, "POST /publish?topic=");
        if (topic >= 0) publish(topic, start + headLength, bodyLength);
        answers++;
        consumed += headLength + bodyLength;
    }
    if (answers > 0) {
        char *answer = malloc(answers * (sizeof ok - 1));
        for (int i = 0; i < answers; i++) memcpy(answer + i * (sizeof ok - 1), ok, sizeof ok - 1);
        sendOwned(index, answer, answers * (sizeof ok - 1));
        memmove(c->buffer, c->buffer + consumed, c->len - consumed);
        c->len -= consumed;
    }
    if (c->len == HEAD) { closeConnection(index); return; }
    receive(index);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 18093;
    conns = calloc(CONNS, sizeof *conns);
    topicHead = malloc(TOPICS * sizeof *topicHead);
    memset(topicHead, 0xff, TOPICS * sizeof *topicHead);
    struct io_uring_params params = {0};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
                   | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
    params.cq_entries = QUEUE * 8;
    int error = io_uring_queue_init_params(QUEUE, &ring, &params);
    // A ring's table is capped by RLIMIT_NOFILE (20,000 here), so CONNS fits it.
    if (error == 0) error = io_uring_register_files_sparse(&ring, CONNS);
    if (error < 0) {
        fprintf(stderr, "io_uring: %s\n", strerror(-error));
        return 1;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(listener, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 4096) < 0) {
        perror("listen");
        return 1;
    }
    fprintf(stderr, "floor listening on 127.0.0.1:%d\n", port);
    int accepting = 0;
    for (;;) {
        if (!accepting) {
            struct io_uring_sqe *s = sqe();
            io_uring_prep_multishot_accept_direct(s, listener, NULL, NULL, 0);
            io_uring_sqe_set_data64(s, OP_ACCEPT);
            accepting = 1;
        }
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t data = cqe->user_data;
            int res = cqe->res;
            switch (data & 3) {
            case OP_ACCEPT:
                if (!(cqe->flags & IORING_CQE_F_MORE)) accepting = 0;
                if (res >= 0) {
                    conns[res] = (struct conn){.state = HTTP, .buffer = pooled ? pool[--pooled] : malloc(HEAD)};
                    receive(res);
                }
                break;
            case OP_RECV: {
                int index = (int)(data >> 2);
                if (res <= 0) { closeConnection(index); break; }
                if (conns[index].state == SOCKET) { receive(index); break; }
                conns[index].len += res;
                requests(index);
                break;
            }
            case OP_SEND_OWNED:
                if (res < 0) failedSends++;
                free((void *)(uintptr_t)(data & ~3UL));
                break;
            case OP_SEND_SHARED: {
                struct shared *frame = (struct shared *)(uintptr_t)data;
                if (!frame) break;  // a close
                if (res < 0) failedSends++;
                else if (res < frame->len) shortSends++;
                if (--frame->refs == 0) free(frame);
                break;
            }
            }
        }
        io_uring_cq_advance(&ring, seen);
        if (shortSends + failedSends > 0 && (shortSends + failedSends) % 1000 == 1)
            fprintf(stderr, "floor: %ld short, %ld failed sends\n", shortSends, failedSends);
    }
}
