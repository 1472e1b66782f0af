/*
 * argot_peakrss OUT_FILE COMMAND [ARGS...]: runs COMMAND, writes its peak resident set size
 * in KiB (getrusage of the child, ru_maxrss) to OUT_FILE, and exits with COMMAND's status.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rusage ru;
    int status = 0;
    pid_t pid;
    FILE *f;

    if (argc < 3) {
        fprintf(stderr, "usage: argot_peakrss OUT_FILE COMMAND [ARGS...]\n");
        return 2;
    }
    pid = fork();
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return 2;
    f = fopen(argv[1], "w");
    if (f == NULL)
        return 2;
    fprintf(f, "%ld\n", ru.ru_maxrss);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
