/*
 * Test harness shared by the libargot and CLI tests: temporary directories and child servers
 * (argot_mockd, argotd) on 127.0.0.1 with an ephemeral port.
 */
#ifndef ARGOT_TESTS_HARNESS_H
#define ARGOT_TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct th_server {
    pid_t pid;
    int port;
    char dir[512];
    char url[600]; /* http://127.0.0.1:PORT */
} th_server;

/* Creates a fresh directory under $TMPDIR (or /tmp). 0 on success. */
int th_tmpdir(char *out, size_t n, const char *tag);
/* Removes a directory tree (best effort). */
void th_rmtree(const char *dir);
/* Starts argot_mockd. 0 on success. */
int th_start_mock(th_server *s);
/* Starts argotd with a fresh data dir and one key for org-a in key_out.
 * Returns 0, or 77 when argotd is not available. */
int th_start_argotd(th_server *s, char *key_out, size_t n);
/* Stops the server (SIGTERM, then wait) and removes its directory. */
void th_stop(th_server *s);
/* Raw GET of path on 127.0.0.1:port; the body goes into out. Returns the HTTP status. */
int th_http_get(int port, const char *path, char *out, size_t n);
/* Reads the mock's per-key stats: attempts and up to maxgaps gaps in ms. Returns attempts. */
int th_mock_stats(
    const th_server *s, const char *key, long *gaps, int maxgaps, char *last_req, size_t last_n);
/* Monotonic milliseconds. */
long long th_now_ms(void);

#endif
