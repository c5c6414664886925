// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `accelguard evidence cluster --kubeconfig F --out DIR`: one cluster bundle from every GPU
 * node's bundle, through the Kubernetes API.
 *
 * Transport: the agent pods are listed (GET /api/v1/namespaces/NS/pods?labelSelector=SEL;
 * default accelguard, app.kubernetes.io/name=accelguard), and each pod's bundle is fetched through
 * the API server's pod proxy, GET /api/v1/namespaces/NS/pods/POD:PORT/proxy/evidence.tar.gz
 * (PORT default 9464, the agent's metrics port). GPU nodes are the nodes (GET /api/v1/nodes) with
 * an allocatable extended resource whose name ends in "gpu" (nvidia.com/gpu, amd.com/gpu, ...) or
 * that is gpu.intel.com/<x>, plus every node an agent pod runs on. A GPU node without an agent
 * pod is "missing"; one whose bundle cannot be fetched is "unreachable" (the HTTP status or the
 * curl error is kept); one whose bundle fails `evidence verify` is "unverified".
 *
 * The cluster bundle (made in DIR.partial, renamed whole): node-<NODE>.tar.gz (each fetched
 * bundle, as it came), nodes.json and nodes.csv (the per-node table: node, state, tier, mode,
 * self-test, violations, status, problem), PRODUCT.yaml (one secure_accelerator_access entry for
 * the cluster: Implemented only when every GPU node's bundle is verified and Implemented),
 * manifest.json (sha256 of every file) and with --sign-key manifest.json.sig; `accelguard
 * evidence verify DIR` checks it as a node bundle.
 *
 * Kubeconfig (libyaml): current-context (or --context) -> the context's cluster and user;
 * cluster: server, certificate-authority (a file) or certificate-authority-data,
 * insecure-skip-tls-verify; user: token, tokenFile, client-certificate(-data) and
 * client-key(-data). Not supported: exec and auth-provider plugins, username/password, proxy-url.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "evidence.h"
#include "log.h"
#include "selftest.h"
#include "util.h"

#define MAX_LIST  (16u << 20)  /* a pod or node list */
#define MAX_BUNDLE (256u << 20) /* one node's bundle */
#define MAX_NODES 4096

struct kube {
	char server[1024];
	char *ca_file, *cert_file, *key_file, *token;
	unsigned char *ca_data, *cert_data, *key_data;
	size_t ca_len, cert_len, key_len;
	bool insecure;
};

/* ---- kubeconfig ---- */

static yaml_node_t *ymap(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *yscalar(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	yaml_node_t *v = ymap(d, n, key);

	return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

/* the entry of a named list (clusters, users, contexts) whose name is name: its inner map */
static yaml_node_t *ynamed(yaml_document_t *d, yaml_node_t *root, const char *list,
			   const char *inner, const char *name)
{
	yaml_node_t *l = ymap(d, root, list);

	if (!l || l->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *i = l->data.sequence.items.start; i < l->data.sequence.items.top; i++) {
		yaml_node_t *e = yaml_document_get_node(d, *i);
		const char *n = yscalar(d, e, "name");

		if (n && !strcmp(n, name))
			return ymap(d, e, inner);
	}
	return NULL;
}

static unsigned char *b64dec(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n / 4 * 3 + 4);
	int r;

	if (!out)
		return NULL;
	r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	while (n && s[n - 1] == '=') { /* EVP_DecodeBlock counts the padding */
		n--;
		r--;
	}
	*len = (size_t)r;
	return out;
}

/* a small file (a token) without its trailing newline and spaces; NULL when it cannot be read */
static char *read_token_file(const char *path)
{
	char *b;
	size_t n;

	if (ag_read_file_max(path, 65535, &b, &n))
		return NULL;
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
		b[--n] = 0;
	return b;
}

static void kube_free(struct kube *k)
{
	free(k->ca_file);
	free(k->cert_file);
	free(k->key_file);
	free(k->token);
	free(k->ca_data);
	free(k->cert_data);
	free(k->key_data);
}

static int kube_load(const char *path, const char *context, struct kube *k, char *err, size_t el)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *root, *ctx, *cl, *us;
	FILE *f = fopen(path, "re");
	const char *v, *cname, *uname;
	int r = -1;

	memset(k, 0, sizeof(*k));
	if (!f) {
		snprintf(err, el, "--kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(err, el, "--kubeconfig %s: not YAML: %s at line %zu", path,
			 p.problem ? p.problem : "?", p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		fclose(f);
		return -1;
	}
	root = yaml_document_get_root_node(&d);
	if (!context)
		context = yscalar(&d, root, "current-context");
	ctx = ynamed(&d, root, "contexts", "context", context);
	if (!ctx) {
		snprintf(err, el, "--kubeconfig %s: no context '%s'", path, context ? context : "(no current-context)");
		goto out;
	}
	cname = yscalar(&d, ctx, "cluster");
	uname = yscalar(&d, ctx, "user");
	cl = ynamed(&d, root, "clusters", "cluster", cname);
	us = ynamed(&d, root, "users", "user", uname);
	if (!cl || !(v = yscalar(&d, cl, "server")) || strncmp(v, "https://", 8)) {
		snprintf(err, el, "--kubeconfig %s: context '%s': no cluster '%s' with an https:// "
			 "server", path, context, cname ? cname : "");
		goto out;
	}
	snprintf(k->server, sizeof(k->server), "%s", v);
	while (strlen(k->server) > 8 && k->server[strlen(k->server) - 1] == '/')
		k->server[strlen(k->server) - 1] = 0;
	if ((v = yscalar(&d, cl, "certificate-authority")))
		k->ca_file = strdup(v);
	if ((v = yscalar(&d, cl, "certificate-authority-data")) &&
	    !(k->ca_data = b64dec(v, &k->ca_len))) {
		snprintf(err, el, "--kubeconfig %s: cluster '%s': certificate-authority-data is not "
			 "base64", path, cname);
		goto out;
	}
	v = yscalar(&d, cl, "insecure-skip-tls-verify");
	k->insecure = v && !strcmp(v, "true");
	if (us) {
		if (ymap(&d, us, "exec") || ymap(&d, us, "auth-provider")) {
			snprintf(err, el, "--kubeconfig %s: user '%s': exec and auth-provider plugins "
				 "are not supported; give a token or a client certificate", path, uname);
			goto out;
		}
		if ((v = yscalar(&d, us, "token")))
			k->token = strdup(v);
		else if ((v = yscalar(&d, us, "tokenFile")) && !(k->token = read_token_file(v))) {
			snprintf(err, el, "--kubeconfig %s: user '%s': tokenFile %s: %s", path, uname,
				 v, strerror(errno));
			goto out;
		}
		if ((v = yscalar(&d, us, "client-certificate")))
			k->cert_file = strdup(v);
		if ((v = yscalar(&d, us, "client-key")))
			k->key_file = strdup(v);
		if ((v = yscalar(&d, us, "client-certificate-data")))
			k->cert_data = b64dec(v, &k->cert_len);
		if ((v = yscalar(&d, us, "client-key-data")))
			k->key_data = b64dec(v, &k->key_len);
	}
	r = 0;
out:
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	fclose(f);
	return r;
}

/* ---- GET through the API server ---- */

struct buf {
	char *p;
	size_t n, max;
	FILE *f; /* or into a file */
};

static size_t on_data(char *d, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n;

	if (b->n + len > b->max)
		return 0; /* too big: the transfer fails */
	if (b->f) {
		if (fwrite(d, 1, len, b->f) != len)
			return 0;
	} else {
		char *q = realloc(b->p, b->n + len + 1);

		if (!q)
			return 0;
		b->p = q;
		memcpy(b->p + b->n, d, len);
		b->p[b->n + len] = 0;
	}
	b->n += len;
	return len;
}

/* GET server+path; 0 with *code (any HTTP status), or -1 with err (the curl error) */
static int kget(const struct kube *k, const char *path, struct buf *b, long *code, char *err,
		size_t el)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = NULL;
	char url[2048], auth[8192], cerr[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	if (!h) {
		snprintf(err, el, "cannot start libcurl");
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", k->server, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	if (k->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
	if (k->ca_data) {
		struct curl_blob bl = { k->ca_data, k->ca_len, CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &bl);
	}
	if (k->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (k->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, k->cert_file);
	if (k->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, k->key_file);
	if (k->cert_data) {
		struct curl_blob bl = { k->cert_data, k->cert_len, CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &bl);
	}
	if (k->key_data) {
		struct curl_blob bl = { k->key_data, k->key_len, CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &bl);
	}
	if (k->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", k->token);
		hd = curl_slist_append(hd, auth);
	}
	hd = curl_slist_append(hd, "Accept: application/json, application/gzip");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		snprintf(err, el, "%s", rc == CURLE_WRITE_ERROR ? "too big, or cannot be written"
				 : cerr[0] ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static json_object *kget_json(const struct kube *k, const char *path, char *err, size_t el)
{
	struct buf b = { .max = MAX_LIST };
	long code = 0;
	json_object *o = NULL;
	char e[512];

	if (kget(k, path, &b, &code, e, sizeof(e))) {
		snprintf(err, el, "GET %s%s: %s", k->server, path, e);
	} else if (code != 200) {
		json_object *s = b.p ? json_tokener_parse(b.p) : NULL, *m;

		snprintf(err, el, "GET %s%s: HTTP %ld%s%s", k->server, path, code,
			 s && json_object_object_get_ex(s, "message", &m) ? ": " : "",
			 s && json_object_object_get_ex(s, "message", &m) ? json_object_get_string(m) : "");
		json_object_put(s);
	} else if (!(o = json_tokener_parse(b.p ? b.p : ""))) {
		snprintf(err, el, "GET %s%s: the answer is not JSON", k->server, path);
	}
	free(b.p);
	return o;
}

/* ---- the roll-up ---- */

struct node {
	char name[256], pod[256], state[32], tier[32], mode[32], selftest[32], status[40];
	char conformance[256]; /* upstream's subtests of the last self-test: "Name=result ..." */
	char problem[2600];
	long long violations;
	bool gpu, agent;
};

static struct node *node_get(struct node *v, size_t *n, const char *name)
{
	/* a node's name is a DNS subdomain; anything else would not make a plain file name */
	if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) >= sizeof(v->name)) {
		fprintf(stderr, "evidence cluster: node name '%.64s' is not a DNS subdomain: left out\n",
			name);
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	if (*n >= MAX_NODES)
		return NULL;
	memset(&v[*n], 0, sizeof(v[*n]));
	snprintf(v[*n].name, sizeof(v[*n].name), "%s", name);
	return &v[(*n)++];
}

static const char *jstr(json_object *o, const char *path)
{
	char key[128];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path = dot + 1;
	}
	if (!o || !json_object_object_get_ex(o, path, &o) || !json_object_is_type(o, json_type_string))
		return NULL;
	return json_object_get_string(o);
}

static bool gpu_resource(const char *r)
{
	size_t l = strlen(r);

	return strchr(r, '/') && ((l >= 3 && !strcmp(r + l - 3, "gpu")) ||
				  !strncmp(r, "gpu.intel.com/", 14));
}

/* read a verified node bundle's facts: tier, mode, status (manifest), last self-test, violations */
static void read_bundle(const char *tgz, struct node *n)
{
	char tmp[] = "/tmp/accelguard-cluster.XXXXXX", p[PATH_MAX];
	json_object *m, *s, *a, *e;

	if (!mkdtemp(tmp))
		return;
	if (!ag_evidence_unpack(tgz, tmp)) {
		snprintf(p, sizeof(p), "%s/manifest.json", tmp);
		if ((m = json_object_from_file(p))) {
			snprintf(n->tier, sizeof(n->tier), "%s", jstr(m, "tier") ? jstr(m, "tier") : "?");
			snprintf(n->mode, sizeof(n->mode), "%s", jstr(m, "mode") ? jstr(m, "mode") : "?");
			snprintf(n->status, sizeof(n->status), "%s",
				 jstr(m, "status") ? jstr(m, "status") : "?");
			json_object_put(m);
		}
		snprintf(p, sizeof(p), "%s/selftest.json", tmp);
		snprintf(n->selftest, sizeof(n->selftest), "none");
		if ((s = json_object_from_file(p)) && json_object_is_type(s, json_type_array) &&
		    json_object_array_length(s)) {
			e = json_object_array_get_idx(s, json_object_array_length(s) - 1);
			snprintf(n->selftest, sizeof(n->selftest), "%s",
				 jstr(e, "result") ? jstr(e, "result") : "?");
			{
				json_object *cf = NULL;
				size_t off = 0;

				json_object_object_get_ex(e, "conformance", &cf);
				for (size_t i = 0; cf && json_object_is_type(cf, json_type_array) &&
						   i < json_object_array_length(cf) &&
						   off < sizeof(n->conformance); i++) {
					json_object *t = json_object_array_get_idx(cf, i);

					off += (size_t)snprintf(n->conformance + off,
								sizeof(n->conformance) - off, "%s%s=%s",
								off ? " " : "", jstr(t, "name") ? jstr(t, "name") : "?",
								jstr(t, "result") ? jstr(t, "result") : "?");
				}
			}
		}
		json_object_put(s);
		/* violations: the matrix cells' unmediated, cross_tenant and unresolved counts (the
		 * verdicts evidence.c counts as violations), the self-test's cells left out */
		snprintf(p, sizeof(p), "%s/access-matrix.json", tmp);
		n->violations = 0;
		if ((a = json_object_from_file(p))) {
			json_object *cells = NULL, *c, *x;

			json_object_object_get_ex(a, "cells", &cells);
			for (size_t i = 0; cells && i < json_object_array_length(cells); i++) {
				c = json_object_array_get_idx(cells, i);
				static const char *const vv[] = { "unmediated", "cross_tenant",
								  "unresolved" };
				json_object *bv;

				const char *row = jstr(c, "tenant");

				/* the self-test's own probes are not the workloads' violations */
				if (!json_object_object_get_ex(c, "by_verdict", &bv) || (row &&
				    !strncmp(row, AG_SELFTEST_ROOT "/", strlen(AG_SELFTEST_ROOT) + 1)))
					continue;
				for (size_t j = 0; j < 3; j++)
					if (json_object_object_get_ex(bv, vv[j], &x))
						n->violations += json_object_get_int64(x);
			}
			json_object_put(a);
		}
	}
	ag_evidence_rm_flat(tmp);
	rmdir(tmp);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

/* One run of the command: its options and what it found. */
struct cluster {
	const char *kc, *context, *out, *key, *ns, *sel, *pub;
	int port;
	struct kube k;
	struct node *nodes;
	size_t nn, ok; /* nodes; those verified and Implemented */
	char part[PATH_MAX];
};

static int cl_usage(void)
{
	printf("Usage: accelguard evidence cluster --kubeconfig F --out DIR [--context C]\n"
	       "         [--namespace accelguard] [--selector app.kubernetes.io/name=accelguard]\n"
	       "         [--port 9464] [--pubkey NODE-PUB.pem] [--sign-key KEY.pem]\n\n"
	       "Fetch every agent pod's bundle through the API server's pod proxy\n"
	       "(/api/v1/namespaces/NS/pods/POD:PORT/proxy/evidence.tar.gz), verify each,\n"
	       "and write one cluster bundle: node-NODE.tar.gz, nodes.json/.csv,\n"
	       "PRODUCT.yaml, manifest.json (and manifest.json.sig).\n");
	return 0;
}

/* The options; -1 to go on, else the exit code. */
static int cl_options(struct cluster *C, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, 'K' }, { "context", required_argument, NULL, 'C' },
		{ "out", required_argument, NULL, 'o' },        { "sign-key", required_argument, NULL, 'k' },
		{ "namespace", required_argument, NULL, 'n' },  { "selector", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },       { "pubkey", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },             { 0 },
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "K:C:o:k:n:l:p:P:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'K': C->kc = optarg; break;
		case 'C': C->context = optarg; break;
		case 'o': C->out = optarg; break;
		case 'k': C->key = optarg; break;
		case 'n': C->ns = optarg; break;
		case 'l': C->sel = optarg; break;
		case 'P': C->pub = optarg; break;
		case 'p':
			C->port = atoi(optarg);
			if (C->port <= 0 || C->port > 65535) {
				ag_err("evidence cluster: --port takes 1..65535, not '%s'", optarg);
				return 2;
			}
			break;
		case 'h': return cl_usage();
		default: return 2;
		}
	}
	if (!C->kc || !C->out) {
		ag_err("evidence cluster: --kubeconfig FILE (or $KUBECONFIG) and --out DIR are required");
		return 2;
	}
	if (!access(C->out, F_OK)) {
		ag_err("evidence cluster: %s exists; give a new directory", C->out);
		return 1;
	}
	return -1;
}

/* GET path as JSON and its "items"; NULL when the GET failed (said why) */
static json_object *cl_list(struct cluster *C, const char *path, json_object **items)
{
	char err[2048];
	json_object *list = kget_json(&C->k, path, err, sizeof(err));

	if (!list) {
		ag_err("evidence cluster: %s", err);
		return NULL;
	}
	if (!json_object_object_get_ex(list, "items", items))
		*items = NULL;
	return list;
}

/* The GPU nodes: an allocatable GPU resource that is not 0. */
static int cl_gpu_nodes(struct cluster *C)
{
	json_object *items, *list = cl_list(C, "/api/v1/nodes", &items);

	if (!list)
		return -EIO;
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i), *st, *al;
		const char *name = jstr(it, "metadata.name");
		bool gpu = false;

		if (!name)
			continue;
		if (json_object_object_get_ex(it, "status", &st) &&
		    json_object_object_get_ex(st, "allocatable", &al)) {
			json_object_object_foreach(al, rk, rv) {
				const char *q = json_object_get_string(rv);

				if (gpu_resource(rk) && q && strcmp(q, "0"))
					gpu = true;
			}
		}
		if (gpu) {
			struct node *n = node_get(C->nodes, &C->nn, name);

			if (n)
				n->gpu = true;
		}
	}
	json_object_put(list);
	return 0;
}

/* The agent pods, each on its node. */
static int cl_agent_pods(struct cluster *C)
{
	char path[2048], *esel = curl_easy_escape(NULL, C->sel, 0);
	json_object *items, *list;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s", C->ns,
		 esel ? esel : "");
	curl_free(esel);
	if (!(list = cl_list(C, path, &items)))
		return -EIO;
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		const char *node = jstr(it, "spec.nodeName"), *pod = jstr(it, "metadata.name");
		struct node *n;

		if (!node || !pod || !(n = node_get(C->nodes, &C->nn, node)))
			continue;
		n->agent = true;
		snprintf(n->pod, sizeof(n->pod), "%s", pod);
	}
	json_object_put(list);
	return 0;
}

