/* Helpers of the S3 tests: see s3_harness.h. */
#include "s3_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char endpoint[256];

static int read_file(const char *dir, const char *name, char *out, size_t cap)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "r")))
        return -1;
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

const char *s3t_endpoint(void)
{
    const char *dir = getenv("ARGOT_S3_TEST_DIR");
    char reason[512], secs[32];
    if (endpoint[0])
        return endpoint;
    if (!dir || !dir[0]) {
        fprintf(stderr, "\n*** SKIPPED: ARGOT_S3_TEST_DIR is not set (run through ctest, which "
                        "starts Swift) ***\n\n");
        return NULL;
    }
    if (read_file(dir, "skip", reason, sizeof reason) == 0) {
        fprintf(stderr, "\n*** SKIPPED: no Swift for the S3 tests: %s ***\n\n", reason);
        return NULL;
    }
    if (read_file(dir, "endpoint", endpoint, sizeof endpoint) != 0) {
        fprintf(stderr, "no %s/endpoint: did the s3_swift_start fixture run?\n", dir);
        exit(1);
    }
    if (read_file(dir, "start_seconds", secs, sizeof secs) == 0)
        printf("swift endpoint %s (started in %s s)\n", endpoint, secs);
    return endpoint;
}

int s3t_port(void)
{
    const char *p = strrchr(s3t_endpoint(), ':');
    return p ? atoi(p + 1) : 0;
}

s3_config s3t_config(const char *bucket)
{
    s3_config c = {S3_CONFIG_DEFAULTS};
    c.endpoint = s3t_endpoint();
    c.bucket = bucket;
    c.access_key = S3T_ACCESS_KEY;
    c.secret_key = S3T_SECRET_KEY;
    c.retry_base_ms = 10;
    return c;
}

s3_client *s3t_client(const s3_config *cfg)
{
    s3_client *c = NULL;
    s3_error e;
    s3_error_clear(&e);
    if (s3_client_new(&c, cfg, &e) != S3_OK)
        fail_msg("s3_client_new: %s", e.message);
    return c;
}

void s3t_make_bucket(const char *bucket)
{
    s3_config cfg = s3t_config(bucket);
    s3_client *c = s3t_client(&cfg);
    s3_error e;
    s3_error_clear(&e);
    if (s3_create_bucket(c, &e) != S3_OK)
        fail_msg("CreateBucket %s: %s", bucket, e.message);
    s3_client_free(c);
}

const char *s3t_bucket(const char *tag)
{
    static char names[8][64];
    static int next;
    char *b = names[next++ % 8];
    snprintf(b, sizeof names[0], "argot-%s-%ld", tag, (long)getpid());
    return b;
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static unsigned char byte_at(uint64_t off, uint64_t seed)
{
    return (unsigned char)(splitmix((off >> 3) ^ (seed << 40)) >> ((off & 7) * 8));
}

void s3t_fill(void *buf, uint64_t offset, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    size_t i = 0;
    while (i < len && ((offset + i) & 7))
        p[i] = byte_at(offset + i, seed), i++;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = splitmix(((offset + i) >> 3) ^ (seed << 40));
        memcpy(p + i, &v, 8); /* little-endian machines: the same bytes as byte_at */
    }
    for (; i < len; i++)
        p[i] = byte_at(offset + i, seed);
}

int s3t_check(const void *buf, uint64_t offset, size_t len, uint64_t seed)
{
    unsigned char tmp[4096];
    const unsigned char *p = buf;
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof tmp ? len - done : sizeof tmp;
        s3t_fill(tmp, offset + done, n, seed);
        if (memcmp(tmp, p + done, n) != 0)
            return 0;
        done += n;
    }
    return 1;
}

static long status_kb(const char *field)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atol(line + strlen(field));
    fclose(f);
    return kb;
}

long s3t_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
    return status_kb("VmRSS:");
}

long s3t_rss_peak(void)
{
    return status_kb("VmHWM:");
}

#if defined(__SANITIZE_THREAD__)
#define S3T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define S3T_TSAN 1
#endif
#endif

int s3t_rss_meaningful(void)
{
#ifdef S3T_TSAN
    printf("*** RSS bound not checked: ThreadSanitizer's shadow memory counts in the RSS ***\n");
    return 0;
#else
    return 1;
#endif
}

double s3t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
