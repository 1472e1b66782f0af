/*
 * `argotd migrate [--data DIR] [--from-meta URL] [--from-blob URL] --to-meta URL --to-blob URL`:
 * copies a store from one backend pair to another (a single node's SQLite + disk into
 * PostgreSQL + S3, say), through the ops tables only, streaming every blob. See migrate.c.
 */
#ifndef ARGOT_SERVER_MIGRATE_H
#define ARGOT_SERVER_MIGRATE_H

/* argv[0] is the first argument after "migrate". Exit status: 0 copied and verified, 1 the
 * verification found a difference (or a copy failed), 2 usage, or refused (a server is running
 * on either side, or the destination holds something this source does not). */
int migrate_main(int argc, char **argv);

#endif