/* One node's bundle: fetched into node-NODE.tar.gz, verified, read. A node that cannot give one
 * gets its state and problem; -errno only when the bundle cannot be written here. */
static int cl_fetch_node(struct cluster *C, struct node *n)
{
	struct buf b = { .max = MAX_BUNDLE };
	char path[2048], p[PATH_MAX], e[512];
	long code = 0;

	if (!n->agent) {
		snprintf(n->state, sizeof(n->state), "missing");
		snprintf(n->problem, sizeof(n->problem), "no agent pod (%s in %s) on this GPU node",
			 C->sel, C->ns);
		return 0;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s:%d/proxy/evidence.tar.gz",
		 C->ns, n->pod, C->port);
	snprintf(p, sizeof(p), "%s/node-%s.tar.gz", C->part, n->name);
	b.f = fopen(p, "wxe");
	if (!b.f)
		goto err;
	if (kget(&C->k, path, &b, &code, e, sizeof(e)) || code != 200) {
		snprintf(n->state, sizeof(n->state), "unreachable");
		if (code && code != 200)
			snprintf(n->problem, sizeof(n->problem), "GET %s: HTTP %ld", path, code);
		else
			snprintf(n->problem, sizeof(n->problem), "GET %s: %s", path, e);
		fclose(b.f);
		unlink(p);
		fprintf(stderr, "evidence cluster: node %s: %s\n", n->name, n->problem);
		return 0;
	}
	if (fclose(b.f))
		goto err;
	printf("node %s: ", n->name);
	fflush(stdout);
	if (ag_evidence_verify(p, C->pub)) {
		snprintf(n->state, sizeof(n->state), "unverified");
		snprintf(n->problem, sizeof(n->problem), "the bundle from pod %s fails evidence "
			 "verify (a changed, missing or extra file, or a bad signature)", n->pod);
	} else {
		snprintf(n->state, sizeof(n->state), "verified");
	}
	fflush(stdout);
	read_bundle(p, n);
	if (!strcmp(n->state, "verified") && strcmp(n->status, "Implemented") && !n->problem[0])
		snprintf(n->problem, sizeof(n->problem), "the node's own status is %s", n->status);
	if (!strcmp(n->state, "verified") && !strcmp(n->status, "Implemented"))
		C->ok++;
	return 0;
err:;
	int r = -errno;

	ag_err("evidence cluster: %s: %s", p, strerror(-r));
	return r;
}

