// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The OCI bundle's config.json: identity, devices, device rules, capabilities, visibility
 * variables and /dev mounts of a container (oci.h). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "oci.h"

const char *const k8s_oci_default_dirs[] = {
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io", /* containerd (CRI namespace) */
	"/run/containers/storage/overlay-containers",           /* CRI-O runroot */
	NULL,
};

void k8s_oci_free(struct k8s_oci *o)
{
	free(o->file);
	free(o->pod_ns);
	free(o->pod_name);
	free(o->pod_uid);
	free(o->container_name);
	free(o->sandbox_id);
	for (size_t i = 0; i < o->n_devs; i++)
		free(o->devs[i].path);
	free(o->devs);
	free(o->rules);
	for (size_t i = 0; i < o->n_dev_mounts; i++)
		free(o->dev_mounts[i]);
	free(o->dev_mounts);
	free(o->env_nvidia);
	free(o->env_amd);
	free(o->env_amd_var);
	free(o->env_cuda_version);
	memset(o, 0, sizeof(*o));
}

static json_object *get(json_object *o, const char *k, json_type t)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

static const char *gets(json_object *o, const char *k)
{
	json_object *v = get(o, k, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* an integer field: 0 and *v, 1 when absent, -1 when present but no integer in [lo, hi] */
static int geti(json_object *o, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
	json_object *x;

	if (!o || !json_object_object_get_ex(o, k, &x) || json_object_is_type(x, json_type_null))
		return 1;
	if (!json_object_is_type(x, json_type_int))
		return -1;
	errno = 0;
	*v = json_object_get_int64(x);
	return errno || *v < lo || *v > hi ? -1 : 0;
}

#define FAIL(code, ...)                                       \
	do {                                                  \
		snprintf(err, errlen, __VA_ARGS__);           \
		ret = (code);                                 \
		goto out;                                     \
	} while (0)

static int sdup(char **out, const char *s)
{
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_identity(struct k8s_oci *o, json_object *ann)
{
	const char *ctype = gets(ann, "io.kubernetes.cri.container-type");
	int r = 0;

	if (ctype) { /* containerd's CRI (pkg/cri/annotations) */
		o->runtime = AG_RT_CONTAINERD;
		o->sandbox = !strcmp(ctype, "sandbox");
		r = r ?: sdup(&o->pod_ns, gets(ann, "io.kubernetes.cri.sandbox-namespace"));
		r = r ?: sdup(&o->pod_name, gets(ann, "io.kubernetes.cri.sandbox-name"));
		r = r ?: sdup(&o->pod_uid, gets(ann, "io.kubernetes.cri.sandbox-uid"));
		r = r ?: sdup(&o->container_name, gets(ann, "io.kubernetes.cri.container-name"));
		r = r ?: sdup(&o->sandbox_id, gets(ann, "io.kubernetes.cri.sandbox-id"));
	} else if ((ctype = gets(ann, "io.kubernetes.cri-o.ContainerType"))) {
		/* CRI-O copies the kubelet's io.kubernetes.* labels into the annotations */
		o->runtime = AG_RT_CRIO;
		o->sandbox = !strcmp(ctype, "sandbox");
		r = r ?: sdup(&o->pod_ns, gets(ann, "io.kubernetes.pod.namespace"));
		r = r ?: sdup(&o->pod_name, gets(ann, "io.kubernetes.pod.name"));
		r = r ?: sdup(&o->pod_uid, gets(ann, "io.kubernetes.pod.uid"));
		r = r ?: sdup(&o->container_name, gets(ann, "io.kubernetes.container.name"));
		r = r ?: sdup(&o->sandbox_id, gets(ann, "io.kubernetes.cri-o.SandboxID"));
	}
	if (r)
		return r;
	o->has_identity = o->pod_ns && *o->pod_ns && o->pod_name && *o->pod_name &&
			  (o->sandbox || (o->container_name && *o->container_name));
	return 0;
}

static bool dev_path(const char *p)
{
	return p && (!strcmp(p, "/dev") || !strncmp(p, "/dev/", 5));
}

/* Each section's parser: 0, or -errno with err naming the file (name) and the cause. */
#define SECTION_ARGS struct k8s_oci *o, json_object *a, const char *name, char *err, size_t errlen
#define NOMEM() FAIL(-ENOMEM, "oci: %s: out of memory", name)

static int parse_process(struct k8s_oci *o, json_object *proc, const char *name, char *err,
			 size_t errlen)
{
	json_object *a = get(get(proc, "capabilities", json_type_object), "bounding", json_type_array);
	int ret = 0;

	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		const char *c = json_object_get_string(json_object_array_get_idx(a, i));

		o->cap_mknod |= c && !strcmp(c, "CAP_MKNOD");
		o->cap_sys_admin |= c && !strcmp(c, "CAP_SYS_ADMIN");
	}
	a = get(proc, "env", json_type_array);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);
		const char *e = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		const char *eq = e ? strchr(e, '=') : NULL;
		char **dst = NULL;

		if (!eq)
			continue;
		if (!strncmp(e, "NVIDIA_VISIBLE_DEVICES=", 23)) {
			dst = &o->env_nvidia;
		} else if (!strncmp(e, "CUDA_VERSION=", 13)) {
			dst = &o->env_cuda_version;
		} else if (!strncmp(e, "NVIDIA_REQUIRE_CUDA=", 20)) {
			o->env_require_cuda = eq[1] != 0; /* the toolkit: set and not empty */
			continue;
		} else if (!strncmp(e, "AMD_VISIBLE_DEVICES=", 20) || !strncmp(e, "DOCKER_RESOURCE_", 16)) {
			/* the AMD runtime takes the last of these, whichever its name */
			dst = &o->env_amd;
			free(o->env_amd_var);
			if (!(o->env_amd_var = strndup(e, (size_t)(eq - e))))
				NOMEM();
		}
		if (!dst)
			continue;
		free(*dst); /* the last one wins, as in execve's environment lookup */
		if (!(*dst = strdup(eq + 1)))
			NOMEM();
	}
out:
	return ret;
}

