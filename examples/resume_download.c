/* Resumes a download: usage: resume_download ID PATH
 * PATH holds the first bytes of an earlier, interrupted download (or does not exist yet); only
 * the rest is asked for (Range: bytes=SIZE-) and appended. If the server sends the whole file
 * instead, PATH is rewritten from the start; if PATH is already complete nothing changes. */
#include "example_common.h"

#include <sys/stat.h>

int main(int argc, char **argv)
{
    argot_client *client = example_client();
    argot_download_file_request req = ARGOT_DOWNLOAD_FILE_REQUEST_INIT;
    argot_download *dl = NULL;
    struct stat sb;
    argot_status st;
    int rc = 0;

    if (client == NULL)
        return 1;
    if (argc < 3) {
        fprintf(stderr, "usage: resume_download ID PATH\n");
        return 2;
    }
    req.file_id = argv[1];
    req.sink.kind = ARGOT_SINK_PATH;
    req.sink.path = argv[2];
    req.offset = stat(argv[2], &sb) == 0 ? (uint64_t)sb.st_size : 0; /* 0: a plain download */
    st = argot_files_download_file(&dl, client, &req, NULL);
    if (st != ARGOT_OK)
        rc = example_fail(client, st);
    else if (dl->already_complete)
        printf("%s is already complete (%lld bytes)\n", argv[2], (long long)dl->size);
    else
        printf("%s %s: wrote %llu bytes from byte %llu (HTTP %ld)\n", argv[2],
               dl->restarted ? "rewritten" : "resumed", (unsigned long long)dl->bytes,
               (unsigned long long)dl->offset, dl->http_status);
    argot_download_free(dl);
    argot_client_free(client);
    argot_global_cleanup();
    return rc;
}