static bool have_bundle(const struct node *n)
{
	return !strcmp(n->state, "verified") || !strcmp(n->state, "unverified");
}

/* TestSecureAcceleratorAccess's subtests at that node, by name ("Name=result ...") */
static json_object *conformance_json(const struct node *n)
{
	json_object *t = have_bundle(n) && n->conformance[0] ? json_object_new_object() : NULL;
	char buf[sizeof(n->conformance)], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", n->conformance);
	for (char *w = t ? strtok_r(buf, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');

		if (eq) {
			*eq = 0;
			json_object_object_add(t, w, json_object_new_string(eq + 1));
		}
	}
	return t;
}

static json_object *node_json(const struct node *n)
{
	json_object *o = json_object_new_object();
	bool have = have_bundle(n);
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "node-%s.tar.gz", n->name);
	json_object_object_add(o, "node", json_object_new_string(n->name));
	json_object_object_add(o, "gpu", json_object_new_boolean(n->gpu));
	json_object_object_add(o, "pod", n->pod[0] ? json_object_new_string(n->pod) : NULL);
	json_object_object_add(o, "state", json_object_new_string(n->state));
	json_object_object_add(o, "tier", have ? json_object_new_string(n->tier) : NULL);
	json_object_object_add(o, "mode", have ? json_object_new_string(n->mode) : NULL);
	json_object_object_add(o, "selftest", have ? json_object_new_string(n->selftest) : NULL);
	json_object_object_add(o, "conformance", conformance_json(n));
	json_object_object_add(o, "violations", have ? json_object_new_int64(n->violations) : NULL);
	json_object_object_add(o, "status", have ? json_object_new_string(n->status) : NULL);
	json_object_object_add(o, "bundle", have ? json_object_new_string(p) : NULL);
	json_object_object_add(o, "problem", n->problem[0] ? json_object_new_string(n->problem) : NULL);
	return o;
}

