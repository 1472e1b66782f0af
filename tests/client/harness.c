#define _GNU_SOURCE /* memmem, strcasestr, nftw */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int th_tmpdir(char *out, size_t n, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, n, "%s/argot-%s-XXXXXX", base != NULL && base[0] ? base : "/tmp", tag);
    return mkdtemp(out) != NULL ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void th_rmtree(const char *dir)
{
    if (dir[0] != '\0')
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int wait_port(th_server *s, const char *port_file)
{
    long long end = th_now_ms() + 20000;
    while (th_now_ms() < end) {
        FILE *f = fopen(port_file, "r");
        int status;
        if (f != NULL) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok && s->port > 0) {
                snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
                return 0;
            }
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static pid_t spawn(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int th_start_mock(th_server *s)
{
    char pf[700], log[700];
    char *argv[] = {(char *)ARGOT_MOCKD_PATH, (char *)"--port-file", pf, NULL};

    memset(s, 0, sizeof(*s));
    if (th_tmpdir(s->dir, sizeof(s->dir), "mock") != 0)
        return -1;
    snprintf(pf, sizeof(pf), "%s/port", s->dir);
    snprintf(log, sizeof(log), "%s/mock.log", s->dir);
    s->pid = spawn(argv, log);
    return s->pid > 0 ? wait_port(s, pf) : -1;
}

static int create_key(const char *data, char *key_out, size_t n)
{
    char cmd[2048];
    FILE *p;
    snprintf(cmd, sizeof(cmd), "'%s' keys create --data '%s' --org org-a", ARGOTD_PATH, data);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (fgets(key_out, (int)n, p) == NULL)
        key_out[0] = '\0';
    key_out[strcspn(key_out, "\r\n")] = '\0';
    return pclose(p) == 0 && key_out[0] != '\0' ? 0 : -1;
}

int th_start_argotd(th_server *s, char *key_out, size_t n)
{
    char pf[700], log[700], data[700];
    char *argv[] = {(char *)ARGOTD_PATH,
                    (char *)"--listen",
                    (char *)"127.0.0.1:0",
                    (char *)"--data",
                    data,
                    (char *)"--port-file",
                    pf,
                    NULL};

    memset(s, 0, sizeof(*s));
    if (access(ARGOTD_PATH, X_OK) != 0)
        return 77;
    if (th_tmpdir(s->dir, sizeof(s->dir), "argotd") != 0)
        return -1;
    snprintf(pf, sizeof(pf), "%s/port", s->dir);
    snprintf(log, sizeof(log), "%s/argotd.log", s->dir);
    snprintf(data, sizeof(data), "%s/data", s->dir);
    if (create_key(data, key_out, n) != 0)
        return -1;
    s->pid = spawn(argv, log);
    return s->pid > 0 ? wait_port(s, pf) : -1;
}

void th_stop(th_server *s)
{
    if (s->pid > 0) {
        int status;
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &status, 0);
        s->pid = 0;
    }
    th_rmtree(s->dir);
    s->dir[0] = '\0';
}

int th_http_get(int port, const char *path, char *out, size_t n)
{
    struct sockaddr_in sa;
    char req[1024], *buf = malloc(1 << 20), *body;
    size_t len = 0;
    ssize_t got;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto out;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, strlen(req)) < 0)
        goto out;
    while (len + 1 < (1 << 20) && (got = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    body = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    if (body != NULL && out != NULL)
        snprintf(out, n, "%s", body + 4);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return status;
}

int th_mock_stats(
    const th_server *s, const char *key, long *gaps, int maxgaps, char *last_req, size_t last_n)
{
    char path[256], *body = malloc(1 << 20), *p;
    int attempts = -1, i = 0;

    snprintf(path, sizeof(path), "/_stats/%s", key);
    if (body == NULL || th_http_get(s->port, path, body, 1 << 20) != 200)
        goto out;
    if (sscanf(body, "{\"attempts\":%d", &attempts) != 1)
        goto out;
    p = strstr(body, "\"gaps_ms\":[");
    if (p != NULL)
        p += 11;
    while (p != NULL && gaps != NULL && i < maxgaps && *p != ']') {
        gaps[i++] = strtol(p, &p, 10);
        if (*p == ',')
            p++;
    }
    if (last_req != NULL) {
        p = strstr(body, "\"last_request\":");
        snprintf(last_req, last_n, "%s", p != NULL ? p + 15 : "");
    }
out:
    free(body);
    return attempts;
}
