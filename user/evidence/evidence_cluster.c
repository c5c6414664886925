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

static char *read_small(const char *path)
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
		else if ((v = yscalar(&d, us, "tokenFile")) && !(k->token = read_small(v))) {
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

static void yaml_q(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

int ag_evidence_cluster_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, 'K' }, { "context", required_argument, NULL, 'C' },
		{ "out", required_argument, NULL, 'o' },        { "sign-key", required_argument, NULL, 'k' },
		{ "namespace", required_argument, NULL, 'n' },  { "selector", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },       { "pubkey", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },             { 0 },
	};
	const char *kc = getenv("KUBECONFIG"), *context = NULL, *out = NULL, *key = NULL,
		   *ns = "accelguard", *sel = "app.kubernetes.io/name=accelguard", *pub = NULL;
	int port = 9464, opt, ret = 1;
	struct kube k;
	struct node *nodes = NULL;
	size_t nn = 0, ok = 0;
	char err[2048], path[2048], part[PATH_MAX], p[PATH_MAX];
	json_object *list = NULL, *items;
	FILE *f, *cf;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "K:C:o:k:n:l:p:P:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'K': kc = optarg; break;
		case 'C': context = optarg; break;
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'n': ns = optarg; break;
		case 'l': sel = optarg; break;
		case 'P': pub = optarg; break;
		case 'p':
			port = atoi(optarg);
			if (port <= 0 || port > 65535) {
				ag_err("evidence cluster: --port takes 1..65535, not '%s'", optarg);
				return 2;
			}
			break;
		case 'h':
			printf("Usage: accelguard evidence cluster --kubeconfig F --out DIR [--context C]\n"
			       "         [--namespace accelguard] [--selector app.kubernetes.io/name=accelguard]\n"
			       "         [--port 9464] [--pubkey NODE-PUB.pem] [--sign-key KEY.pem]\n\n"
			       "Fetch every agent pod's bundle through the API server's pod proxy\n"
			       "(/api/v1/namespaces/NS/pods/POD:PORT/proxy/evidence.tar.gz), verify each,\n"
			       "and write one cluster bundle: node-NODE.tar.gz, nodes.json/.csv,\n"
			       "PRODUCT.yaml, manifest.json (and manifest.json.sig).\n");
			return 0;
		default: return 2;
		}
	}
	if (!kc || !out) {
		ag_err("evidence cluster: --kubeconfig FILE (or $KUBECONFIG) and --out DIR are required");
		return 2;
	}
	if (!access(out, F_OK)) {
		ag_err("evidence cluster: %s exists; give a new directory", out);
		return 1;
	}
	if (kube_load(kc, context, &k, err, sizeof(err))) {
		ag_err("evidence cluster: %s", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	nodes = calloc(MAX_NODES, sizeof(*nodes));
	if (!nodes)
		goto out;
	/* the GPU nodes */
	if (!(list = kget_json(&k, "/api/v1/nodes", err, sizeof(err)))) {
		ag_err("evidence cluster: %s", err);
		goto out;
	}
	if (json_object_object_get_ex(list, "items", &items))
		for (size_t i = 0; i < json_object_array_length(items); i++) {
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
				struct node *n = node_get(nodes, &nn, name);

				if (n)
					n->gpu = true;
			}
		}
	json_object_put(list);
	/* the agent pods */
	{
		char *esel = curl_easy_escape(NULL, sel, 0);

		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s", ns,
			 esel ? esel : "");
		curl_free(esel);
	}
	if (!(list = kget_json(&k, path, err, sizeof(err)))) {
		ag_err("evidence cluster: %s", err);
		goto out;
	}
	if (json_object_object_get_ex(list, "items", &items))
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *it = json_object_array_get_idx(items, i);
			const char *node = jstr(it, "spec.nodeName"), *pod = jstr(it, "metadata.name");
			struct node *n;

			if (!node || !pod || !(n = node_get(nodes, &nn, node)))
				continue;
			n->agent = true;
			snprintf(n->pod, sizeof(n->pod), "%s", pod);
		}
	json_object_put(list);
	list = NULL;
	qsort(nodes, nn, sizeof(*nodes), cmp_node);
	snprintf(part, sizeof(part), "%s.partial", out);
	if (mkdir(part, 0755)) {
		ag_err("evidence cluster: cannot make %s: %s", part, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < nn; i++) {
		struct node *n = &nodes[i];
		struct buf b = { .max = MAX_BUNDLE };
		long code = 0;
		char e[512];

		if (!n->agent) {
			snprintf(n->state, sizeof(n->state), "missing");
			snprintf(n->problem, sizeof(n->problem), "no agent pod (%s in %s) on this GPU node",
				 sel, ns);
			continue;
		}
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s:%d/proxy/evidence.tar.gz",
			 ns, n->pod, port);
		snprintf(p, sizeof(p), "%s/node-%s.tar.gz", part, n->name);
		b.f = fopen(p, "wxe");
		if (!b.f) {
			ag_err("evidence cluster: %s: %s", p, strerror(errno));
			goto fail;
		}
		if (kget(&k, path, &b, &code, e, sizeof(e)) || code != 200) {
			snprintf(n->state, sizeof(n->state), "unreachable");
			if (code && code != 200)
				snprintf(n->problem, sizeof(n->problem), "GET %s: HTTP %ld", path, code);
			else
				snprintf(n->problem, sizeof(n->problem), "GET %s: %s", path, e);
			fclose(b.f);
			unlink(p);
			fprintf(stderr, "evidence cluster: node %s: %s\n", n->name, n->problem);
			continue;
		}
		if (fclose(b.f)) {
			ag_err("evidence cluster: %s: %s", p, strerror(errno));
			goto fail;
		}
		printf("node %s: ", n->name);
		fflush(stdout);
		if (ag_evidence_verify(p, pub)) {
			snprintf(n->state, sizeof(n->state), "unverified");
			snprintf(n->problem, sizeof(n->problem), "the bundle from pod %s fails evidence "
				 "verify (a changed, missing or extra file, or a bad signature)", n->pod);
		} else {
			snprintf(n->state, sizeof(n->state), "verified");
		}
		fflush(stdout);
		read_bundle(p, n);
		if (!strcmp(n->state, "verified") && strcmp(n->status, "Implemented") &&
		    !n->problem[0])
			snprintf(n->problem, sizeof(n->problem), "the node's own status is %s",
				 n->status);
		if (!strcmp(n->state, "verified") && !strcmp(n->status, "Implemented"))
			ok++;
	}
	/* the table */
	f = fopen((snprintf(p, sizeof(p), "%s/nodes.json", part), p), "wxe");
	cf = fopen((snprintf(p, sizeof(p), "%s/nodes.csv", part), p), "wxe");
	if (!f || !cf) {
		if (f)
			fclose(f);
		if (cf)
			fclose(cf);
		goto io;
	}
	{
		json_object *a = json_object_new_array();

		fprintf(cf, "node,gpu,state,tier,mode,selftest,conformance,violations,status,problem\n");
		for (size_t i = 0; i < nn; i++) {
			struct node *n = &nodes[i];
			json_object *o = json_object_new_object();
			bool have = !strcmp(n->state, "verified") || !strcmp(n->state, "unverified");

			json_object_object_add(o, "node", json_object_new_string(n->name));
			json_object_object_add(o, "gpu", json_object_new_boolean(n->gpu));
			json_object_object_add(o, "pod", n->pod[0] ? json_object_new_string(n->pod) : NULL);
			json_object_object_add(o, "state", json_object_new_string(n->state));
			json_object_object_add(o, "tier", have ? json_object_new_string(n->tier) : NULL);
			json_object_object_add(o, "mode", have ? json_object_new_string(n->mode) : NULL);
			json_object_object_add(o, "selftest", have ? json_object_new_string(n->selftest) : NULL);
			{
				/* TestSecureAcceleratorAccess's subtests at that node, by name */
				json_object *t = have && n->conformance[0] ? json_object_new_object() : NULL;
				char buf[sizeof(n->conformance)], *save = NULL;

				snprintf(buf, sizeof(buf), "%s", n->conformance);
				for (char *w = t ? strtok_r(buf, " ", &save) : NULL; w;
				     w = strtok_r(NULL, " ", &save)) {
					char *eq = strchr(w, '=');

					if (eq) {
						*eq = 0;
						json_object_object_add(t, w, json_object_new_string(eq + 1));
					}
				}
				json_object_object_add(o, "conformance", t);
			}
			json_object_object_add(o, "violations", have ? json_object_new_int64(n->violations) : NULL);
			json_object_object_add(o, "status", have ? json_object_new_string(n->status) : NULL);
			json_object_object_add(o, "bundle", have ? json_object_new_string(
				(snprintf(p, sizeof(p), "node-%s.tar.gz", n->name), p)) : NULL);
			json_object_object_add(o, "problem", n->problem[0] ? json_object_new_string(n->problem) : NULL);
			json_object_array_add(a, o);
			fprintf(cf, "%s,%s,%s,%s,%s,%s,%s,", n->name, n->gpu ? "yes" : "no", n->state,
				have ? n->tier : "", have ? n->mode : "", have ? n->selftest : "",
				have ? n->conformance : "");
			if (have)
				fprintf(cf, "%lld", n->violations);
			fprintf(cf, ",%s,", have ? n->status : "");
			ag_csv_field(cf, n->problem);
			fputc('\n', cf);
		}
		fprintf(f, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(a);
	}
	if (fclose(f) | fclose(cf))
		goto io;
	/* PRODUCT.yaml: Implemented only when every node's bundle is verified and Implemented */
	{
		const char *status = nn && ok == nn ? "Implemented"
				     : ok ? "Partially Implemented" : "Not Implemented";
		char notes[8192];
		size_t off;

		off = (size_t)snprintf(notes, sizeof(notes), "Cluster roll-up by accelguard evidence "
				       "cluster: %zu of %zu GPU/agent nodes verified and Implemented. ",
				       ok, nn);
		for (size_t i = 0; i < nn && off < sizeof(notes); i++)
			off += (size_t)snprintf(notes + off, sizeof(notes) - off, "%s: %s%s%s%s. ",
						nodes[i].name, nodes[i].state,
						nodes[i].status[0] ? ", " : "", nodes[i].status,
						nodes[i].problem[0] ? " (see nodes.json)" : "");
		f = fopen((snprintf(p, sizeof(p), "%s/PRODUCT.yaml", part), p), "wxe");
		if (!f)
			goto io;
		fprintf(f, "# the secure_accelerator_access entry of PRODUCT.yaml for the cluster, "
			   "written by accelguard evidence cluster\n"
			   "- id: secure_accelerator_access\n"
			   "  description: \"Ensure that access to accelerators from within containers is "
			   "properly isolated and mediated by the Kubernetes resource management framework "
			   "(device plugin or DRA) and container runtime, preventing unauthorized access or "
			   "interference between workloads.\"\n"
			   "  level: MUST\n  status: ");
		yaml_q(f, status);
		fprintf(f, "\n  evidence:\n    - \"nodes.json\"\n    - \"nodes.csv\"\n");
		for (size_t i = 0; i < nn; i++)
			if (!strcmp(nodes[i].state, "verified") || !strcmp(nodes[i].state, "unverified"))
				fprintf(f, "    - \"node-%s.tar.gz\"\n", nodes[i].name);
		fprintf(f, "    - \"manifest.json\"\n  notes: ");
		yaml_q(f, notes);
		fprintf(f, "\n");
		if (fclose(f))
			goto io;
		/* manifest.json */
		{
			json_object *m = json_object_new_object();
			DIR *d = opendir(part);
			struct dirent *de;
			char ts[40], **names = NULL;
			size_t n_names = 0;
			time_t now = time(NULL);
			int r = d ? 0 : (errno ? -errno : -EIO);

			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
			json_object_object_add(m, "format", json_object_new_string("accelguard-cluster-evidence/1"));
			json_object_object_add(m, "generated", json_object_new_string(ts));
			json_object_object_add(m, "server", json_object_new_string(k.server));
			json_object_object_add(m, "namespace", json_object_new_string(ns));
			json_object_object_add(m, "selector", json_object_new_string(sel));
			json_object_object_add(m, "status", json_object_new_string(status));
			/* every file made above: the node table, the entry, the node bundles */
			while (d && !r && (de = readdir(d))) {
				char **nn;

				if (de->d_name[0] == '.')
					continue;
				nn = realloc(names, (n_names + 1) * sizeof(*names));
				if (!nn || !(nn[n_names] = strdup(de->d_name))) {
					names = nn ? nn : names;
					r = -ENOMEM;
					break;
				}
				names = nn;
				n_names++;
			}
			if (d)
				closedir(d);
			if (!r)
				r = ag_evidence_write_manifest(part, m, (const char *const *)names, n_names);
			else
				json_object_put(m);
			for (size_t i = 0; i < n_names; i++)
				free(names[i]);
			free(names);
			if (r)
				goto io;
		}
		if (key && ag_evidence_sign(key, part, err, sizeof(err))) {
			ag_err("evidence cluster: %s", err);
			goto fail;
		}
		if (rename(part, out)) {
			ag_err("evidence cluster: cannot rename %s to %s: %s", part, out, strerror(errno));
			goto fail;
		}
		printf("evidence cluster: %s: %zu nodes, %zu verified and Implemented; "
		       "secure_accelerator_access: %s%s\n", out, nn, ok, status,
		       key ? "; manifest signed" : "");
		/* the exit says whether the cluster is Implemented: 0 yes, 3 no (the bundle is made) */
		ret = ok == nn && nn ? 0 : 3;
		goto out;
	}
io:
	ag_err("evidence cluster: cannot write into %s: %s", part, strerror(errno));
fail:
	ag_evidence_rm_flat(part);
out:
	json_object_put(list);
	free(nodes);
	kube_free(&k);
	return ret;
}
