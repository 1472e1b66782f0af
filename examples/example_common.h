/*
 * Shared by the examples: a client from the environment, as the seed's examples do with
 * process.env["ARGOTOPENAI_API_KEY_AUTH"]. ARGOT_API_KEY (or OPENAI_API_KEY) and
 * ARGOT_BASE_URL (or OPENAI_BASE_URL) are read by libargot itself.
 */
#ifndef ARGOT_EXAMPLE_COMMON_H
#define ARGOT_EXAMPLE_COMMON_H

#include <argot/argot.h>

#include <stdio.h>

static int example_fail(argot_client *client, argot_status st)
{
    const argot_error *e = argot_client_last_error(client);
    fprintf(stderr, "error: %s: %s (HTTP %ld, request %s)\n", argot_status_str(st), e->summary,
            e->http_status, e->request_id != NULL ? e->request_id : "-");
    return 1;
}

static argot_client *example_client(void)
{
    argot_client *client = NULL;
    if (argot_global_init() != ARGOT_OK || argot_client_new(&client, NULL) != ARGOT_OK) {
        fprintf(stderr, "error: cannot create the client\n");
        return NULL;
    }
    return client;
}

#endif
