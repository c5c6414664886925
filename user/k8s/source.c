// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The Kubernetes source's life cycle: options, the parts and their threads, destroy. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "resolver.h"

static const char *const default_cdi_dirs[] = { "/etc/cdi", "/var/run/cdi" };
#define DEFAULT_PR_SOCKET "/var/lib/kubelet/pod-resources/kubelet.sock"
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static void k8s_destroy(void *ctx)
{
	struct k8s *k = ctx;
	size_t n_roots = 0;

	if (!k)
		return;
	atomic_store(&k->env.stop, 1);
	k8s_pr_stop(&k->pr);
	k8s_cri_stop(&k->cri);
	k8s_api_stop(&k->api);
	k8s_pr_fini(&k->pr);
	k8s_cri_fini(&k->cri);
	k8s_api_fini(&k->api);
	k8s_pending_free(k);
	k8s_strv_free(k->bundle_dirs, k->n_bundle_dirs);
	free(k->dev_dir);
	free(k->sys);
	free(k->bids);
	free(k->hd);
	k8s_amd_free(&k->amd);
	k8s_map_fini(&k->map);
	for (size_t i = 0; i < k->n_exempt; i++) {
		struct ag_cfg_exempt_k8s *e = &k->exempt[i];

		free(e->namespace);
		free(e->service_account);
		k8s_strv_free(e->label_keys, e->n_labels);
		k8s_strv_free(e->label_values, e->n_labels);
	}
	free(k->exempt);
	while (k->tenant_roots && k->tenant_roots[n_roots])
		n_roots++;
	k8s_strv_free(k->tenant_roots, n_roots);
	free(k->env.node_name);
	free(k->env.pr_socket);
	free(k->env.cri_socket);
	free(k->env.api_server);
	free(k->env.token_file);
	free(k->env.ca_file);
	k8s_lock_destroy(&k->lock);
	free(k);
}

static bool is_off(const char *s)
{
	return s && !strcmp(s, "off");
}

