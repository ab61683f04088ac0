#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
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

static redisReplyObjectFunctions lw_flat_functions = {
    .createString = lw_flat_string, .createArray = lw_flat_array, .createInteger = lw_flat_integer,
    .createNil = lw_flat_nil, .freeObject = lw_flat_free_object,
};

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

/* ---- TLS (hiredis 0.14 has none): OpenSSL on the context's socket ---------------------------
 * Commands are still formatted into the context's output buffer by hiredis (redisAppendCommandArgv)
 * and replies parsed by its reader; only the bytes travel through SSL_write / SSL_read instead
 * of write(2) / read(2). The socket keeps hiredis's timeouts (SO_RCVTIMEO / SO_SNDTIMEO), so a
 * silent server ends in EAGAIN as on plain connections. */

typedef struct lw_tls_options {
    const char *server_name;   /* SNI and the name the certificate must match (host or IP) */
    const char *ca_file;       /* NULL: the system's trust store */
    const char *cert_file;     /* client certificate chain (mutual TLS), or NULL */
    const char *key_file;
    int verify;                /* 0: no certificate or name verification */
} lw_tls_options;

static inline void lw_tls_error(char *err, size_t n, const char *what) {
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, n, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

/* Handshakes on `fd`. Returns the SSL object, or NULL with `err` set; `verify_result` is the
 * certificate verification result (X509_V_OK when it passed or was not checked). */
static inline SSL *lw_tls_connect(int fd, const lw_tls_options *o, char *err, size_t errlen, long *verify_result) {
    *verify_result = X509_V_OK;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) { lw_tls_error(err, errlen, "cannot create a TLS context"); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    /* Stream reads are bulk: let OpenSSL read several records per read(2) into its buffer, and
     * offer AES-128-GCM first (the server follows the client's order unless told otherwise;
     * all three suites are TLS 1.3's standard ones). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    if (o->verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) { lw_tls_error(err, errlen, "cannot load the CA certificates (redis.tls.ca_file)"); SSL_CTX_free(ctx); return NULL; }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
            lw_tls_error(err, errlen, "cannot load the client certificate (redis.tls.cert_file)"); SSL_CTX_free(ctx); return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file ? o->key_file : o->cert_file, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1) {
            lw_tls_error(err, errlen, "cannot load the client key (redis.tls.key_file) or it does not match the certificate");
            SSL_CTX_free(ctx); return NULL;
        }
    }
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL object keeps its own reference */
    if (!ssl) { lw_tls_error(err, errlen, "cannot create a TLS session"); return NULL; }
    SSL_set_fd(ssl, fd);
    unsigned char addr[16];
    int is_ip = o->server_name && (inet_pton(AF_INET, o->server_name, addr) == 1 || inet_pton(AF_INET6, o->server_name, addr) == 1);
    if (o->server_name && !is_ip) SSL_set_tlsext_host_name(ssl, o->server_name);
    if (o->verify && o->server_name) {
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o->server_name) : SSL_set1_host(ssl, o->server_name);
        if (ok != 1) { lw_tls_error(err, errlen, "cannot set the name to verify"); SSL_free(ssl); return NULL; }
    }
    errno = 0;
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        int e = SSL_get_error(ssl, rc);
        *verify_result = SSL_get_verify_result(ssl);
        if (*verify_result != X509_V_OK) {
            snprintf(err, errlen, "certificate verification failed: %s", X509_verify_cert_error_string(*verify_result));
            ERR_clear_error();
        } else if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_SYSCALL) && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            snprintf(err, errlen, "the TLS handshake timed out");
        } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            snprintf(err, errlen, "the server closed the connection during the TLS handshake");
        } else {
            lw_tls_error(err, errlen, "TLS handshake failed");
        }
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static inline void lw_tls_set_io_error(redisContext *c, SSL *ssl, int rc) {
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
        c->err = REDIS_ERR_EOF;
        snprintf(c->errstr, sizeof c->errstr, "Server closed the connection");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->err = REDIS_ERR_IO;
        snprintf(c->errstr, sizeof c->errstr, "%s", strerror(errno));
    } else {
        int saved = errno;
        c->err = REDIS_ERR_IO;
        unsigned long ee = ERR_get_error();
        char buf[200] = "";
        if (ee) ERR_error_string_n(ee, buf, sizeof buf);
        snprintf(c->errstr, sizeof c->errstr, "TLS: %s", ee ? buf : strerror(saved));
        ERR_clear_error();
        errno = saved;
    }
}

/* Writes the context's whole output buffer over TLS. */
static inline int lw_tls_flush(redisContext *c, SSL *ssl) {
    while (sdslen(c->obuf) > 0) {
        errno = 0;
        int n = SSL_write(ssl, c->obuf, (int)sdslen(c->obuf));
        if (n <= 0) { lw_tls_set_io_error(c, ssl, n); return REDIS_ERR; }
        sdsrange(c->obuf, n, -1);
    }
    return REDIS_OK;
}

/* redisGetReply over TLS: flushes pending commands, then reads until the reader has a reply. */
static inline int lw_tls_get_reply(redisContext *c, SSL *ssl, void **reply) {
    *reply = NULL;
    if (lw_tls_flush(c, ssl) != REDIS_OK) return REDIS_ERR;
    char buf[64 * 1024];
    for (;;) {
        if (redisReaderGetReply(c->reader, reply) != REDIS_OK) {
            c->err = c->reader->err;
            snprintf(c->errstr, sizeof c->errstr, "%s", c->reader->errstr);
            return REDIS_ERR;
        }
        if (*reply) return REDIS_OK;
        errno = 0;
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) { lw_tls_set_io_error(c, ssl, n); return REDIS_ERR; }
        if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
            c->err = c->reader->err;
            snprintf(c->errstr, sizeof c->errstr, "%s", c->reader->errstr);
            return REDIS_ERR;
        }
    }
}

/* Reads the next reply of `c` into `f` (emptied first), over TLS when `ssl` is not NULL.
 * Returns REDIS_OK or REDIS_ERR as redisGetReply does; the context's own object functions are
 * restored either way. */
static inline int lw_flat_get_reply(redisContext *c, SSL *ssl, lw_flat *f) {
    f->length = 0;
    f->count = 0;
    redisReplyObjectFunctions *saved = c->reader->fn;
    void *savedPrivdata = c->reader->privdata;
    c->reader->fn = &lw_flat_functions;
    c->reader->privdata = f;
    void *reply = NULL;
    int rc = ssl ? lw_tls_get_reply(c, ssl, &reply) : redisGetReply(c, &reply);
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
