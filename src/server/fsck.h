/*
 * `argotd fsck [--data DIR] [--meta URL] [--blob URL] [--repair [--force]]`: checks that the
 * metadata and blob stores agree, on any backend pair (see fsck.c and docs/reliability.md). On
 * the data dir's own store it takes the LOCK (the server must be stopped); on shared backends
 * it judges intents by their owners' leases and refuses --repair beside live instances unless
 * --force.
 */
#ifndef ARGOT_SERVER_FSCK_H
#define ARGOT_SERVER_FSCK_H

/* argv[0] is the first argument after "fsck". Exit status: 0 clean, 1 problems found (with
 * --repair: found and repaired), 2 usage or the check could not run. */
int fsck_main(int argc, char **argv);

#endif
