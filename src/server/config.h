/*
 * argotd settings: one table (config.c, redis's static_configs[] style) drives parsing of
 * flags and ARGOT_* environment variables, validation, --help and the startup log line.
 * Precedence: flag > environment > default.
 */
#ifndef ARGOT_SERVER_CONFIG_H
#define ARGOT_SERVER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

/* --response-profile: which shape Files and Uploads responses take (docs/compatibility.md). */
enum cfg_profile {
    CFG_PROFILE_AUTO = 0, /* spec for the strict clients of api/profile.c, else service */
    CFG_PROFILE_SERVICE,  /* byte-exact with api.openai.com */
    CFG_PROFILE_SPEC,     /* valid against OpenAI's published OpenAPI spec */
};

typedef struct cfg {
    char listen_host[256];
    int listen_port;
    char *listen; /* "HOST:PORT" as given */
    char *data_dir;
    char *meta_url;    /* NULL: sqlite:<data_dir>/argot.db */
    char *blob_url;    /* NULL: file:<data_dir> */
    char *s3_endpoint; /* NULL: AWS_ENDPOINT_URL, else AWS */
    char *port_file;
    char *log_level;
    char *response_profile; /* as given; parsed into profile */
    enum cfg_profile profile;
    int64_t s3_part_size;
    int64_t s3_memory;
    int64_t threads;
    int64_t max_file_bytes;
    int64_t max_upload_bytes;
    int64_t max_part_bytes;
    int64_t max_org_bytes;
    int64_t max_batch_bytes;
    int64_t min_free_bytes;
    int64_t max_connections;
    int64_t connection_timeout;
    int64_t header_timeout;
    int64_t min_body_rate;
    int64_t body_rate_window;
    int64_t max_head_bytes;
    int64_t max_url_bytes;
    int64_t max_headers;
    int64_t max_query_params;
    int64_t max_discard_bytes;
    int64_t linger_timeout;
    int64_t sweep_interval;
    int64_t lease_seconds;
    int64_t meta_retries;      /* retryable metadata failures are tried again this often */
    int64_t tombstone_seconds; /* deleted files' ids stay list cursors this long (sweeper) */
    int64_t clock_offset;
    int64_t shutdown_grace;
    int strict_download;
    int metrics;
    int bootstrap_key;
} cfg;

/* Fills c with defaults, then environment, then argv (argv[0] excluded: pass argc-1/argv+1
 * style is not needed; argi is the first index to parse). Returns 0, or 2 on a usage error
 * after printing a message to stderr, or 1 if --help was printed. */
int cfg_load(cfg *c, int argc, char **argv, int argi);
void cfg_print_help(FILE *out);
void cfg_log_effective(const cfg *c);
void cfg_free(cfg *c);

#endif
