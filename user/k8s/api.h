/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Kubernetes API peer (layer 2): HTTP (api_http.c), the pods of this node by list + watch
 * (api_pods.c), ResourceClaims and ResourceSlices (api_claims.c), its life cycle (api.c). Two
 * threads, one snapshot, one lock (K8S_RANK_API). The resolver reads the snapshot and asks for
 * claims with api->lock held.
 */
#ifndef AG_K8S_API_H
#define AG_K8S_API_H

#include <curl/curl.h>
#include <json-c/json.h>

#include "base.h"
#include "devmap.h"

struct k8s_api_ctr {
	char *name, *id; /* id without its "containerd://" scheme; NULL before it runs */
	char **claims;   /* pod-level claim names it uses (spec...resources.claims[].name) */
	size_t n_claims;
};

struct k8s_api_claimref {
	char *name;  /* the pod's name for it */
	char *claim; /* the ResourceClaim's name (NULL until generated) */
};

struct k8s_api_pod {
	char *uid, *ns, *name, *sa;
	struct k8s_labels labels;
	struct k8s_api_ctr *c;
	size_t n_c;
	struct k8s_api_claimref *cl;
	size_t n_cl;
};

struct k8s_api_result {
	char *request, *driver, *pool, *device;
	bool admin;
	struct k8s_alloc map; /* the device's numbers (mapped by the claims thread) */
};

struct k8s_api_claim {
	char *ns, *name, *uid;
	bool allocated;
	struct k8s_api_result *r;
	size_t n;
};

struct k8s_api_snap {
	struct k8s_api_pod *pods;
	size_t n_pods, cap_pods;
	struct k8s_api_claim *claims;
	size_t n_claims, cap_claims;
	bool listed;  /* the pod list came at least once */
};

struct k8s_api {
	const struct k8s_env *env;
	struct k8s_devmap *map;
	struct k8s_lock lock;  /* everything below */
	pthread_cond_t cond;   /* wakes the threads: claims wanted, stop */
	struct k8s_api_snap snap;
	bool claims_want;      /* the claims thread has work */
	uint64_t requests, errors, events, relists;
	uint64_t refused; /* watch events and list items refused alone (over a bound, no JSON) */
	bool up;
	pthread_t th_pods, th_claims;
	bool have_pods, have_claims;
};

/* api.c: life cycle */
void k8s_api_init(struct k8s_api *api, const struct k8s_env *env, struct k8s_devmap *map);
/* Start the threads (env->node_name and env->api_server set); 0 or -errno. */
int k8s_api_start(struct k8s_api *api);
void k8s_api_stop(struct k8s_api *api);
void k8s_api_fini(struct k8s_api *api);

/* api->lock held (api_pods.c, api_claims.c): */
const struct k8s_api_pod *k8s_api_pod_by_uid(const struct k8s_api *api, const char *uid);
const struct k8s_api_claim *k8s_api_claim(const struct k8s_api *api, const char *ns,
					  const char *name);
/* Wake the claims thread to look at the claims the pods name. */
void k8s_api_claims_kick(struct k8s_api *api);
/* Wake both threads (a pods thread waiting out a backoff tries again). */
void k8s_api_wake(struct k8s_api *api);

/* api_pods.c, api_claims.c */
void *k8s_api_pods_thread(void *arg);
void *k8s_api_claims_thread(void *arg);
void k8s_api_pod_free(struct k8s_api_pod *p);
void k8s_api_claim_free(struct k8s_api_claim *c);

/* ---- api_http.c ---- */

/* An answer, a watch line (README "Input limits"): past them the transfer is cut. */
#define K8S_API_MAX_BODY (64u << 20)
#define K8S_API_MAX_LINE (16u << 20)

struct k8s_req {
	const struct k8s_env *env;
	char *body;
	size_t len, cap;
	bool too_big;
	/* watch: one event per line */
	int (*line)(struct k8s_req *r, char *line, size_t len);
	int line_err;     /* set by line(): stops the transfer */
	bool skipping;    /* inside a line over K8S_API_MAX_LINE: dropped up to its newline */
	uint64_t long_lines; /* lines refused for their length */
	bool relist;      /* the watch said 410 */
	char rv[64];      /* last resourceVersion seen */
	uint64_t events;
	void (*on_ok)(struct k8s_req *r); /* the answer's status line said 200 */
	long retry_after; /* the answer's Retry-After in seconds, -1 when none */
	char url[1024];
};

/*
 * GET path from env->api_server; 0 with *http set (any status), or -errno with err. timeout_s 0:
 * the RPC timeout. A watch (r->line set) streams lines into r->line.
 */
int k8s_http_get(const struct k8s_env *env, CURL *curl, const char *path, struct k8s_req *r,
		 long *http, long timeout_s, char *err, size_t errlen);
/*
 * Any method (POST, PUT, PATCH, DELETE) with a body (NUL-terminated, or NULL) of type ctype; the
 * answer in r->body, its Retry-After in r->retry_after. Returns as k8s_http_get().
 */
int k8s_http_send(const struct k8s_env *env, CURL *curl, const char *method, const char *path,
		  const char *ctype, const char *body, struct k8s_req *r, long *http, char *err,
		  size_t errlen);
