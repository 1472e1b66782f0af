#ifndef ARGOT_SERVER_KEYS_H
#define ARGOT_SERVER_KEYS_H

#include "server/ids.h"
#include "server/meta/meta.h"

/* Creates a key for org; returns 0 (key filled), 1 on failure, 2 on a bad org (printed). */
int keys_create(meta_store *m, const char *org, const char *name, char key[API_KEY_LEN + 1]);
/* `argotd keys ...` with argv[0] the subcommand; returns the exit code. */
int keys_main(int argc, char **argv, meta_store *(*open_store)(const char *data, const char *meta));

#endif
