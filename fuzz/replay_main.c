/*
 * Standalone replay driver for the fuzz targets (in the spirit of zstd's regression_driver.c
 * and libgit2's standalone fuzzers): runs LLVMFuzzerTestOneInput once on every file named on
 * the command line or found (one level deep, sorted) in a directory named there. It lets any
 * compiler run the committed corpora as ordinary tests; a bad input crashes or aborts, and
 * the line printed before it names the file.
 *
 * Exit status: 0 when every input ran, 1 when a path could not be read or no input was found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(buf, ncap);
            if (nb == NULL)
                goto out;
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        perror(path);
        goto out;
    }
    (void)printf("replay %s (%zu bytes)\n", path, len);
    (void)fflush(stdout);
    /* Copied to an exact-size buffer so ASan sees reads past the end of the input. */
    unsigned char *exact = malloc(len ? len : 1);
    if (exact == NULL)
        goto out;
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    rc = 0;
out:
    free(buf);
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static int skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, skip_entry, alphasort);
    int rc = 0;
    if (n < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &st) != 0) {
            rc = -1;
        } else if (S_ISREG(st.st_mode)) {
            if (run_file(path) == 0)
                (*count)++;
            else
                rc = -1;
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    if (argc < 2) {
        (void)fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count) != 0;
        } else if (run_file(argv[i]) == 0) {
            count++;
        } else {
            rc = 1;
        }
    }
    (void)printf("%zu inputs replayed\n", count);
    if (count == 0) {
        (void)fprintf(stderr, "%s: no inputs found\n", argv[0]);
        rc = 1;
    }
    return rc;
}
