/*
 * argot/argot.h: the umbrella header of libargot, a C client for the OpenAI Files API.
 *
 *     #include <argot/argot.h>
 *
 * Start with client.h (handles, options, retries, the thread rule), then files.h (the five
 * operations), uploads.h (the Uploads API and the parallel upload helper) and error.h (status codes
 * and error detail).
 */
#ifndef ARGOT_ARGOT_H
#define ARGOT_ARGOT_H

#include "client.h"
#include "error.h"
#include "files.h"
#include "uploads.h"
#include "version.h"

#endif
