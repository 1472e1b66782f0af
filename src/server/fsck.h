/*
 * `argotd fsck --data DIR [--repair]`: checks that the metadata and blob stores agree (see
 * fsck.c and docs/reliability.md). Run with the server stopped: it takes the data dir's LOCK.
 */
#ifndef ARGOT_SERVER_FSCK_H
#define ARGOT_SERVER_FSCK_H

/* argv[0] is the first argument after "fsck". Exit status: 0 clean, 1 problems found (with
 * --repair: found and repaired), 2 usage or the check could not run. */
int fsck_main(int argc, char **argv);

#endif
