/* Uploads a large file through the Uploads API in parallel parts (python's
 * uploads.upload_file_chunked): usage: upload_large_file PATH [PURPOSE [PARALLEL]]
 * (defaults: batch, 4). Prints the resulting File object. */
#include "example_common.h"

#include <stdlib.h>

static int on_progress(uint64_t done, uint64_t total, void *userdata)
{
    (void)userdata;
    fprintf(stderr, "\r%llu / %llu bytes", (unsigned long long)done, (unsigned long long)total);
    return 0;
}

int main(int argc, char **argv)
{
    argot_client *client;
    argot_upload_file_request req = ARGOT_UPLOAD_FILE_REQUEST_INIT;
    argot_upload *upload = NULL;
    argot_status st;

    if (argc < 2) {
        fprintf(stderr, "usage: upload_large_file PATH [PURPOSE [PARALLEL]]\n");
        return 2;
    }
    client = example_client();
    if (client == NULL)
        return 1;
    req.path = argv[1];
    req.purpose = argc > 2 ? argv[2] : "batch";
    req.parallel = argc > 3 ? (unsigned)atoi(argv[3]) : 4u;
    req.progress = on_progress;
    st = argot_uploads_upload_file(&upload, client, &req, NULL);
    fputc('\n', stderr);
    if (st != ARGOT_OK) {
        int rc = example_fail(client, st);
        argot_client_free(client);
        return rc;
    }
    printf("%s\n", upload->file->json);
    argot_upload_free(upload);
    argot_client_free(client);
    argot_global_cleanup();
    return 0;
}