static int parse_devices(SECTION_ARGS)
{
	size_t n = json_object_array_length(a);
	int ret = 0;

	if (n > K8S_OCI_MAX_DEVS)
		FAIL(-E2BIG, "oci: %s: linux.devices has %zu entries, more than %u", name, n,
		     K8S_OCI_MAX_DEVS);
	if (!(o->devs = calloc(n ? n : 1, sizeof(*o->devs))))
		NOMEM();
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(a, i);
		const char *p = gets(d, "path"), *t = gets(d, "type");
		int64_t ma = 0, mi = 0;

		if (!p || !t || strlen(t) != 1 || !strchr("cbup", *t))
			FAIL(-EINVAL, "oci: %s: linux.devices[%zu]: no path or no type c, b, u or p",
			     name, i);
		if (*t != 'p' && (geti(d, "major", 0, 4095, &ma) || geti(d, "minor", 0, 0xfffff, &mi)))
			FAIL(-EINVAL, "oci: %s: linux.devices[%zu] (%.64s): major or minor missing or "
			     "out of range", name, i, p);
		if (!(o->devs[o->n_devs].path = strdup(p)))
			NOMEM();
		o->devs[o->n_devs].type = *t;
		o->devs[o->n_devs].major = (uint32_t)ma;
		o->devs[o->n_devs++].minor = (uint32_t)mi;
	}
out:
	return ret;
}

