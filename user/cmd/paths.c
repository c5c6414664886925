// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `accelguard paths` (paths.h). The defaults here are the ones the modules use; tests/deploy/
 * checks that each is still a literal of user/ and that no other host path literal is missing. */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "pins.h"
#include "selftest.h"

static bool off(const char *s)
{
	return s && !strcmp(s, "off");
}

static void line(const char *path, const char *mode, const char *what)
{
	printf("%s\t%s\t%s\n", path, mode, what);
}

/* the directory of a socket (the peer recreates the socket: mount its directory) */
static void dir_of(const char *sock, const char *what)
{
	char *d = strdup(sock);

	if (d)
		line(dirname(d), "ro", what);
	free(d);
}

/* A path of sysfs: under host.sys when the configuration names the host's ("ro"), else the
 * container's own sysfs, whose devices and drivers are the host's ("sysfs"). path: under /sys. */
static void sys_line(const struct ag_config *cfg, const char *path, const char *what)
{
	char buf[4096];

	if (!cfg->host.sys) {
		line(path, "sysfs", what);
		return;
	}
	snprintf(buf, sizeof(buf), "%s%s", cfg->host.sys, path + strlen("/sys"));
	line(buf, "ro", what);
}

/* a file under the host's procfs */
static void proc_line(const char *proc, const char *rel, const char *what)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s%s", proc, rel);
	line(buf, "hostPID", what);
}

/* what every agent reads: cgroups, BTF, the LSMs, tracefs, VFIO, procfs */
static void paths_system(const struct ag_config *cfg, const char *proc)
{
	line("/sys/fs/cgroup", "ro", "the cgroup2 hierarchy (found in mountinfo): tenant cgroup ids, the cgroup/dev program's attach to the root");
	line("/sys/kernel/btf", "ro", "kernel BTF: CO-RE relocations, the probe of optional hooks");
	line("/sys/kernel/security", "ro", "securityfs: the active LSM list (lsm), for the probe report");
	line("/sys/kernel/tracing", "ro", "tracefs: tracepoint ids for tier 3 (libbpf)");
	sys_line(cfg, "/sys/class/vfio", "VFIO groups (/dev/vfio/N, noiommu-N): which hold a GPU, classed vfio-gpu (a Kata-style VMM opens them)");
	sys_line(cfg, "/sys/kernel/iommu_groups", "each VFIO group's PCI devices: class and vendor (a GPU or not), its address for a passthrough plugin's device id");
	sys_line(cfg, "/sys/class/vfio-dev", "iommufd's per-device VFIO nodes (/dev/vfio/devices/vfioN) and their PCI devices: the same");
	line("/proc", "hostPID", "every process's fds at start (the scan of held descriptors), /proc/PID/cgroup, /proc/self/mountinfo, /proc/1/ns/cgroup (the host's cgroup namespace)");
	proc_line(proc, "/devices", "the majors of dynamic drivers (watched every 500 ms)");
}

/* the kubelet's and the runtime's sockets */
static void paths_sockets(const struct ag_cfg_kubernetes *k)
{
	if (!off(k->podresources_socket))
		dir_of(k->podresources_socket ? k->podresources_socket
					      : "/var/lib/kubelet/pod-resources/kubelet.sock",
		       "the kubelet's PodResources socket (gRPC List/Get)");
	if (k->cri_socket && !off(k->cri_socket)) {
		dir_of(k->cri_socket, "the container runtime's CRI socket");
	} else if (!k->cri_socket) {
		dir_of("/run/containerd/containerd.sock", "containerd's CRI socket (the first default)");
		dir_of("/var/run/crio/crio.sock", "CRI-O's CRI socket (the second default)");
	}
}

