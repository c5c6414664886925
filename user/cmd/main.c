// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* accelguard: one binary, sub-commands dispatched from a table (bpftool-style). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "accelguard.h"
#include "agent.h"
#include "cgroups.h"
#include "config.h"
#include "evidence.h"
#include "journal.h"
#include "jsonw.h"
#include "loader.h"
#include "selftest_cmd.h"
#include "log.h"
#include "paths.h"
#include "pins.h"
#include "util.h"

static int usage_run(FILE *f)
{
	fprintf(f,
		"Usage: accelguard run [--config FILE] [--mode audit|enforce] [--events PATH|-]\n"
		"                      [--duration SECONDS] [--tier lsm|fmod_ret|tracepoint]\n"
		"                      [--max-cgroups N] [--ringbuf-kb N] [--pin-dir DIR|off] [-v]\n"
		"\n"
		"Watch every access to accelerator device nodes, judge it against the tenants'\n"
		"allocations, and write one JSON event per line (to stdout by default). Runs until\n"
		"SIGINT or SIGTERM (or --duration), then writes a summary event and exits 0.\n"
		"\n"
		"  -c, --config PATH     YAML configuration (tenants, allocations, exempt, devices), or a\n"
		"                        directory whose *.yaml files are read in order, each over the last\n"
		"  -m, --mode MODE       audit (flag) or enforce (deny / kill); overrides the file\n"
		"  -e, --events PATH     append events to PATH ('-': stdout)\n"
		"  -d, --duration S      stop after S seconds\n"
		"      --tier TIER       use this tier instead of probing (fails if it does not work)\n"
		"      --max-cgroups N   policy map size (default 16384)\n"
		"      --ringbuf-kb N    ring buffer size in KiB, a power of two (default 2048)\n"
		"      --pin-dir DIR     enforce mode pins its maps and links here, so that they\n"
		"                        outlive the agent (default " AG_PIN_DIR_DEFAULT "; off: none)\n"
		"  -v, --verbose         debug logging, libbpf's included\n");
	return f == stdout ? 0 : 2;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "events", required_argument, NULL, 'e' },
		{ "duration", required_argument, NULL, 'd' },
		{ "tier", required_argument, NULL, 't' },
		{ "max-cgroups", required_argument, NULL, 'M' },
		{ "ringbuf-kb", required_argument, NULL, 'R' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ag_run_opts o = { .mode = -1 };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "c:m:e:d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'm':
			o.mode = ag_mode_parse(optarg);
			if (o.mode < 0) {
				ag_err("run: --mode takes audit or enforce, not '%s'", optarg);
				return 2;
			}
			break;
		case 'e':
			o.events = optarg;
			break;
		case 'd':
			o.duration = strtod(optarg, &end);
			if (*end || o.duration <= 0) {
				ag_err("run: --duration takes a positive number of seconds, not '%s'", optarg);
				return 2;
			}
			break;
		case 't':
			o.force_tier = ag_tier_parse(optarg);
			if (o.force_tier < 0) {
				ag_err("run: --tier takes lsm, fmod_ret or tracepoint, not '%s'", optarg);
				return 2;
			}
			break;
		case 'M':
		case 'R': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !v || v > (1u << 24)) {
				ag_err("run: --%s takes a positive number, not '%s'",
				       c == 'M' ? "max-cgroups" : "ringbuf-kb", optarg);
				return 2;
			}
			if (c == 'R' && (v & (v - 1))) {
				ag_err("run: --ringbuf-kb must be a power of two, not %lu", v);
				return 2;
			}
			if (c == 'M')
				o.max_cgroups = v;
			else
				o.ringbuf_kb = v;
			break;
		}
		case 'P':
			if (optarg[0] != '/' && strcmp(optarg, "off")) {
				ag_err("run: --pin-dir takes an absolute path or off, not '%s'", optarg);
				return 2;
			}
			o.pin_dir = optarg;
			break;
		case 'v':
			ag_log_level = AG_LOG_DEBUG;
			break;
		case 'h':
			return usage_run(stdout);
		default:
			return usage_run(stderr);
		}
	}
	if (optind < argc) {
		ag_err("run: unexpected argument '%s'", argv[optind]);
		return usage_run(stderr);
	}
	return ag_run(&o);
}

static void print_tier_json(struct jw *w, const char *name, const struct ag_tier_report *t)
{
	jw_keys(w, name);
	jw_obj_open(w);
	jw_kbool(w, "loaded", t->loaded);
	jw_kbool(w, "attached", t->attached);
	jw_kbool(w, "effective", t->effective);
	if (t->why[0])
		jw_kstr(w, "reason", t->why);
	jw_obj_close(w);
}