/* A non-2xx answer: its Status message when there is one. */
void k8s_http_error(struct k8s_req *r, long http, char *err, size_t errlen);
void k8s_req_reset(struct k8s_req *r);
/* Append len bytes of an answer to r (a watch: each complete line to r->line). Returns len, or 0 to
 * stop the transfer (over the body or line limit: r->too_big; line() failed; no memory). The
 * fuzz entry point of the watch stream; the curl write callback. */
size_t k8s_req_feed(struct k8s_req *r, const char *data, size_t len);

/* ---- api_json.c: JSON, bounded before json-c builds it ---- */

/* The keys the agent reads in an object, level by level (NULL-terminated). sub: the keys kept in
 * the member's value (in its objects, through arrays); NULL: all of the value. */
struct k8s_jkeep {
	const char *key;
	const struct k8s_jkeep *sub;
};

extern const struct k8s_jkeep k8s_keep_pod[], k8s_keep_podlist[], k8s_keep_watch[],
	k8s_keep_claim[], k8s_keep_slice[], k8s_keep_slices[], k8s_keep_status[];

#define K8S_JSON_MAX_DEPTH   32 /* json-c's default */
#define K8S_JSON_MAX_DEPTH_S "32"
#define K8S_JSON_FACTOR      6u /* json-c's tree of the values kept, at most this x the text */
#define K8S_JSON_FIXED       (1u << 20) /* plus this */

/*
 * Parse len bytes of buf (what names it in errors, NULL: no name) keeping only the members keep lists: the rest
 * is blanked in buf (it stays valid JSON of the same length). NULL with err when the text is no
 * JSON, nests deeper than K8S_JSON_MAX_DEPTH, or json-c's tree of what is kept would cost more than
 * k8s_json_bound(len) bytes. Linear in len.
 */
json_object *k8s_json_parse(char *buf, size_t len, const struct k8s_jkeep *keep, const char *what,
			    char *err, size_t errlen);
/* The same within a bound the caller gives (a part of a larger answer's); *cost (may be NULL)
 * gets what the tree would cost, refused or not. */
json_object *k8s_json_parse_within(char *buf, size_t len, const struct k8s_jkeep *keep,
				   const char *what, size_t bound, size_t *cost, char *err,
				   size_t errlen);

/* One element of a JSON array: its text is buf[off, off + len), valid JSON on its own (32 bits:
 * an answer is at most K8S_API_MAX_BODY). */
struct k8s_jspan {
	uint32_t off, len;
};

/*
 * The elements of the array that the top-level object of buf holds under key (none when it has
 * no such array), at most max, so that each can be parsed (and refused) alone: one element over
 * a bound costs the agent that element, not the answer. Checks the structure of the whole text
 * (linear). Returns 0 (*spans malloc'd, NULL when none), -E2BIG when there are more than max
 * (*n says how many; only max are in *spans), or -EBADMSG with err.
 */
int k8s_json_split(char *buf, size_t len, const char *key, struct k8s_jspan **spans, size_t *n,
		   size_t max, char *err, size_t errlen);
size_t k8s_json_bound(size_t len);

/* ---- api_claims.c ---- */

#define K8S_API_MAX_RESULTS    256u  /* allocation results of one ResourceClaim */
#define K8S_API_MAX_SLICE_DEVS 4096u /* devices in the node's ResourceSlices */
/* A ResourceClaim object -> c (0, -EBADMSG no metadata.uid, -E2BIG, -ENOMEM; c to be freed). */
int k8s_api_claim_parse(json_object *o, const char *ns, const char *name, struct k8s_api_claim *c);
/* The items of a ResourceSliceList -> *v, *n (0, -E2BIG, -ENOMEM). */
int k8s_api_slices_parse(json_object *items, struct k8s_slice_dev **v, size_t *n);

/* ---- api_pods.c ---- */

/* Limits of the pod objects (README "Input limits"): past them the pod is refused with a reason. */
#define K8S_API_MAX_CONTAINERS 256   /* containers + initContainers + ephemeralContainers */
#define K8S_API_MAX_LABELS     1024  /* labels of one pod */
#define K8S_API_MAX_PODS       4096  /* pods of the node in one list */
/* A Pod object -> p (0), or -EINVAL/-E2BIG with why (p to be freed either way). The fuzz entry. */
int k8s_api_pod_parse(json_object *o, struct k8s_api_pod *p, const char **why);
/*
 * A PodList answer (body: len bytes, blanked in place as k8s_json_parse does; url names it) ->
 * *pods (n of them, to free with k8s_api_pod_free each and free), its resourceVersion and continue
 * token. Items that are no pod are skipped with a warning; an item over its JSON bound is refused
 * alone (*refused, may be NULL, counts them) and the others are applied. 0, or
 * -EBADMSG/-E2BIG/-ENOMEM with err.
 */
int k8s_api_podlist_parse(char *body, size_t len, const char *url, struct k8s_api_pod **pods,
			  size_t *n, size_t *refused, char *rv, size_t rvlen, char *cont,
			  size_t contlen, char *err, size_t errlen);

json_object *k8s_jget(json_object *o, const char *key);
const char *k8s_jstr(json_object *o, const char *key);
json_object *k8s_jarr(json_object *o, const char *key);

#endif
