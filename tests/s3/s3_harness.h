/*
 * Shared by the S3 tests (tests/s3/): finds the Swift the ctest fixture started
 * (ARGOT_S3_TEST_DIR/endpoint, or a "skip" file when Swift could not be installed), builds
 * client configurations for it, makes deterministic test data that can be regenerated at any
 * offset, and measures this process's memory.
 */
#ifndef ARGOT_TESTS_S3_HARNESS_H
#define ARGOT_TESTS_S3_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "server/blob/s3/s3_client.h"

#define S3T_ACCESS_KEY "test:tester"
#define S3T_SECRET_KEY "testing"

/* The endpoint ("http://127.0.0.1:PORT"), or NULL after printing a loud skip notice (the test
 * then exits 77). Also prints the fixture's measured start time. */
const char *s3t_endpoint(void);
/* The port of the endpoint. */
int s3t_port(void);
/* A configuration for bucket on the test Swift (defaults, path-style, test credentials). */
s3_config s3t_config(const char *bucket);
/* A fresh client for cfg; fails the test on error. */
s3_client *s3t_client(const s3_config *cfg);
/* Creates bucket (idempotent); fails the test on error. */
void s3t_make_bucket(const char *bucket);
/* A bucket name unique to this process: "argot-<tag>-<pid>". */
const char *s3t_bucket(const char *tag);

/* Fills buf with the bytes at [offset, offset + len) of the endless stream seed names. */
void s3t_fill(void *buf, uint64_t offset, size_t len, uint64_t seed);
/* 1 if buf equals that stream at offset. */
int s3t_check(const void *buf, uint64_t offset, size_t len, uint64_t seed);

/* Resets the peak RSS (/proc/self/clear_refs) and returns the current RSS in KiB. */
long s3t_rss_reset(void);
/* The peak RSS since the last reset, in KiB. */
long s3t_rss_peak(void);
/* 1 when RSS says something about this code's memory: not under ThreadSanitizer, whose shadow
 * memory (several times what the program touches) is counted in it. Prints a notice if not. */
int s3t_rss_meaningful(void);
/* Seconds on the monotonic clock. */
double s3t_now(void);

/*
 * A TCP proxy on 127.0.0.1 in front of the test Swift, run by its own thread, to put faults
 * where a test wants them: it can hold requests (they stay in flight for the client, and
 * Swift sees nothing of them until they are released, so no timeout of Swift's ends them)
 * and reset a connection (RST to the client).
 */
typedef struct s3t_proxy s3t_proxy;
s3t_proxy *s3t_proxy_start(void);
void s3t_proxy_stop(s3t_proxy *p);
/* "http://127.0.0.1:PORT" of the proxy. */
const char *s3t_proxy_endpoint(const s3t_proxy *p);
/* min_body > 0: from now on, requests whose Content-Length is at least min_body are held
 * whole (the proxy keeps 64 KiB of each and stops reading, so the client's send blocks);
 * smaller ones go through. 0: release them all, in order. */
void s3t_proxy_hold(s3t_proxy *p, uint64_t min_body);
/* Requests held now (one per connection). */
int s3t_proxy_held(s3t_proxy *p);
/* Resets one connection holding a request (and its side to Swift); 1 if there was one.
 * Returns once done. */
int s3t_proxy_reset_one(s3t_proxy *p);
/* Waits (polling, up to 2 minutes: a hang guard, not a timing check) until pred(ud) is true;
 * fails the test with what otherwise. */
void s3t_wait_until(int (*pred)(void *ud), void *ud, const char *what);

#endif
