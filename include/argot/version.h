/*
 * argot/version.h: library version, and the portability macros every public header uses.
 *
 * Thread: everything here may be called from any thread at any time.
 */
#ifndef ARGOT_VERSION_H
#define ARGOT_VERSION_H

#define ARGOT_VERSION_MAJOR  0
#define ARGOT_VERSION_MINOR  1
#define ARGOT_VERSION_PATCH  0
#define ARGOT_VERSION_STRING "0.1.0"
/** The version as one comparable number: 0xMMmmpp. */
#define ARGOT_VERSION_NUM                                                                          \
    ((ARGOT_VERSION_MAJOR << 16) | (ARGOT_VERSION_MINOR << 8) | ARGOT_VERSION_PATCH)

/* ARGOT_API marks the exported symbols; libargot is built with -fvisibility=hidden. */
#ifndef ARGOT_API
#if defined(ARGOT_BUILDING_LIBRARY) && defined(__GNUC__)
#define ARGOT_API __attribute__((visibility("default")))
#else
#define ARGOT_API
#endif
#endif

/* ARGOT_NODISCARD: a returned status must be looked at. */
#ifndef ARGOT_NODISCARD
#if defined(__GNUC__)
#define ARGOT_NODISCARD __attribute__((warn_unused_result))
#else
#define ARGOT_NODISCARD
#endif
#endif

#ifdef __cplusplus
#define ARGOT_BEGIN_DECLS extern "C" {
#define ARGOT_END_DECLS   }
#else
#define ARGOT_BEGIN_DECLS
#define ARGOT_END_DECLS
#endif

ARGOT_BEGIN_DECLS

/**
 * Returns the version of the library that is actually linked, e.g. "0.1.0".
 *
 * Compare with ARGOT_VERSION_STRING to detect a header/library mismatch.
 *
 * @return a static string; never NULL.
 * Ownership: static storage, never free it.
 * Thread: any thread.
 */
ARGOT_API const char *argot_version(void);

ARGOT_END_DECLS

#endif
