/*
 * The C peer of bench-redis: the same read+ack work as the Swift consumer, as a plain hiredis loop.
 *
 *   peer fill HOST PORT STREAM N     XADD N small entries, pipelined 1000 at a time (untimed setup)
 *   peer read HOST PORT STREAM N     XGROUP CREATE, then XREADGROUP COUNT 1000 / XACK until N entries
 *                                    were read; prints "entries_per_sec <float>"
 *
 * The read loop pipelines each batch's XACK with the next XREADGROUP (one write, two replies),
 * the fastest a single hiredis connection can do it. Build: cc -O2 peer.c -lhiredis
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COUNT 1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "peer: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
    exit(1);
}

static void fill(redisContext *c, const char *stream, long n) {
    char value[32];
    for (long done = 0; done < n;) {
        long chunk = n - done < COUNT ? n - done : COUNT;
        for (long i = 0; i < chunk; i++) {
            int len = snprintf(value, sizeof value, "%ld", done + i);
            const char *argv[] = {"XADD", stream, "*", "n", value, "kind", "click"};
            size_t lens[] = {4, strlen(stream), 1, 1, (size_t)len, 4, 5};
            if (redisAppendCommandArgv(c, 7, argv, lens) != REDIS_OK) die(c, "append XADD");
        }
        for (long i = 0; i < chunk; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) die(c, "XADD");
            if (r->type == REDIS_REPLY_ERROR) { fprintf(stderr, "peer: XADD: %s\n", r->str); exit(1); }
            freeReplyObject(r);
        }
        done += chunk;
    }
}

static void append_read(redisContext *c, const char *stream) {
    const char *argv[] = {"XREADGROUP", "GROUP", "bench", "peer", "COUNT", "1000", "BLOCK", "2000",
                          "STREAMS", stream, ">"};
    size_t lens[11];
    for (int i = 0; i < 11; i++) lens[i] = strlen(argv[i]);
    if (redisAppendCommandArgv(c, 11, argv, lens) != REDIS_OK) die(c, "append XREADGROUP");
}

static void read_ack(redisContext *c, const char *stream, long n) {
    redisReply *r = redisCommand(c, "XGROUP CREATE %s bench 0", stream);
    if (!r) die(c, "XGROUP");
    freeReplyObject(r);

    const char **argv = malloc(sizeof(char *) * (COUNT + 3));
    size_t *lens = malloc(sizeof(size_t) * (COUNT + 3));
    argv[0] = "XACK"; lens[0] = 4;
    argv[1] = stream; lens[1] = strlen(stream);
    argv[2] = "bench"; lens[2] = 5;

    long total = 0;
    int acks_in_flight = 0;
    double start = now();
    append_read(c, stream);
    while (total < n) {
        if (acks_in_flight) {  /* the XACK sent with this read */
            if (redisGetReply(c, (void **)&r) != REDIS_OK) die(c, "XACK");
            freeReplyObject(r);
            acks_in_flight = 0;
        }
        if (redisGetReply(c, (void **)&r) != REDIS_OK) die(c, "XREADGROUP");
        if (r->type != REDIS_REPLY_ARRAY) die(c, "XREADGROUP reply");
        redisReply *entries = r->element[0]->element[1];
        size_t k = entries->elements;
        for (size_t i = 0; i < k; i++) {
            argv[3 + i] = entries->element[i]->element[0]->str;
            lens[3 + i] = entries->element[i]->element[0]->len;
        }
        total += (long)k;
        if (redisAppendCommandArgv(c, 3 + (int)k, argv, lens) != REDIS_OK) die(c, "append XACK");
        acks_in_flight = 1;
        if (total < n) append_read(c, stream);
        freeReplyObject(r);  /* after the XACK was copied into the output buffer */
        if (total >= n) {
            if (redisGetReply(c, (void **)&r) != REDIS_OK) die(c, "XACK");
            freeReplyObject(r);
            acks_in_flight = 0;
        }
    }
    double secs = now() - start;
    printf("entries_per_sec %.0f\n", total / secs);
    free(argv);
    free(lens);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: peer fill|read HOST PORT STREAM N\n");
        return 2;
    }
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(argv[2], atoi(argv[3]), tv);
    if (!c || c->err) die(c, "connect");
    redisSetTimeout(c, tv);
    long n = atol(argv[5]);
    if (strcmp(argv[1], "fill") == 0) fill(c, argv[4], n);
    else if (strcmp(argv[1], "read") == 0) read_ack(c, argv[4], n);
    else { fprintf(stderr, "peer: unknown mode %s\n", argv[1]); return 2; }
    redisFree(c);
    return 0;
}
