/*
 * Parse-only throughput of the multipart parser: one file part of SIZE MiB (default 512),
 * generated once in memory, fed in CHUNK-byte pieces (default 65536; 0 = one feed), with a
 * part_data callback that only counts bytes. Three content kinds: random bytes, CRLF text
 * lines (a CR every 64 bytes) and a worst case of "\r\n--AaB03" repeated (a near-delimiter
 * at every 10 bytes).
 *
 *   cc -O2 -Isrc bench/bench_multipart.c src/server/http/multipart.c -o /tmp/bench_mp
 *   /tmp/bench_mp [SIZE_MIB] [CHUNK]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/http/multipart.h"

static int count(const char *d, size_t n, void *ud)
{
    (void)d;
    *(size_t *)ud += n;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(char *p, size_t n, int kind)
{
    unsigned long x = 88172645463325252ul;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (kind == 0)
            p[i] = (char)x;
        else if (kind == 1)
            p[i] = (i % 64 == 62) ? '\r' : (i % 64 == 63) ? '\n' : (char)('a' + x % 26);
        else
            p[i] = "\r\n--AaB03"[i % 9];
    }
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 10) : 65536;
    const char *head = "--AaB03x\r\nContent-Disposition: form-data; name=\"file\"; "
                       "filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    const char *tail = "\r\n--AaB03x--\r\n";
    size_t hl = strlen(head), tl = strlen(tail), n = mib << 20, total = hl + n + tl;
    char *body = malloc(total);
    const char *names[] = {"random", "crlf-text", "near-delimiters"};
    if (body == NULL)
        return 1;
    for (int kind = 0; kind < 3; kind++) {
        memcpy(body, head, hl);
        fill(body + hl, n, kind);
        memcpy(body + hl + n, tail, tl);
        size_t got = 0;
        mp_callbacks cb = {NULL, count, NULL};
        mp_parser *p;
        if (mp_parser_new(&p, "AaB03x", NULL, &cb, &got) != MP_OK) {
            free(body);
            return 1;
        }
        double t0 = now();
        size_t step = chunk ? chunk : total;
        int rc = MP_OK;
        for (size_t pos = 0; pos < total && rc == MP_OK; pos += step)
            rc = mp_parser_feed(p, body + pos, total - pos < step ? total - pos : step);
        if (rc == MP_OK)
            rc = mp_parser_finish(p);
        double dt = now() - t0;
        mp_parser_free(p);
        if (rc != MP_OK || got != n) {
            (void)fprintf(stderr, "%s: rc=%d got=%zu want=%zu\n", names[kind], rc, got, n);
            free(body);
            return 1;
        }
        (void)printf("%-16s %zu MiB in %zu-byte feeds: %.3f s, %.2f GB/s\n", names[kind], mib,
                     chunk, dt, (double)total / dt / 1e9);
    }
    free(body);
    return 0;
}
