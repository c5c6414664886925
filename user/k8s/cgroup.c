// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubelet pod cgroup paths. The shapes (FACTS.md, kubelet pkg/kubelet/cm/cgroup_manager_linux.go
 * and the runtimes' cgroup naming):
 *   cgroupfs: /kubepods[/burstable|/besteffort]/pod<uid>/<id> (CRI-O: crio-<id>)
 *   systemd:  /kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_>.slice/
 *             {cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope | crio-conmon-<id>.scope}
 * with the kubepods cgroup possibly below a custom root (kind: /kubelet.slice/kubelet-kubepods.slice,
 * or /kubelet/kubepods with cgroupfs) and the whole tree possibly below a node container's cgroup.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"

const char *const ag_k8s_default_tenant_roots[] = {
	"/kubepods",
	"/kubepods.slice",
	"/kubelet/kubepods",
	"/kubelet.slice/kubelet-kubepods.slice",
	NULL,
};

const char *ag_k8s_qos_name(int qos)
{
	switch (qos) {
	case AG_QOS_GUARANTEED:
		return "guaranteed";
	case AG_QOS_BURSTABLE:
		return "burstable";
	case AG_QOS_BESTEFFORT:
		return "besteffort";
	default:
		return "";
	}
}

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n >= m && !memcmp(s + n - m, suf, m);
}

static bool has_prefix(const char *s, size_t n, const char *pre)
{
	size_t m = strlen(pre);

	return n >= m && !memcmp(s, pre, m);
}

/* The kubepods cgroup itself: "kubepods" (cgroupfs) or "kubepods.slice" / "<root>-kubepods.slice". */
static bool is_kubepods(const char *c, size_t n)
{
	if (n == 8 && !memcmp(c, "kubepods", 8))
		return true;
	return (n == 14 && !memcmp(c, "kubepods.slice", 14)) || has_suffix(c, n, "-kubepods.slice");
}

static int qos_of(const char *c, size_t n)
{
	if ((n == 9 && !memcmp(c, "burstable", 9)) || has_suffix(c, n, "-burstable.slice"))
		return AG_QOS_BURSTABLE;
	if ((n == 10 && !memcmp(c, "besteffort", 10)) || has_suffix(c, n, "-besteffort.slice"))
		return AG_QOS_BESTEFFORT;
	return AG_QOS_NONE;
}

/* A pod UID as the kubelet writes it in a cgroup name: a UUID (36) or, for static pods, a hash
 * (32 hex digits); systemd slice names carry '_' for '-'. */
static int copy_uid(const char *s, size_t n, char *out)
{
	size_t i;

	if (n < 32 || n > 36)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '_')
			ch = '-';
		if (!isxdigit((unsigned char)ch) && ch != '-')
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)ch);
	}
	out[n] = '\0';
	return 0;
}

/* "pod<uid>" (cgroupfs) or "<anything>-pod<uid_>.slice" (systemd). */
static int pod_of(const char *c, size_t n, char *uid)
{
	if (has_prefix(c, n, "pod"))
		return copy_uid(c + 3, n - 3, uid);
	if (has_suffix(c, n, ".slice")) {
		size_t end = n - 6, i;

		/* the last "-pod" of the name: QoS and root prefixes come before it */
		for (i = end; i >= 4; i--) {
			if (!memcmp(c + i - 4, "-pod", 4))
				return copy_uid(c + i, end - i, uid);
		}
	}
	return -EINVAL;
}

static bool is_cid(const char *s, size_t n)
{
	size_t i;

	if (n < 12 || n >= AG_CID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

enum cont_match { C_NO = 0, C_YES = 1, C_CONMON = 2 };

/* A container component: returns C_YES and fills id/runtime, C_CONMON for CRI-O's monitor scope. */
static int container_of(const char *c, size_t n, char *id, int *runtime)
{
	static const struct {
		const char *prefix;
		int runtime;
	} pre[] = {
		{ "cri-containerd-", AG_RT_CONTAINERD },
		{ "crio-", AG_RT_CRIO },
		{ "docker-", AG_RT_DOCKER },
		{ "", AG_RT_UNKNOWN },
	};
	size_t i;

	if (has_suffix(c, n, ".scope"))
		n -= 6;
	if (has_prefix(c, n, "crio-conmon-"))
		return C_CONMON;
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t m = strlen(pre[i].prefix);

		if (!has_prefix(c, n, pre[i].prefix) || !is_cid(c + m, n - m))
			continue;
		for (size_t k = 0; k < n - m; k++)
			id[k] = (char)tolower((unsigned char)c[m + k]);
		id[n - m] = '\0';
		*runtime = pre[i].runtime;
		return C_YES;
	}
	return C_NO;
}

/* A container outside Kubernetes: docker-<id>.scope, or a cgroupfs docker/<id>. */
static int bare_container(const char *comp[], const size_t len[], int n, struct ag_k8s_cgroup *out)
{
	int i;

	for (i = 0; i < n; i++) {
		const char *c = comp[i];
		size_t l = len[i];
		int rt;

		if (has_suffix(c, l, ".scope") && container_of(c, l, out->container_id, &rt) == C_YES &&
		    rt != AG_RT_UNKNOWN) {
			out->runtime = rt;
			out->kind = AG_K8S_CG_BARE;
			return 0;
		}
		if (i > 0 && len[i - 1] == 6 && !memcmp(comp[i - 1], "docker", 6) && is_cid(c, l)) {
			container_of(c, l, out->container_id, &rt);
			out->runtime = AG_RT_DOCKER;
			out->kind = AG_K8S_CG_BARE;
			return 0;
		}
	}
	return 0;
}

#define MAX_COMPONENTS 64

int ag_k8s_cgroup_parse(const char *path, struct ag_k8s_cgroup *out)
{
	const char *comp[MAX_COMPONENTS];
	size_t len[MAX_COMPONENTS];
	int n = 0, i, k = -1;
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return -EINVAL;
	for (p = path; *p;) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		if (n == MAX_COMPONENTS)
			return 0; /* deeper than any kubelet layout */
		comp[n] = p;
		len[n++] = (size_t)(e - p);
		p = e;
	}
	for (i = 0; i < n; i++) {
		if (is_kubepods(comp[i], len[i])) {
			k = i;
			break;
		}
	}
	if (k < 0)
		return bare_container(comp, len, n, out);

	out->kind = AG_K8S_CG_KUBEPODS;
	i = k + 1;
	if (i == n)
		return 0;
	out->qos = qos_of(comp[i], len[i]);
	if (out->qos != AG_QOS_NONE) {
		if (++i == n)
			return 0;
	}
	if (pod_of(comp[i], len[i], out->pod_uid) < 0) {
		/* something else below kubepods: not a pod cgroup */
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (out->qos == AG_QOS_NONE)
		out->qos = AG_QOS_GUARANTEED;
	out->kind = AG_K8S_CG_POD;
	if (++i == n)
		return 0;
	if (container_of(comp[i], len[i], out->container_id, &out->runtime) == C_YES)
		out->kind = AG_K8S_CG_CONTAINER;
	return 0;
}
