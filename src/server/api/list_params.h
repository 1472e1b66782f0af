/*
 * The query parameters of GET /v1/files (limit, order, after), parsed without HTTP so the
 * parser can be fuzzed (fuzz/fuzz_query.c). files_list.c turns a failure into a 400 with
 * err->param, err->code and err->message, the real service's texts.
 */
#ifndef ARGOT_SERVER_API_LIST_PARAMS_H
#define ARGOT_SERVER_API_LIST_PARAMS_H

#define LIST_MAX_LIMIT 10000

typedef struct list_params {
    int limit;         /* 1..LIST_MAX_LIMIT, default LIST_MAX_LIMIT */
    int desc;          /* default 1 */
    const char *after; /* NULL, or a plausible id (borrowed) */
} list_params;

typedef struct list_param_error {
    const char *param; /* "limit", "order" or "after" */
    const char *code;  /* NULL or the real service's code */
    char message[256];
} list_param_error;

/* Each argument is the raw (decoded) query value or NULL when absent. Returns 0, or -1 with
 * err filled. Pure: no allocation, no global state. */
int list_params_parse(const char *limit,
                      const char *order,
                      const char *after,
                      list_params *out,
                      list_param_error *err);

#endif
