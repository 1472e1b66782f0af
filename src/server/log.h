/*
 * Server logging: one key=value line per event on stderr (redis's serverLog style). The level
 * is tested before the arguments are evaluated. API keys and file contents are never logged.
 * Thread: safe (one write(2) per line).
 */
#ifndef ARGOT_SERVER_LOG_H
#define ARGOT_SERVER_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level_current;

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses "error", "warn", "info" or "debug"; -1 if unknown. */
int log_level_parse(const char *s);

#define LOG(level, ...)                                                                            \
    do {                                                                                           \
        if ((level) <= log_level_current)                                                          \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#endif