static int parse_rules(SECTION_ARGS)
{
	size_t n = json_object_array_length(a);
	int ret = 0;

	if (n > K8S_OCI_MAX_RULES)
		FAIL(-E2BIG, "oci: %s: linux.resources.devices has %zu rules, more than %u", name, n,
		     K8S_OCI_MAX_RULES);
	if (!(o->rules = calloc(n ? n : 1, sizeof(*o->rules))))
		NOMEM();
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(a, i), *al;
		struct k8s_oci_rule *r = &o->rules[o->n_rules];
		const char *t = gets(d, "type"), *acc = gets(d, "access");
		int g1, g2;

		if (!json_object_object_get_ex(d, "allow", &al) ||
		    !json_object_is_type(al, json_type_boolean))
			FAIL(-EINVAL, "oci: %s: linux.resources.devices[%zu]: no boolean allow", name, i);
		r->allow = json_object_get_boolean(al);
		if (t && (strlen(t) != 1 || !strchr("acb", *t)))
			FAIL(-EINVAL, "oci: %s: linux.resources.devices[%zu]: type %.16s is none of a, "
			     "c, b", name, i, t);
		r->type = t ? *t : 'a';
		g1 = geti(d, "major", -1, 4095, &r->major);
		g2 = geti(d, "minor", -1, 0xfffff, &r->minor);
		if (g1 < 0 || g2 < 0)
			FAIL(-EINVAL, "oci: %s: linux.resources.devices[%zu]: major or minor not an "
			     "integer in range", name, i);
		if (g1)
			r->major = K8S_OCI_ANY;
		if (g2)
			r->minor = K8S_OCI_ANY;
		if (!acc)
			acc = "rwm"; /* the spec: absent access is all */
		if (strlen(acc) > 3 || strspn(acc, "rwm") != strlen(acc))
			FAIL(-EINVAL, "oci: %s: linux.resources.devices[%zu]: access %.16s is not made "
			     "of r, w, m", name, i, acc);
		strcpy(r->access, acc);
		o->n_rules++;
	}
out:
	return ret;
}

static int parse_mounts(SECTION_ARGS)
{
	size_t n = json_object_array_length(a);
	int ret = 0;

	if (n > K8S_OCI_MAX_MOUNTS)
		FAIL(-E2BIG, "oci: %s: mounts has %zu entries, more than %u", name, n,
		     K8S_OCI_MAX_MOUNTS);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(a, i);
		json_object *opts = get(m, "options", json_type_array);
		const char *src = gets(m, "source"), *type = gets(m, "type");
		bool bind = type && !strcmp(type, "bind");
		char **nm;

		for (size_t j = 0; opts && j < json_object_array_length(opts); j++) {
			const char *op = json_object_get_string(json_object_array_get_idx(opts, j));

			bind |= op && (!strcmp(op, "bind") || !strcmp(op, "rbind"));
		}
		/* a tmpfs or devtmpfs "/dev" of the runtime is its own, empty one: only a bind of
		 * the host's /dev (or a node or directory under it) exposes nodes */
		if (!bind || !dev_path(src))
			continue;
		if (!(nm = realloc(o->dev_mounts, (o->n_dev_mounts + 1) * sizeof(*nm))))
			NOMEM();
		o->dev_mounts = nm;
		if (!(nm[o->n_dev_mounts] = strdup(src)))
			NOMEM();
		o->n_dev_mounts++;
	}
out:
	return ret;
}

/* The document: one JSON object, nothing but white space after it (buf need not end in NUL). */
static json_object *parse_json(const char *buf, size_t len, const char *name, char *err,
			       size_t errlen, int *retp)
{
	json_tokener *tok = json_tokener_new_ex(K8S_OCI_MAX_DEPTH);
	json_object *root = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int ret = 0;

	if (!tok)
		FAIL(-ENOMEM, "oci: %s: out of memory", name);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!root || jerr != json_tokener_success)
		FAIL(-EINVAL, "oci: %s: not JSON: %s at byte %zu", name,
		     jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr),
		     end);
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", buf[i]) || !buf[i])
			FAIL(-EINVAL, "oci: %s: bytes after the JSON object at byte %zu", name, end);
	if (!json_object_is_type(root, json_type_object))
		FAIL(-EINVAL, "oci: %s: not a JSON object", name);
	if (!gets(root, "ociVersion"))
		FAIL(-EINVAL, "oci: %s: no ociVersion: not an OCI runtime config", name);
out:
	if (tok)
		json_tokener_free(tok);
	*retp = ret;
	if (ret) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

