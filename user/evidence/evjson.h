/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The journal readers' accessors of a parsed event (evidence.c, evidence_exposure.c): member k of
 * object o, NULL when o is NULL or has no such member; js: the same when it is a string. */
#ifndef AG_EVIDENCE_EVJSON_H
#define AG_EVIDENCE_EVJSON_H

#include <json-c/json.h>

static inline json_object *jo(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static inline const char *js(json_object *o, const char *k)
{
	json_object *v = jo(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

#endif