/* opt value, else the default; NULL for "off" */
static int opt_str(char **out, const char *v, const char *def)
{
	*out = NULL;
	if (is_off(v))
		return 0;
	if (!v)
		v = def;
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

static int copy_exempt(struct k8s *k, const struct ag_cfg_exempt_k8s *src, size_t n)
{
	if (!n)
		return 0;
	k->exempt = calloc(n, sizeof(*k->exempt));
	if (!k->exempt)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct ag_cfg_exempt_k8s *e = &k->exempt[k->n_exempt++];

		e->line = src[i].line;
		e->namespace = k8s_sdup(src[i].namespace);
		e->service_account = k8s_sdup(src[i].service_account);
		if ((src[i].namespace && !e->namespace) ||
		    (src[i].service_account && !e->service_account))
			return -ENOMEM;
		if (!src[i].n_labels)
			continue;
		e->label_keys = calloc(src[i].n_labels, sizeof(char *));
		e->label_values = calloc(src[i].n_labels, sizeof(char *));
		if (!e->label_keys || !e->label_values)
			return -ENOMEM;
		for (size_t j = 0; j < src[i].n_labels; j++) {
			e->label_keys[j] = k8s_sdup(src[i].label_keys[j]);
			e->label_values[j] = k8s_sdup(src[i].label_values[j] ? src[i].label_values[j] : "");
			e->n_labels = j + 1;
			if (!e->label_keys[j] || !e->label_values[j])
				return -ENOMEM;
		}
	}
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int setup(struct k8s *k, const struct ag_k8s_options *o, char *err, size_t errlen)
{
	const char *const *roots = o->tenant_roots ? o->tenant_roots : ag_k8s_default_tenant_roots;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char incluster[300] = "";
	const char *cdi_dirs[64];
	size_t n_roots = 0, n_cdi_dirs = o->n_cdi_dirs ? o->n_cdi_dirs : 2;
	int ret = 0;

	if (!o->api_server && host && *host) {
		bool v6 = strchr(host, ':') != NULL;

		snprintf(incluster, sizeof(incluster), "https://%s%s%s:%s", v6 ? "[" : "", host,
			 v6 ? "]" : "", port && *port ? port : "443");
	}
	ret = ret ?: opt_str(&k->env.pr_socket, o->podresources_socket, DEFAULT_PR_SOCKET);
	ret = ret ?: opt_str(&k->env.cri_socket, o->cri_socket, NULL);
	k->env.cri_auto = !o->cri_socket;
	ret = ret ?: opt_str(&k->env.api_server, o->api_server, incluster[0] ? incluster : NULL);
	ret = ret ?: opt_str(&k->env.token_file, o->token_file, SA_DIR "/token");
	ret = ret ?: opt_str(&k->env.ca_file, o->ca_file, SA_DIR "/ca.crt");
	ret = ret ?: opt_str(&k->env.node_name, o->node_name, getenv("NODE_NAME"));
	if (ret)
		goto nomem;
	if (k->env.node_name && !*k->env.node_name) {
		free(k->env.node_name);
		k->env.node_name = NULL;
	}
	if (n_cdi_dirs > sizeof(cdi_dirs) / sizeof(*cdi_dirs)) {
		snprintf(err, errlen, "k8s: more than %zu CDI directories",
			 sizeof(cdi_dirs) / sizeof(*cdi_dirs));
		return -E2BIG;
	}
	for (size_t i = 0; i < n_cdi_dirs; i++)
		cdi_dirs[i] = o->n_cdi_dirs ? o->cdi_dirs[i] : default_cdi_dirs[i];
	if (k8s_map_init(&k->map, is_off(o->proc) ? NULL : o->proc ? o->proc : "/proc",
			 is_off(o->dev_root) ? NULL : o->dev_root ? o->dev_root : "", cdi_dirs,
			 n_cdi_dirs))
		goto nomem;
	while (roots[n_roots])
		n_roots++;
	k->tenant_roots = calloc(n_roots + 1, sizeof(char *));
	if (!k->tenant_roots)
		goto nomem;
	for (size_t i = 0; i < n_roots; i++)
		if (!(k->tenant_roots[i] = strdup(roots[i])))
			goto nomem;
	if (copy_exempt(k, o->exempt, o->n_exempt))
		goto nomem;
	{
		const char *const *bd = o->n_bundle_dirs ? o->bundle_dirs : k8s_oci_default_dirs;
		size_t nb = o->n_bundle_dirs;

		while (!o->n_bundle_dirs && bd[nb])
			nb++;
		k->bundle_dirs = calloc(nb ? nb : 1, sizeof(char *));
		if (!k->bundle_dirs)
			goto nomem;
		for (; k->n_bundle_dirs < nb; k->n_bundle_dirs++)
			if (!(k->bundle_dirs[k->n_bundle_dirs] = strdup(bd[k->n_bundle_dirs])))
				goto nomem;
		if (!(k->dev_dir = strdup(o->dev_dir ? o->dev_dir : "/dev")))
			goto nomem;
		if (!(k->sys = strdup(o->sys ? o->sys : "/sys")) ||
		    (o->sys && k8s_map_set_sys(&k->map, o->sys)))
			goto nomem;
	}
	k->env.resync_ns = (o->resync_ms ? o->resync_ms : 10000) * K8S_MS;
	k->env.min_interval_ns = (o->min_interval_ms ? o->min_interval_ms : 20) * K8S_MS;
	k->env.backoff_max_ns = (o->backoff_max_ms ? o->backoff_max_ms : 5000) * K8S_MS;
	k->env.rpc_timeout_ms = o->rpc_timeout_ms ? o->rpc_timeout_ms : 5000;
	k->env.watch_timeout_s = o->watch_timeout_s ? o->watch_timeout_s : 300;
	return 0;
nomem:
	snprintf(err, errlen, "k8s: out of memory");
	return -ENOMEM;
}

struct ag_source *ag_k8s_source_new(const struct ag_k8s_options *o, int notify_fd, char *err,
				    size_t errlen)
{
	struct k8s *k;
	size_t n_gpus, n_cdi;
	int ret;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "k8s: libcurl initialisation failed: %s",
			 curl_easy_strerror(curl_init_rc));
		errno = EIO;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "k8s: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	k8s_lock_init(&k->lock, K8S_RANK_RESOLVER, "resolver");
	k->env.notify_fd = notify_fd;
	atomic_init(&k->env.stop, 0);
	k8s_pr_init(&k->pr, &k->env, &k->map);
	k8s_cri_init(&k->cri, &k->env, k8s_cri_changed, k);
	k8s_api_init(&k->api, &k->env, &k->map);
	k->src.name = "kubernetes";
	k->src.ctx = k;
	k->src.resolve = k8s_resolve;
	k->src.tenant_roots = k8s_tenant_roots;
	k->src.destroy = k8s_destroy;
	ret = setup(k, o, err, errlen);
	if (ret)
		goto fail;
	k8s_map_reload(&k->map, true);
	k8s_map_counts(&k->map, &n_gpus, &n_cdi);
	k8s_log(AG_LOG_INFO, "PodResources %s, CRI %s, API %s (node %s), procfs %s, %zu GPUs, "
		"%zu CDI devices", k->env.pr_socket ? k->env.pr_socket : "off",
		k->env.cri_auto ? "auto" : k->env.cri_socket ? k->env.cri_socket : "off",
		k->env.api_server ? k->env.api_server : "off", k->env.node_name ? k->env.node_name : "?",
		k->map.proc, n_gpus, n_cdi);
	if (!k->env.cri_socket && !k->env.cri_auto && !k->env.api_server)
		k8s_log(AG_LOG_WARN, "CRI and Kubernetes API both off: container cgroups cannot be "
			"joined to pods and stay unresolved");
	if (!k->env.pr_socket && !k->env.api_server)
		k8s_log(AG_LOG_WARN, "PodResources and Kubernetes API both off: no allocation is "
			"known, every container is judged as holding nothing");
	/* k->env is complete before the first thread starts */
	if (k->env.api_server && !k->env.node_name) {
		k8s_log(AG_LOG_WARN, "API %s: no node name (kubernetes.node_name or NODE_NAME): the "
			"pods of this node cannot be selected; Kubernetes API off", k->env.api_server);
		free(k->env.api_server);
		k->env.api_server = NULL;
	}
	if (k->env.pr_socket) {
		ret = k8s_pr_start(&k->pr);
		if (ret)
			goto thread;
	}
	if (k->env.cri_socket || k->env.cri_auto) {
		ret = k8s_cri_start(&k->cri);
		if (ret)
			goto thread;
	}
	if (k->env.api_server) {
		ret = k8s_api_start(&k->api);
		if (ret)
			goto thread;
	}
	return &k->src;
thread:
	snprintf(err, errlen, "k8s: cannot start a thread: %s", strerror(-ret));
fail:
	k8s_destroy(k);
	errno = -ret;
	return NULL;
}

void ag_k8s_options_from_config(const struct ag_config *cfg, struct ag_k8s_options *opt)
{
	const struct ag_cfg_kubernetes *kc = &cfg->kubernetes;

	memset(opt, 0, sizeof(*opt));
	opt->node_name = kc->node_name;
	opt->podresources_socket = kc->podresources_socket;
	opt->cri_socket = kc->cri_socket;
	opt->api_server = kc->api_server;
	opt->token_file = kc->token_file;
	opt->ca_file = kc->ca_file;
	opt->proc = cfg->host.proc;
	opt->sys = cfg->host.sys;
	opt->cdi_dirs = (const char *const *)cfg->host.cdi_dirs;
	opt->n_cdi_dirs = cfg->host.n_cdi_dirs;
	opt->bundle_dirs = (const char *const *)cfg->host.bundle_dirs;
	opt->n_bundle_dirs = cfg->host.n_bundle_dirs;
	opt->exempt = cfg->exempt_k8s;
	opt->n_exempt = cfg->n_exempt_k8s;
}