static void node_csv(FILE *cf, const struct node *n)
{
	bool have = have_bundle(n);

	fprintf(cf, "%s,%s,%s,%s,%s,%s,%s,", n->name, n->gpu ? "yes" : "no", n->state,
		have ? n->tier : "", have ? n->mode : "", have ? n->selftest : "",
		have ? n->conformance : "");
	if (have)
		fprintf(cf, "%lld", n->violations);
	fprintf(cf, ",%s,", have ? n->status : "");
	ag_csv_field(cf, n->problem);
	fputc('\n', cf);
}

/* open NAME in the partial bundle, for writing; NULL with errno */
static FILE *cl_open(const struct cluster *C, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", C->part, name);
	return fopen(p, "wxe");
}

/* the error of writing into the partial bundle, said once */
static int cl_io(const struct cluster *C, int r)
{
	ag_err("evidence cluster: cannot write into %s: %s", C->part, strerror(-r));
	return r;
}

/* The node table: nodes.json and nodes.csv. */
static int cl_write_table(struct cluster *C)
{
	FILE *f = cl_open(C, "nodes.json"), *cf = f ? cl_open(C, "nodes.csv") : NULL;
	json_object *a;
	int r;

	if (!f || !cf) {
		r = -errno;
		if (f)
			fclose(f);
		return cl_io(C, r);
	}
	a = json_object_new_array();
	fprintf(cf, "node,gpu,state,tier,mode,selftest,conformance,violations,status,problem\n");
	for (size_t i = 0; i < C->nn; i++) {
		json_object_array_add(a, node_json(&C->nodes[i]));
		node_csv(cf, &C->nodes[i]);
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(a);
	r = fclose(f) | fclose(cf) ? -errno : 0;
	return r ? cl_io(C, r) : 0;
}

/* PRODUCT.yaml: Implemented only when every node's bundle is verified and Implemented */
static int cl_write_entry(struct cluster *C, const char *status)
{
	char notes[8192];
	size_t off;
	FILE *f;

	off = (size_t)snprintf(notes, sizeof(notes), "Cluster roll-up by accelguard evidence "
			       "cluster: %zu of %zu GPU/agent nodes verified and Implemented. ",
			       C->ok, C->nn);
	for (size_t i = 0; i < C->nn && off < sizeof(notes); i++) {
		const struct node *n = &C->nodes[i];

		off += (size_t)snprintf(notes + off, sizeof(notes) - off, "%s: %s%s%s%s. ", n->name,
					n->state, n->status[0] ? ", " : "", n->status,
					n->problem[0] ? " (see nodes.json)" : "");
	}
	f = cl_open(C, "PRODUCT.yaml");
	if (!f)
		return cl_io(C, -errno);
	fprintf(f, "# the secure_accelerator_access entry of PRODUCT.yaml for the cluster, "
		   "written by accelguard evidence cluster\n"
		   "- id: secure_accelerator_access\n"
		   "  description: \"Ensure that access to accelerators from within containers is "
		   "properly isolated and mediated by the Kubernetes resource management framework "
		   "(device plugin or DRA) and container runtime, preventing unauthorized access or "
		   "interference between workloads.\"\n"
		   "  level: MUST\n  status: ");
	ag_evidence_yaml_dq(f, status);
	fprintf(f, "\n  evidence:\n    - \"nodes.json\"\n    - \"nodes.csv\"\n");
	for (size_t i = 0; i < C->nn; i++)
		if (have_bundle(&C->nodes[i]))
			fprintf(f, "    - \"node-%s.tar.gz\"\n", C->nodes[i].name);
	fprintf(f, "    - \"manifest.json\"\n  notes: ");
	ag_evidence_yaml_dq(f, notes);
	fprintf(f, "\n");
	return fclose(f) ? cl_io(C, -errno) : 0;
}

/* the names of the files in dir (its dot files left out) */
static int list_dir(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = d ? 0 : (errno ? -errno : -EIO);

	while (d && !r && (de = readdir(d))) {
		char **nv;

		if (de->d_name[0] == '.')
			continue;
		nv = realloc(*names, (*n + 1) * sizeof(**names));
		if (!nv || !(nv[*n] = strdup(de->d_name))) {
			*names = nv ? nv : *names;
			r = -ENOMEM;
			break;
		}
		*names = nv;
		(*n)++;
	}
	if (d)
		closedir(d);
	return r;
}

/* manifest.json: every file made above (the node table, the entry, the node bundles) */
static int cl_write_manifest(struct cluster *C, const char *status)
{
	json_object *m = json_object_new_object();
	char ts[40], **names = NULL;
	size_t n_names = 0;
	time_t now = time(NULL);
	int r;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_object_add(m, "format", json_object_new_string("accelguard-cluster-evidence/1"));
	json_object_object_add(m, "generated", json_object_new_string(ts));
	json_object_object_add(m, "server", json_object_new_string(C->k.server));
	json_object_object_add(m, "namespace", json_object_new_string(C->ns));
	json_object_object_add(m, "selector", json_object_new_string(C->sel));
	json_object_object_add(m, "status", json_object_new_string(status));
	r = list_dir(C->part, &names, &n_names);
	if (!r)
		r = ag_evidence_write_manifest(C->part, m, (const char *const *)names, n_names);
	else
		json_object_put(m);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	return r ? cl_io(C, r) : 0;
}

/* The cluster bundle from the nodes found: fetched, tabled, the entry, the manifest, signed,
 * renamed whole. Returns the exit code. */
static int cl_bundle(struct cluster *C)
{
	const char *status;
	char err[2048];

	qsort(C->nodes, C->nn, sizeof(*C->nodes), cmp_node);
	snprintf(C->part, sizeof(C->part), "%s.partial", C->out);
	if (mkdir(C->part, 0755)) {
		ag_err("evidence cluster: cannot make %s: %s", C->part, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < C->nn; i++)
		if (cl_fetch_node(C, &C->nodes[i]))
			goto fail;
	status = C->nn && C->ok == C->nn ? "Implemented"
		 : C->ok ? "Partially Implemented" : "Not Implemented";
	if (cl_write_table(C) || cl_write_entry(C, status) || cl_write_manifest(C, status))
		goto fail;
	if (C->key && ag_evidence_sign(C->key, C->part, err, sizeof(err))) {
		ag_err("evidence cluster: %s", err);
		goto fail;
	}
	if (rename(C->part, C->out)) {
		ag_err("evidence cluster: cannot rename %s to %s: %s", C->part, C->out,
		       strerror(errno));
		goto fail;
	}
	printf("evidence cluster: %s: %zu nodes, %zu verified and Implemented; "
	       "secure_accelerator_access: %s%s\n", C->out, C->nn, C->ok, status,
	       C->key ? "; manifest signed" : "");
	/* the exit says whether the cluster is Implemented: 0 yes, 3 no (the bundle is made) */
	return C->ok == C->nn && C->nn ? 0 : 3;
fail:
	ag_evidence_rm_flat(C->part);
	return 1;
}

int ag_evidence_cluster_cmd(int argc, char **argv)
{
	struct cluster C = { .kc = getenv("KUBECONFIG"), .ns = "accelguard",
			     .sel = "app.kubernetes.io/name=accelguard", .port = 9464 };
	char err[2048];
	int ret = cl_options(&C, argc, argv);

	if (ret >= 0)
		return ret;
	if (kube_load(C.kc, C.context, &C.k, err, sizeof(err))) {
		ag_err("evidence cluster: %s", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	C.nodes = calloc(MAX_NODES, sizeof(*C.nodes));
	if (!C.nodes)
		ag_err("evidence cluster: %s", strerror(ENOMEM));
	else if (!cl_gpu_nodes(&C) && !cl_agent_pods(&C))
		ret = cl_bundle(&C);
	else
		ret = 1;
	free(C.nodes);
	kube_free(&C.k);
	return ret < 0 ? 1 : ret;
}