/* the runtimes' OCI bundles and the CDI specs */
static void paths_bundles(const struct ag_config *cfg)
{
	if (cfg->host.n_bundle_dirs) {
		for (size_t i = 0; i < cfg->host.n_bundle_dirs; i++)
			line(cfg->host.bundle_dirs[i], "ro", "OCI bundles (config.json): a new container's identity and exposure before it runs");
	} else {
		line("/run/containerd/io.containerd.runtime.v2.task/k8s.io", "ro",
		     "containerd's OCI bundles (config.json): a new container's identity and exposure before it runs");
		line("/run/containers/storage/overlay-containers", "ro",
		     "CRI-O's OCI bundles (userdata/config.json): the same");
	}
	if (cfg->host.n_cdi_dirs) {
		for (size_t i = 0; i < cfg->host.n_cdi_dirs; i++)
			line(cfg->host.cdi_dirs[i], "ro", "CDI specs: CDI names -> device nodes");
	} else {
		line("/etc/cdi", "ro", "CDI specs: CDI names -> device nodes");
		line("/var/run/cdi", "ro", "CDI specs (DRA drivers write theirs here; wins over /etc/cdi)");
	}
}

/* what the Kubernetes source reads: the drivers' tables, the sockets, the bundles, CDI */
static void paths_kubernetes(const struct ag_config *cfg, const char *proc)
{
	proc_line(proc, "/driver/nvidia/gpus", "NVIDIA procfs: GPU UUID and PCI address -> device minor");
	proc_line(proc, "/driver/nvidia-caps/mig-minors", "NVIDIA procfs: MIG GPU and compute instances -> nvidia-caps minors");
	/* the container's own sysfs shows the host's devices and drivers: no mount */
	sys_line(cfg, "/sys/module/amdgpu/drivers", "amdgpu's devices and their DRM nodes: the AMD runtime's GPU indexes, for AMD_VISIBLE_DEVICES (exposure)");
	sys_line(cfg, "/sys/devices/platform", "amdgpu's partitions (amdgpu_xcp_*): the same");
	sys_line(cfg, "/sys/class/kfd/kfd/topology/nodes", "the KFD topology: a render node's PCI device and unique id, for AMD_VISIBLE_DEVICES");
	paths_sockets(&cfg->kubernetes);
	paths_bundles(cfg);
}

/* what the agent writes: the events, the pins, the journal, the control socket, the probe */
static void paths_written(const struct ag_config *cfg, const char *events)
{
	if (events && strcmp(events, "-")) {
		char *d = strdup(events);

		if (d)
			line(dirname(d), "rw", "the event journal (appended)");
		free(d);
	}
	if (!cfg->pin_dir || strcmp(cfg->pin_dir, "off"))
		line("/sys/fs/bpf", "rw", cfg->pin_dir ? "bpffs: enforce mode's pins (pin_dir), removed by audit mode and uninstall"
						      : "bpffs: enforce mode's pins in " AG_PIN_DIR_DEFAULT
							", removed by audit mode and uninstall");
	if (cfg->journal.present) {
		line(cfg->journal.dir, "rw", "the durable journal (segments, compressed, retention): journal, selftest, evidence");
		/* the control socket is made only with a journal */
		if (!cfg->selftest.socket || strcmp(cfg->selftest.socket, "off"))
			line("/run", "own", "the control socket (" AG_SELFTEST_SOCKET " by default) and the self-test's scratch nodes");
	}
	/* the probe file is made in TMPDIR, /run or /tmp: the container's own */
	line("/tmp", "own", "the tier probe's scratch file (mkstemp), the container's own");
}

int ag_cmd_paths(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "events", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ag_config cfg = { 0 };
	const char *config = NULL, *events = NULL, *proc;
	char err[1024];
	int c;

	while ((c = getopt_long(argc, argv, "c:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'e':
			events = optarg;
			break;
		case 'h':
			printf("Usage: accelguard paths [--config FILE] [--events PATH]\n\n"
			       "Print every host path `accelguard run` with these options opens, one per line:\n"
			       "PATH, the access (ro, rw; hostPID: through the host PID namespace's procfs;\n"
			       "own: the container's own; sysfs: the container's own sysfs, whose devices and\n"
			       "drivers are the host's), and what needs it.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (config && ag_config_load(config, &cfg, err, sizeof(err))) {
		ag_err("config: %s", err);
		return 1;
	}
	proc = cfg.host.proc ? cfg.host.proc : "/proc";
	paths_system(&cfg, proc);
	if (cfg.kubernetes.present)
		paths_kubernetes(&cfg, proc);
	paths_written(&cfg, events);
	ag_config_free(&cfg);
	return 0;
}
