/*
 * s3bench: the S3 client's writer and reader timed against plain curl on the same server
 * (tests/s3/bench_vs_curl.sh drives it; not a test). Credentials from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, default Swift's test:tester / testing.
 *
 *   s3bench mkbucket ENDPOINT BUCKET
 *   s3bench sign ENDPOINT BUCKET METHOD KEY [QUERY]
 *        the URL, then curl -H arguments, one a line (UNSIGNED-PAYLOAD); KEY "-" is the bucket,
 *        QUERY is "a=1&b" with plain values
 *   s3bench write ENDPOINT BUCKET KEY MIB     streams MIB MiB through the writer
 *   s3bench read ENDPOINT BUCKET KEY          streams the object through the reader
 * write and read print "SECONDS PEAK_RSS_KIB". S3BENCH_PART_MIB sets the part size and
 * S3BENCH_INFLIGHT the parts in flight (the client's defaults otherwise); the budget is one
 * writer's worth (part size x parts in flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "server/blob/s3/s3_internal.h"
#include "server/blob/s3/s3_stream.h"
#include "server/log.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int die(const char *what, const s3_error *e)
{
    fprintf(stderr, "s3bench: %s: %s\n", what, e->message);
    return 1;
}

static size_t parse_query(char *q, s3_kv *kv, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(q, "&", &save); t && n < max;
         t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq)
            *eq = '\0';
        kv[n++] = (s3_kv){t, eq ? eq + 1 : ""};
    }
    return n;
}

static int sign(s3_client *c, const char *method, const char *key, char *query)
{
    argot_buf path = ARGOT_BUF_INIT(4096), auth = ARGOT_BUF_INIT(4096), q = ARGOT_BUF_INIT(4096);
    char date[S3_AMZ_DATE_LEN + 1];
    s3_kv kv[S3_SIGV4_MAX_QUERY];
    size_t n = query ? parse_query(query, kv, S3_SIGV4_MAX_QUERY) : 0;
    s3_amz_date(date, time(NULL));
    if (s3_build_path(c, strcmp(key, "-") ? key : NULL, &path) != S3_OK ||
        s3_sigv4_canonical_query(&q, kv, n) != S3_SIGV4_OK)
        return 1;
    s3_sigv4_request r = {.method = method,
                          .host = c->host,
                          .path = path.ptr,
                          .query = kv,
                          .nquery = n,
                          .payload_hash = S3_UNSIGNED_PAYLOAD,
                          .amz_date = date,
                          .region = c->region,
                          .service = "s3",
                          .access_key = c->access_key,
                          .secret_key = c->secret_key};
    if (s3_sigv4_authorization(&auth, &r) != S3_SIGV4_OK)
        return 1;
    printf("%s://%s%s%s%s\nx-amz-date: %s\nx-amz-content-sha256: %s\nAuthorization: %s\n",
           c->scheme, c->host, path.ptr, n ? "?" : "", n ? q.ptr : "", date, S3_UNSIGNED_PAYLOAD,
           auth.ptr);
    argot_buf_free(&q);
    argot_buf_free(&path);
    argot_buf_free(&auth);
    return 0;
}

static int bench_write(s3_client *c, const char *key, long mib)
{
    static char buf[1 << 16];
    s3_writer *w;
    s3_error e;
    s3_error_clear(&e);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 2654435761u >> 13);
    double t0 = now();
    if (s3_writer_open(&w, c, key, 0, &e) != S3_OK)
        return die("open", &e);
    for (long i = 0; i < mib * 16; i++)
        if (s3_writer_write(w, buf, sizeof buf, &e) != S3_OK)
            return die("write", &e);
    if (s3_writer_commit(w, NULL, &e) != S3_OK)
        return die("commit", &e);
    printf("%.3f %ld\n", now() - t0, peak_kib());
    return 0;
}

static int bench_read(s3_client *c, const char *key)
{
    static char buf[1 << 16];
    s3_reader *r;
    s3_error e;
    size_t got;
    s3_error_clear(&e);
    double t0 = now();
    if (s3_reader_open(&r, c, key, 0, S3_TO_END, NULL, &e) != S3_OK)
        return die("open", &e);
    do {
        if (s3_reader_read(r, buf, sizeof buf, &got, &e) != S3_OK)
            return die("read", &e);
    } while (got > 0);
    s3_reader_close(r);
    printf("%.3f %ld\n", now() - t0, peak_kib());
    return 0;
}

int main(int argc, char **argv)
{
    s3_config cfg = {S3_CONFIG_DEFAULTS};
    s3_client *c;
    s3_error e;
    int rc = 2;
    if (argc < 4) {
        fprintf(stderr, "usage: s3bench mkbucket|sign|write|read ENDPOINT BUCKET ...\n");
        return 2;
    }
    /* No start line per run; S3BENCH_DEBUG=1: a line per request (op, bytes, ms) */
    log_level_current = getenv("S3BENCH_DEBUG") ? LOG_DEBUG : LOG_WARN;
    cfg.endpoint = argv[2];
    cfg.bucket = argv[3];
    cfg.access_key = getenv("AWS_ACCESS_KEY_ID") ? getenv("AWS_ACCESS_KEY_ID") : "test:tester";
    cfg.secret_key = getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "testing";
    if (getenv("S3BENCH_PART_MIB")) /* the writer's part size */
        cfg.part_size = strtoull(getenv("S3BENCH_PART_MIB"), NULL, 10) << 20;
    if (getenv("S3BENCH_INFLIGHT")) /* the writer's parts in flight */
        cfg.parts_in_flight = atoi(getenv("S3BENCH_INFLIGHT"));
    cfg.memory_budget = cfg.part_size * (uint64_t)cfg.parts_in_flight; /* one writer's worth */
    s3_error_clear(&e);
    if (s3_client_new(&c, &cfg, &e) != S3_OK)
        return die("client", &e);
    if (strcmp(argv[1], "mkbucket") == 0)
        rc = s3_create_bucket(c, &e) == S3_OK ? 0 : die("mkbucket", &e);
    else if (strcmp(argv[1], "sign") == 0 && (argc == 6 || argc == 7))
        rc = sign(c, argv[4], argv[5], argc == 7 ? argv[6] : NULL);
    else if (strcmp(argv[1], "write") == 0 && argc == 6)
        rc = bench_write(c, argv[4], atol(argv[5]));
    else if (strcmp(argv[1], "read") == 0 && argc == 5)
        rc = bench_read(c, argv[4]);
    s3_client_free(c);
    return rc;
}
