/*
 * Identifiers and secrets, all from the kernel's CSPRNG (getrandom(2)).
 *   file ids     "file-" + 22 base58 characters (the real service's current format)
 *   request ids  "req_" + 32 lowercase hex
 *   API keys     "sk-argot-" + 40 base58 characters (~234 bits)
 *   key ids      "key_" + 16 lowercase hex (public handle for `keys list` / `keys revoke`)
 * Thread: safe.
 */
#ifndef ARGOT_SERVER_IDS_H
#define ARGOT_SERVER_IDS_H

#include <stddef.h>
#include <stdint.h>

#define FILE_ID_LEN    (5 + 22)
#define REQUEST_ID_LEN (4 + 32)
#define API_KEY_LEN    (9 + 40)
#define KEY_ID_LEN     (4 + 16)

/* Each returns 0, or -1 if the random source failed (errno set). out gets a NUL. */
int id_file_new(char out[FILE_ID_LEN + 1]);
int id_request_new(char out[REQUEST_ID_LEN + 1]);
int id_api_key_new(char out[API_KEY_LEN + 1]);
int id_key_id_new(char out[KEY_ID_LEN + 1]);
/* An Uploads API id: prefix ("upload_", "part_"), 8 hex digits of created_at, 24 random hex.
 * cap must hold it and its NUL (at most 7 + 32 + 1). */
int id_upload_new(char *out, size_t cap, const char *prefix, int64_t created_at);
/* Random bytes; 0 or -1. */
int id_random(void *buf, size_t len);
/* SHA-256 of an API key (what the store keeps). */
void id_key_hash(const char *key, size_t len, uint8_t out[32]);
/* 1 if s (NUL-terminated) looks like an id we could have issued or the real service could:
 * 1..63 characters of [A-Za-z0-9_-]. Anything else can be answered 404 without a lookup. */
int id_plausible(const char *s);

#endif
