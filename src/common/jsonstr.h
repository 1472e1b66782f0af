/*
 * argot_jsonstr: text of any length as one JSON string (RFC 8259), in constant memory.
 *
 * The input arrives in pieces cut anywhere, also inside a UTF-8 sequence; the output goes into
 * buffers of any size, also too small for a whole escape (the rest of it waits in the state).
 * Two passes over the same bytes:
 *   - argot_jsonstr_measure() + argot_jsonstr_measure_end() check that the input is valid
 *     UTF-8 (no overlongs, surrogates or code points past U+10FFFF, nothing cut at the end)
 *     and give the exact encoded length, quotes included, so a reply can declare its length
 *     and refuse invalid text before its first byte;
 *   - argot_jsonstr_encode() writes the encoding.
 * Valid UTF-8 is copied as it is; '"', '\\' and the C0 controls are escaped (\n, \r, \t, \b,
 * \f, else \u00xx). Invalid input is an error, never replaced: the caller decides what to do.
 *
 * Ownership: the state is a plain struct owned by the caller; nothing is allocated.
 * Thread: one state per thread at a time.
 */
#ifndef ARGOT_COMMON_JSONSTR_H
#define ARGOT_COMMON_JSONSTR_H

#include <stddef.h>
#include <stdint.h>

typedef struct argot_jsonstr {
    uint64_t in_off;      /* input bytes seen so far */
    uint64_t out_len;     /* encoded bytes so far (measure; the quotes are added at the end) */
    uint64_t lead_off;    /* input offset of the sequence being read */
    uint64_t error_off;   /* with error: offset of the first byte of the bad sequence */
    unsigned char need;   /* continuation bytes still expected */
    unsigned char lo, hi; /* range of the next continuation byte */
    unsigned char npend;  /* bytes of pend not yet written */
    char pend[8];         /* the end of an escape that did not fit (encode) */
    unsigned char phase;  /* encode: 0 nothing written, 1 in the string, 2 closed */
    unsigned char error;  /* 1 once invalid UTF-8 was seen */
} argot_jsonstr;

void argot_jsonstr_init(argot_jsonstr *s);

/* Checks and counts len more bytes of input. Returns 0, or -1 at the first invalid byte
 * (s->error_off then says where its sequence starts; later calls keep returning -1). */
int argot_jsonstr_measure(argot_jsonstr *s, const char *in, size_t len);
/* The input is complete: -1 if it ends inside a sequence (or an error was seen), else 0 and
 * *total is the length of the whole JSON string, both quotes included. */
int argot_jsonstr_measure_end(argot_jsonstr *s, uint64_t *total);

/* Encodes from in[0..len) into out[0..cap): writes the opening quote first, then as much as
 * fits, and the closing quote once last is set and all of in is consumed. *consumed says how
 * many input bytes were used (the caller passes the rest again). Returns the bytes written,
 * 0 only when cap is 0, when in is empty without last (more input is needed), once the
 * string is complete (argot_jsonstr_done) or after an error. Check s->error after every call:
 * invalid UTF-8, or last set while a sequence is cut, stops the encoding there (s->error_off
 * says where); what was written before belongs to a string that cannot be completed. */
size_t argot_jsonstr_encode(argot_jsonstr *s,
                            const char *in,
                            size_t len,
                            int last,
                            char *out,
                            size_t cap,
                            size_t *consumed);
/* 1 once the closing quote has been written. */
int argot_jsonstr_done(const argot_jsonstr *s);

#endif
