/*
 * Response profiles (docs/compatibility.md, "Response profiles"): the shape of Files and Uploads
 * responses for one request.
 *   service  byte-exact with api.openai.com: null expires_at/status_details, null first_id and
 *            last_id on an empty page, raw bytes from /content;
 *   spec     valid against OpenAI's published OpenAPI spec: optional properties that would be
 *            null are left out, required ones always have a value of their type, and /content
 *            answers application/json with the content as one JSON string.
 * Chosen per request: the Argot-Response-Profile header (service|spec), else the server's
 * --response-profile; in auto, spec for the User-Agents of strict_clients[] (profile.c), else
 * service. Errors have the same envelope in both.
 */
#ifndef ARGOT_SERVER_API_PROFILE_H
#define ARGOT_SERVER_API_PROFILE_H

#include "server/app.h"
#include "server/http/http.h"

typedef enum api_profile {
    API_PROFILE_SERVICE = 0,
    API_PROFILE_SPEC = 1,
} api_profile;

#define API_PROFILE_HEADER "Argot-Response-Profile"

/* route->begin of every Files and Uploads route (or the first thing it does): replies 400 and
 * returns 1 if Argot-Response-Profile has a value other than service or spec, else 0. */
int api_profile_begin(http_req *r);
/* The profile of r's response (api_profile_begin has vetted the header). */
api_profile api_profile_of(http_req *r);
/* 1 if ua is the User-Agent of a client known to validate responses against the spec. */
int api_profile_strict_client(const char *ua);

#endif