static int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ag_probe_report r;
	char cg[4096] = "";
	bool json = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			ag_log_level = AG_LOG_DEBUG;
			break;
		case 'h':
			printf("Usage: accelguard probe [--json] [-v]\n\n"
			       "Load, attach and exercise each tier's programs on this kernel (probe by\n"
			       "effect) and print what works and the tier that 'run' would use.\n");
			return 0;
		default:
			return 2;
		}
	}
	ag_cgroup2_mount(cg, sizeof(cg));
	err = ag_bpf_probe(&r, cg);
	if (json) {
		struct jw w;

		jw_init(&w);
		jw_obj_open(&w);
		jw_kstr(&w, "tier", ag_tier_name(r.tier));
		jw_kstr(&w, "kernel", r.kernel);
		jw_kstr(&w, "lsm_list", r.lsm_list);
		jw_kstr(&w, "cgroup2", r.cgroup2);
		jw_kbool(&w, "cgroup_dev", r.cgroup_dev_attached);
		jw_key(&w, "tiers");
		jw_obj_open(&w);
		for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++)
			print_tier_json(&w, ag_tier_name(t), &r.t[t]);
		jw_obj_close(&w);
		jw_obj_close(&w);
		printf("%s\n", w.buf);
		jw_free(&w);
	} else {
		printf("kernel:      %s\n", r.kernel);
		printf("lsm list:    %s\n", r.lsm_list[0] ? r.lsm_list : "(unreadable)");
		printf("cgroup2:     %s\n", r.cgroup2[0] ? r.cgroup2 : "(not mounted)");
		for (int t = AG_TIER_LSM; t <= AG_TIER_TRACEPOINT; t++) {
			const struct ag_tier_report *x = &r.t[t];

			printf("tier %-10s %s%s%s\n", ag_tier_name(t),
			       x->effective || (t == AG_TIER_TRACEPOINT && x->loaded) ? "works"
											  : "no",
			       x->why[0] ? ": " : "", x->why);
		}
		printf("cgroup/dev:  %s\n", r.cgroup_dev_attached ? "attaches on the cgroup2 root" : "no");
		printf("tier:        %s\n", ag_tier_name(r.tier));
		if (ag_all_refused_eperm(&r))
			printf("every tier was refused with EPERM: run as root, or with CAP_BPF, "
			       "CAP_PERFMON, CAP_SYS_ADMIN and CAP_SYS_RESOURCE\n");
	}
	return err ? 1 : 0;
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: accelguard version\n\nPrint the version (git describe of the build).\n");
		return 0;
	}
	printf("accelguard %s\n", AG_VERSION);
	return 0;
}

/* `uninstall`: what enforce mode left pinned goes; the programs are detached with their links. */
static int cmd_uninstall(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL, *config = NULL;
	struct ag_config cfg = { 0 };
	unsigned int links, maps;
	char err[1024];
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			printf("Usage: accelguard uninstall [--pin-dir DIR] [--config FILE]\n\n"
			       "Remove every map, program and link that enforce mode pinned (in DIR, else\n"
			       "the configuration's pin_dir, else " AG_PIN_DIR_DEFAULT "): the programs are\n"
			       "detached once no running agent holds them. Stop the agent first.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!dir && config) {
		if (ag_config_load(config, &cfg, err, sizeof(err))) {
			ag_err("config: %s", err);
			return 1;
		}
		dir = cfg.pin_dir;
	}
	if (!dir)
		dir = AG_PIN_DIR_DEFAULT;
	if (!strcmp(dir, "off")) {
		printf("uninstall: pin_dir is off: nothing is pinned\n");
		r = 0;
		goto out;
	}
	r = ag_pins_uninstall(dir, &links, &maps);
	if (r == -ENOENT) {
		printf("uninstall: nothing pinned in %s\n", dir);
		r = 0;
	} else if (r) {
		ag_err("uninstall: %s: %s%s", dir, strerror(-r),
		       r == -ENOTSUP ? " (not on a bpf file system)" : "");
	} else {
		printf("uninstall: removed %u links and %u maps from %s\n", links, maps, dir);
	}
out:
	if (config)
		ag_config_free(&cfg);
	return r ? 1 : 0;
}

static int usage(FILE *f);

/* `evidence cluster` rolls the nodes' bundles up (evidence_cluster.c, which uses evidence.c's
 * bundles); every other `evidence` form is evidence.c's */
static int cmd_evidence(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "cluster"))
		return ag_evidence_cluster_cmd(argc - 1, argv + 1);
	return ag_evidence_cmd(argc, argv);
}

static int cmd_help(int argc, char **argv)
{
	return usage(stdout);
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "run", cmd_run, "watch and judge accelerator accesses (audit or enforce)" },
	{ "probe", cmd_probe, "what this kernel supports, and the tier run would use" },
	{ "paths", ag_cmd_paths, "the host paths run opens (for a container's mounts)" },
	{ "journal", ag_journal_cmd, "print the journal's events (--since, --until, --follow)" },
	{ "evidence", cmd_evidence, "write (or verify) an evidence bundle from the journal" },
	{ "selftest", ag_selftest_cmd, "prove isolation now, against the running agent" },
	{ "uninstall", cmd_uninstall, "remove what enforce mode pinned (detaches its programs)" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this text" },
};

static int usage(FILE *f)
{
	fprintf(f, "Usage: accelguard COMMAND [OPTIONS]   (accelguard COMMAND --help for more)\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	ag_log_setup_libbpf();
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(0, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	ag_err("unknown command '%s'", argv[1]);
	return usage(stderr);
}
