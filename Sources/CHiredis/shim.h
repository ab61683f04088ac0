#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A flat reply: hiredis's reader builds one redisReply object per element (an allocation per
 * id, field and value). For stream reads the reader is given these object functions instead:
 * every element becomes a token in one array and every string's bytes are appended to one
 * buffer, in the order of the reply (depth first), so a reply of any size costs a few
 * amortised reallocations. Both buffers are kept between replies. */

typedef struct lw_flat_token {
    int32_t type;     /* REDIS_REPLY_* */
    int32_t reserved;
    int64_t value;    /* ARRAY: element count; INTEGER: the integer; strings: offset in bytes */
    int64_t length;   /* strings: byte count */
} lw_flat_token;

typedef struct lw_flat {
    char *bytes;
    size_t length, capacity;
    lw_flat_token *tokens;
    size_t count, tokenCapacity;
} lw_flat;

static inline int lw_flat_push(lw_flat *f, int type, int64_t value, const char *s, size_t n) {
    if (f->count == f->tokenCapacity) {
        size_t c = f->tokenCapacity ? f->tokenCapacity * 2 : 1024;
        lw_flat_token *t = (lw_flat_token *)realloc(f->tokens, c * sizeof(lw_flat_token));
        if (!t) return 0;
        f->tokens = t;
        f->tokenCapacity = c;
    }
    lw_flat_token *t = &f->tokens[f->count++];
    t->type = type;
    t->reserved = 0;
    t->value = value;
    t->length = 0;
    if (s) {
        if (f->length + n > f->capacity) {
            size_t c = f->capacity ? f->capacity * 2 : 65536;
            while (c < f->length + n) c *= 2;
            char *b = (char *)realloc(f->bytes, c);
            if (!b) { f->count--; return 0; }
            f->bytes = b;
            f->capacity = c;
        }
        memcpy(f->bytes + f->length, s, n);
        t->value = (int64_t)f->length;
        t->length = (int64_t)n;
        f->length += n;
    }
    return 1;
}

/* hiredis keeps the returned pointer as the element's object: any non-NULL value works (NULL
 * means out of memory); nothing is freed per element. */
static void *lw_flat_string(const redisReadTask *task, char *s, size_t n) {
    lw_flat *f = (lw_flat *)task->privdata;
    return lw_flat_push(f, task->type, 0, s, n) ? (void *)f : NULL;
}
#if HIREDIS_MAJOR >= 1
static void *lw_flat_array(const redisReadTask *task, size_t n) {
#else
static void *lw_flat_array(const redisReadTask *task, int n) {
#endif
    lw_flat *f = (lw_flat *)task->privdata;
    return lw_flat_push(f, REDIS_REPLY_ARRAY, (int64_t)n, NULL, 0) ? (void *)f : NULL;
}
static void *lw_flat_integer(const redisReadTask *task, long long v) {
    lw_flat *f = (lw_flat *)task->privdata;
    return lw_flat_push(f, REDIS_REPLY_INTEGER, (int64_t)v, NULL, 0) ? (void *)f : NULL;
}
static void *lw_flat_nil(const redisReadTask *task) {
    lw_flat *f = (lw_flat *)task->privdata;
    return lw_flat_push(f, REDIS_REPLY_NIL, 0, NULL, 0) ? (void *)f : NULL;
}
static void lw_flat_free_object(void *obj) { (void)obj; }

/* Reads the next reply of `c` into `f` (emptied first). Returns REDIS_OK or REDIS_ERR as
 * redisGetReply does; the context's own object functions are restored either way. */
static redisReplyObjectFunctions lw_flat_functions = {
    .createString = lw_flat_string, .createArray = lw_flat_array, .createInteger = lw_flat_integer,
    .createNil = lw_flat_nil, .freeObject = lw_flat_free_object,
};

static inline int lw_flat_get_reply(redisContext *c, lw_flat *f) {
    redisReplyObjectFunctions *functions = &lw_flat_functions;
    f->length = 0;
    f->count = 0;
    redisReplyObjectFunctions *saved = c->reader->fn;
    void *savedPrivdata = c->reader->privdata;
    c->reader->fn = functions;
    c->reader->privdata = f;
    void *reply = NULL;
    int rc = redisGetReply(c, &reply);
    /* A reply cut short (timeout, connection lost) leaves the reader holding `f` as its
     * unfinished root: hiredis would later free it with the default functions (a double free of
     * the caller's lw_flat). Forget it, and the half-parsed reply with it: the connection is
     * dropped after any error anyway. */
    if (c->reader->reply == (void *)f) c->reader->reply = NULL;
    if (rc != REDIS_OK) c->reader->ridx = -1;
    c->reader->fn = saved;
    c->reader->privdata = savedPrivdata;
    if (rc == REDIS_OK && reply == NULL) rc = REDIS_ERR;
    return rc;
}

/* Parses `n` bytes of RESP into `f` with the same reader functions as a connection (no socket):
 * 1 a whole reply, 0 incomplete, -1 a protocol error. For tests and fuzzing of the flat path. */
static inline int lw_flat_parse(const char *buf, size_t n, lw_flat *f) {
    redisReader *r = redisReaderCreateWithFunctions(&lw_flat_functions);
    if (!r) return -1;
    f->length = 0;
    f->count = 0;
    r->privdata = f;
    void *reply = NULL;
    int rc = redisReaderFeed(r, buf, n);
    if (rc == REDIS_OK) rc = redisReaderGetReply(r, &reply);
    if (r->reply == (void *)f) r->reply = NULL;
    redisReaderFree(r);
    if (rc != REDIS_OK) return -1;
    return reply ? 1 : 0;
}

static inline void lw_flat_release(lw_flat *f) {
    free(f->bytes);
    free(f->tokens);
    memset(f, 0, sizeof(*f));
}