int k8s_oci_parse(const char *buf, size_t len, const char *name, struct k8s_oci *o, char *err,
		  size_t errlen)
{
	json_object *root = NULL, *linux_, *a;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	if (len > K8S_OCI_MAX_BYTES)
		FAIL(-E2BIG, "oci: %s: %zu bytes, more than %u", name, len, K8S_OCI_MAX_BYTES);
	if (!(root = parse_json(buf, len, name, err, errlen, &ret)))
		goto out;
	if ((ret = parse_identity(o, get(root, "annotations", json_type_object))))
		NOMEM();
	linux_ = get(root, "linux", json_type_object);
	ret = parse_process(o, get(root, "process", json_type_object), name, err, errlen);
	if (!ret && (a = get(linux_, "devices", json_type_array)))
		ret = parse_devices(o, a, name, err, errlen);
	if (!ret && (a = get(get(linux_, "resources", json_type_object), "devices", json_type_array)))
		ret = parse_rules(o, a, name, err, errlen);
	if (!ret && (a = get(root, "mounts", json_type_array)))
		ret = parse_mounts(o, a, name, err, errlen);
	if (!ret && !(o->file = strdup(name)))
		NOMEM();
out:
	if (ret)
		k8s_oci_free(o);
	json_object_put(root);
	return ret;
}

int k8s_oci_load(const char *file, struct k8s_oci *o, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, ret;

	memset(o, 0, sizeof(*o));
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "oci: %s: %s", file, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "oci: %s: not a regular file", file);
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > K8S_OCI_MAX_BYTES) {
		snprintf(err, errlen, "oci: %s: %lld bytes, more than %u", file, (long long)st.st_size,
			 K8S_OCI_MAX_BYTES);
		close(fd);
		return -E2BIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "oci: %s: out of memory", file);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "oci: %s: read: %s", file,
				 r < 0 ? strerror(errno) : "shorter than its size");
			close(fd);
			free(buf);
			return ret;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	ret = k8s_oci_parse(buf, got, file, o, err, errlen);
	free(buf);
	return ret;
}

int k8s_oci_find(const char *const *dirs, size_t n, const char *id, char *out, size_t outlen)
{
	static const char *const tails[] = { "config.json", "userdata/config.json" };

	/* the id comes from a cgroup name: a plain name, never a path */
	if (!id || !*id || strlen(id) > 128 || strspn(id, "0123456789abcdefABCDEF-_") != strlen(id))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		for (size_t t = 0; t < 2; t++) {
			if ((size_t)snprintf(out, outlen, "%s/%s/%s", dirs[i], id, tails[t]) >= outlen)
				continue;
			if (!access(out, F_OK))
				return 0;
		}
	}
	return -ENOENT;
}

static bool rule_matches(const struct k8s_oci_rule *r, uint32_t major, uint32_t minor)
{
	return (r->type == 'a' || r->type == 'c') &&
	       (r->major == K8S_OCI_ANY || r->major == major) &&
	       (r->minor == K8S_OCI_ANY || r->minor == minor);
}

const struct k8s_oci_rule *k8s_oci_rule_for(const struct k8s_oci *o, uint32_t major, uint32_t minor)
{
	const struct k8s_oci_rule *last = NULL;

	/* runc's device rules: default deny, applied in order, the last match decides; an allow
	 * of "m" alone (mknod) opens nothing */
	for (size_t i = 0; i < o->n_rules; i++) {
		const struct k8s_oci_rule *r = &o->rules[i];

		if (!rule_matches(r, major, minor))
			continue;
		if (r->allow && (strchr(r->access, 'r') || strchr(r->access, 'w')))
			last = r;
		else if (!r->allow && (strchr(r->access, 'r') || strchr(r->access, 'w')))
			last = NULL;
	}
	return last;
}

void k8s_oci_rule_str(const struct k8s_oci_rule *r, char *out, size_t outlen)
{
	char ma[24] = "*", mi[24] = "*";

	if (r->major != K8S_OCI_ANY)
		snprintf(ma, sizeof(ma), "%lld", (long long)r->major);
	if (r->minor != K8S_OCI_ANY)
		snprintf(mi, sizeof(mi), "%lld", (long long)r->minor);
	snprintf(out, outlen, "%c %s:%s %s", r->type, ma, mi, r->access);
}

bool k8s_oci_privileged(const struct k8s_oci *o)
{
	const struct k8s_oci_rule *last = NULL;

	for (size_t i = 0; i < o->n_rules; i++)
		if (o->rules[i].type == 'a' && o->rules[i].major == K8S_OCI_ANY &&
		    o->rules[i].minor == K8S_OCI_ANY)
			last = &o->rules[i];
	return last && last->allow && strchr(last->access, 'r') && strchr(last->access, 'w') &&
	       o->cap_sys_admin;
}
