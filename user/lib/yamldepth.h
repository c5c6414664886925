/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A nesting limit for YAML before libyaml builds a document: libyaml's scanner looks at every open
 * flow level for each token (its simple keys), so a document nested N deep costs N x tokens
 * (40,000 '[' took 16 s; a 1 MiB file of them, hours). Reading the events of a first pass and
 * stopping at AG_YAML_MAX_DEPTH bounds that pass, and so the load after it, to linear time.
 */
#ifndef AG_YAMLDEPTH_H
#define AG_YAMLDEPTH_H

#include <stddef.h>
#include <yaml.h>

#define AG_YAML_MAX_DEPTH 64

/* Consume p's events. 1 when the nesting passes max (*line: 1-based line where it did), 0 when it
 * does not, -1 on a parse error (left for the load to report, with its own message). */
static inline int ag_yaml_too_deep(yaml_parser_t *p, int max, size_t *line)
{
	int depth = 0;

	for (;;) {
		yaml_event_t ev;
		yaml_event_type_t t;

		if (!yaml_parser_parse(p, &ev))
			return -1;
		t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > max) {
				*line = ev.start_mark.line + 1;
				yaml_event_delete(&ev);
				return 1;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			return 0;
	}
}

#endif
