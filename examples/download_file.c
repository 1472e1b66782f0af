/* Mirrors the seed's files.downloadFile({fileId: "<id>"}): usage: download_file ID [OUT]
 * Without OUT the content is returned in a buffer and printed; with OUT it is streamed there,
 * with retries on 429/5xx (x-should-retry, retry-after honoured). */
#include "example_common.h"

int main(int argc, char **argv)
{
    argot_client *client = example_client();
    argot_download_file_request req = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *dl = NULL;
    argot_status st;
    int rc = 0;

    if (client == NULL)
        return 1;
    req.file_id = argc > 1 ? argv[1] : "<id>";
    if (argc > 2) {
        req.sink.kind = ARGOT_SINK_PATH;
        req.sink.path = argv[2];
    }
    st = argot_files_download_file(&dl, client, &req, NULL);
    if (st != ARGOT_OK)
        rc = example_fail(client, st);
    else if (dl->data != NULL)
        fwrite(dl->data, 1, (size_t)dl->bytes, stdout);
    else
        printf("wrote %llu bytes to %s\n", (unsigned long long)dl->bytes, argv[2]);
    argot_download_free(dl);
    argot_client_free(client);
    argot_global_cleanup();
    return rc;
}
