// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The journal sink and its reader (journal.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <zlib.h>
#include "config.h"
#include "journal.h"
#include "log.h"

#define SEG_PREFIX "seg-"
#define SEG_NAME_LEN 64
#define MAX_RECORD (1u << 20) /* a longer line is no event of ours: corrupt */

static __s64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__s64)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- segments in a directory ---- */

struct seg {
	char name[SEG_NAME_LEN]; /* without .gz */
	__s64 start_ns;
	bool gz, plain; /* which files exist */
	__u64 bytes;    /* of both */
};

static int seg_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seg *)a)->name, ((const struct seg *)b)->name);
}

/* Segments of dir, oldest first; *.tmp left by a crash removed when clean. */
static int list_segments(int dirfd, struct seg **out, size_t *n_out, bool clean)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct seg *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		char base[SEG_NAME_LEN];
		size_t l = strlen(e->d_name);
		struct stat st;
		bool gz = false;
		size_t i;

		if (strncmp(e->d_name, SEG_PREFIX, 4))
			continue;
		if (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")) {
			if (clean)
				unlinkat(dirfd, e->d_name, 0);
			continue;
		}
		if (l > 9 && !strcmp(e->d_name + l - 9, ".jsonl.gz")) {
			gz = true;
			l -= 3;
		} else if (l <= 6 || strcmp(e->d_name + l - 6, ".jsonl")) {
			continue;
		}
		if (l >= sizeof(base))
			continue;
		memcpy(base, e->d_name, l);
		base[l] = 0;
		for (i = 0; i < n && strcmp(v[i].name, base); i++)
			;
		if (i == n) {
			if (n == cap) {
				struct seg *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

				if (!nv) {
					free(v);
					closedir(d);
					return -ENOMEM;
				}
				v = nv;
			}
			memset(&v[n], 0, sizeof(v[n]));
			strcpy(v[n].name, base);
			v[n].start_ns = strtoll(base + 4, NULL, 10);
			n++;
		}
		if (gz)
			v[i].gz = true;
		else
			v[i].plain = true;
		if (!fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			v[i].bytes += st.st_size;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), seg_cmp);
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- the writer ---- */

struct journal {
	struct ag_journal_opts o;
	char dir[PATH_MAX];
	int dirfd;
	pthread_mutex_t mu; /* fd, dirty: the writer thread against the syncer */
	pthread_cond_t cv;
	pthread_t syncer;
	bool syncer_started, stop, dirty;
	int fd; /* the live segment, -1 when none could be opened */
	char live[SEG_NAME_LEN];
	__u64 live_bytes, live_opened_mono;
	__s64 last_start_ns;
	/* closed segments the flush thread compresses (then applies the retention), so that a
	 * rotation never stalls the writer; under mu */
	char pending[16][SEG_NAME_LEN];
	int n_pending;
	bool failing; /* writes fail (reported once per outage) */
	__u64 lost_in_outage;
	__u64 write_errors, recoveries, compress_errors, deleted, compressed;
};

/* Compress dir/name (a closed segment) into name.gz: .tmp, fsync, rename, then unlink the plain
 * file; on failure the plain one stays (a reader reads it as well). */
static int compress_segment(struct journal *j, const char *name)
{
	char tmp[SEG_NAME_LEN + 16], gzname[SEG_NAME_LEN + 8], buf[65536];
	int in = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
	gzFile gz = NULL;
	ssize_t k;

	snprintf(tmp, sizeof(tmp), "%s.gz.tmp", name);
	snprintf(gzname, sizeof(gzname), "%s.gz", name);
	if (in < 0)
		return -errno;
	out = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	gz = gzdopen(dup(out), "wb6");
	if (!gz) {
		r = -ENOMEM;
		goto out;
	}
	while ((k = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned int)k) != (int)k) {
			int e;

			gzerror(gz, &e);
			r = e == Z_ERRNO && errno ? -errno : -EIO;
			goto out;
		}
	}
	if (k < 0) {
		r = -errno;
		goto out;
	}
	k = gzclose(gz);
	gz = NULL;
	if (k != Z_OK) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	if (fsync(out) || renameat(j->dirfd, tmp, j->dirfd, gzname)) {
		r = -errno;
		goto out;
	}
	fsync(j->dirfd);
	unlinkat(j->dirfd, name, 0);
	j->compressed++;
out:
	if (gz)
		gzclose(gz);
	if (out >= 0)
		close(out);
	close(in);
	if (r) {
		unlinkat(j->dirfd, tmp, 0);
		if (!j->compress_errors++)
			ag_warn("journal: cannot compress %s/%s: %s; it stays uncompressed",
				j->dir, name, strerror(-r));
	}
	return r;
}

/* Delete the oldest closed segments while all together exceed max_bytes. */
static void retention(struct journal *j)
{
	struct seg *v;
	size_t n;
	__u64 total = 0;
	char live[SEG_NAME_LEN];

	pthread_mutex_lock(&j->mu);
	memcpy(live, j->live, sizeof(live));
	pthread_mutex_unlock(&j->mu);
	if (list_segments(j->dirfd, &v, &n, false))
		return;
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	for (size_t i = 0; i < n && total > j->o.max_bytes; i++) {
		char f[SEG_NAME_LEN + 8];

		if (!strcmp(v[i].name, live))
			continue;
		snprintf(f, sizeof(f), "%s.gz", v[i].name);
		unlinkat(j->dirfd, f, 0);
		unlinkat(j->dirfd, v[i].name, 0);
		total -= v[i].bytes;
		j->deleted++;
		ag_dbg("journal: retention: deleted %s/%s (%llu bytes)", j->dir, v[i].name,
			 (unsigned long long)v[i].bytes);
	}
	free(v);
}

/* Cut a segment back to its last '\n' (a torn last record of a crashed run). */
static void cut_torn_tail(struct journal *j, const char *name)
{
	int fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
	char buf[4096];
	off_t end;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	while (end > 0) {
		off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		ssize_t k = pread(fd, buf, (size_t)(end - from), from);

		if (k <= 0)
			break;
		for (ssize_t i = k - 1; i >= 0; i--) {
			if (buf[i] == '\n') {
				off_t keep = from + i + 1, size = lseek(fd, 0, SEEK_END);

				if (keep < size) {
					ag_warn("journal: %s/%s: cut a torn last record of %lld bytes "
						"(the previous run was killed while writing it)",
						j->dir, name, (long long)(size - keep));
					if (ftruncate(fd, keep))
						ag_warn("journal: %s/%s: cannot cut: %s", j->dir, name,
							strerror(errno));
				}
				close(fd);
				return;
			}
		}
		end = from;
	}
	/* no '\n' at all: the whole file is one torn record */
	if (lseek(fd, 0, SEEK_END) > 0 && ftruncate(fd, 0) == 0)
		ag_warn("journal: %s/%s: held only a torn record; emptied", j->dir, name);
	close(fd);
}

static int open_live(struct journal *j)
{
	__s64 t = realtime_ns();
	int fd;

	char name[SEG_NAME_LEN];

	if (t <= j->last_start_ns)
		t = j->last_start_ns + 1; /* names stay unique and ordered */
	snprintf(name, sizeof(name), SEG_PREFIX "%020lld.jsonl", (long long)t);
	fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	j->last_start_ns = t;
	fsync(j->dirfd);
	pthread_mutex_lock(&j->mu);
	memcpy(j->live, name, sizeof(name));
	j->fd = fd;
	j->dirty = false;
	pthread_mutex_unlock(&j->mu);
	j->live_bytes = 0;
	j->live_opened_mono = mono_ns();
	return 0;
}

/* Close the live segment; compress: hand it to the flush thread (which syncs it, compresses it
 * and applies the retention), or do it here when that thread has a backlog. */
static void close_live(struct journal *j, bool compress)
{
	char name[SEG_NAME_LEN];
	bool queued = false;
	int fd;

	pthread_mutex_lock(&j->mu);
	fd = j->fd;
	j->fd = -1;
	j->dirty = false;
	memcpy(name, j->live, sizeof(name));
	j->live[0] = 0;
	if (fd >= 0 && compress && j->live_bytes && j->syncer_started &&
	    j->n_pending < (int)(sizeof(j->pending) / sizeof(j->pending[0]))) {
		memcpy(j->pending[j->n_pending++], name, sizeof(name));
		pthread_cond_signal(&j->cv);
		queued = true;
	}
	pthread_mutex_unlock(&j->mu);
	if (fd < 0)
		return;
	if (!queued)
		fdatasync(fd);
	close(fd);
	if (!compress || queued)
		return;
	if (j->live_bytes) {
		compress_segment(j, name);
		retention(j);
	} else {
		unlinkat(j->dirfd, name, 0);
	}
}

/* A failure is logged once per run (later ones are counted: summary.sinks.journal.lost), and the
 * first recovery once. */
static void report_outage(struct journal *j, int err, size_t lost)
{
	j->lost_in_outage += lost;
	if (!j->write_errors++)
		ag_err("journal: cannot write to %s/%s: %s; events are lost until it can "
		       "(counted in summary.sinks.journal.lost; logged once); enforcement goes on",
		       j->dir, j->live[0] ? j->live : "(no segment)", strerror(err));
	j->failing = true;
}

/* Write whole lines [p, p+len) to the live segment; returns 0 or lines lost. */
static size_t write_lines(struct journal *j, const char *p, size_t len, size_t n)
{
	size_t left = len;

	if (j->fd < 0) {
		int r = open_live(j);

		if (r) {
			report_outage(j, -r, n);
			return n;
		}
	}
	while (left) {
		ssize_t w = ag_sink_write(j->fd, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w > 0) {
			p += w;
			left -= (size_t)w;
			continue;
		}
		/* cut back to where these lines began: no half line stays behind */
		if (ftruncate(j->fd, (off_t)j->live_bytes))
			ag_warn("journal: %s/%s: cannot cut a failed write back: %s", j->dir,
				j->live, strerror(errno));
		report_outage(j, w < 0 ? errno : ENOSPC, n);
		return n;
	}
	if (j->failing) {
		if (!j->recoveries++)
			ag_info("journal: writing to %s again; %llu events were lost", j->dir,
				(unsigned long long)j->lost_in_outage);
		j->failing = false;
		j->lost_in_outage = 0;
	}
	if (!j->live_bytes)
		j->live_opened_mono = mono_ns(); /* a segment's age counts from its first record */
	j->live_bytes += len;
	pthread_mutex_lock(&j->mu);
	j->dirty = true;
	pthread_mutex_unlock(&j->mu);
	return 0;
}

/* A batch is cut at line ends so that no segment goes over segment_bytes (a single longer line
 * gets a segment of its own). */
static size_t journal_emit(void *ctx, const struct ag_sink_batch *b)
{
	const char *buf = b->buf;
	size_t len = b->len, n = b->n;
	struct journal *j = ctx;
	size_t lost = 0;

	while (len) {
		size_t room, take = 0, lines = 0;

		if (j->fd >= 0 && j->live_bytes &&
		    (j->live_bytes >= j->o.segment_bytes ||
		     mono_ns() - j->live_opened_mono >= j->o.segment_age_ns)) {
			close_live(j, true);
		}
		room = j->fd >= 0 && j->live_bytes < j->o.segment_bytes
			       ? j->o.segment_bytes - j->live_bytes : j->o.segment_bytes;
		while (take < len) {
			const char *nl = memchr(buf + take, '\n', len - take);
			size_t end = nl ? (size_t)(nl - buf) + 1 : len;

			if (end > room && lines)
				break;
			take = end;
			lines++;
			if (end >= room)
				break;
		}
		if (take > room && j->fd >= 0 && j->live_bytes) {
			/* the first line does not fit the rest of this segment: a new one */
			close_live(j, true);
			continue;
		}
		lost += write_lines(j, buf, take, lines);
		buf += take;
		len -= take;
		if (take >= room && j->fd >= 0 && j->live_bytes >= j->o.segment_bytes) {
			close_live(j, true);
		}
	}
	return lost > n ? n : lost;
}

/* fdatasync every flush_ms while there is something new */
static void *syncer_main(void *arg)
{
	struct journal *j = arg;
	struct timespec dl;

	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += j->o.flush_ms / 1000;
		dl.tv_nsec += (long)(j->o.flush_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		while (!j->stop && !j->n_pending &&
		       pthread_cond_timedwait(&j->cv, &j->mu, &dl) != ETIMEDOUT)
			;
		if (j->stop)
			break;
		while (j->n_pending && !j->stop) {
			char name[SEG_NAME_LEN];
			int fd;

			memcpy(name, j->pending[0], sizeof(name));
			memmove(j->pending[0], j->pending[1], (size_t)--j->n_pending * sizeof(j->pending[0]));
			pthread_mutex_unlock(&j->mu);
			/* what came after the last flush, before compressing (a failure leaves the
			 * plain file, synced) */
			fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				fdatasync(fd);
				close(fd);
			}
			compress_segment(j, name);
			retention(j);
			pthread_mutex_lock(&j->mu);
		}
		if (j->dirty && j->fd >= 0) {
			j->dirty = false;
			/* under the lock: the writer cannot close the fd meanwhile */
			if (fdatasync(j->fd) && errno != EINVAL)
				ag_warn("journal: fdatasync %s/%s: %s", j->dir, j->live, strerror(errno));
		}
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static void journal_close(void *ctx)
{
	struct journal *j = ctx;

	if (j->syncer_started) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_signal(&j->cv);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->syncer, NULL);
	}
	/* what the flush thread had not compressed yet (at most its 16-segment backlog) */
	for (int i = 0; i < j->n_pending; i++) {
		compress_segment(j, j->pending[i]);
		retention(j);
	}
	j->n_pending = 0;
	/* the live segment stays live (a reader sees it at once); the next start compresses it */
	close_live(j, false);
	if (j->dirfd >= 0)
		close(j->dirfd);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

static const struct ag_sink_ops journal_ops = {
	.name = "journal",
	.emit = journal_emit,
	.close = journal_close,
};

static void report_outage(struct journal *j, int err, size_t lost);

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int ag_sinks_add_journal(struct ag_sinks *s, const struct ag_journal_opts *o, char *err,
			 size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct seg *v = NULL;
	size_t n = 0;
	int r;

	if (!j)
		return -ENOMEM;
	j->o = *o;
	j->fd = -1;
	j->dirfd = -1;
	pthread_mutex_init(&j->mu, NULL);
	{
		/* the flush thread's deadlines are CLOCK_MONOTONIC */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&j->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	snprintf(j->dir, sizeof(j->dir), "%s", o->dir);
	j->o.dir = j->dir;
	r = mkdir_p(j->dir, 0750);
	if (!r) {
		j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->dirfd < 0)
			r = -errno;
	}
	if (r) {
		snprintf(err, errlen, "journal: cannot open the directory %s: %s", j->dir, strerror(-r));
		goto fail;
	}
	/* what an earlier run left: a complete .gz wins over its plain file (the crash came
	 * between rename and unlink), a plain segment is closed now (torn tail cut, compressed) */
	r = list_segments(j->dirfd, &v, &n, true);
	if (r) {
		snprintf(err, errlen, "journal: cannot read the directory %s: %s", j->dir, strerror(-r));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].start_ns > j->last_start_ns)
			j->last_start_ns = v[i].start_ns;
		if (!v[i].plain)
			continue;
		if (v[i].gz) {
			unlinkat(j->dirfd, v[i].name, 0);
			continue;
		}
		cut_torn_tail(j, v[i].name);
		compress_segment(j, v[i].name);
	}
	free(v);
	retention(j);
	r = open_live(j);
	if (r == -ENOSPC || r == -EDQUOT || r == -EIO) {
		/* a full disk at start: the agent still starts and enforces; the journal makes its
		 * segment at the first write that can */
		report_outage(j, -r, 0);
	} else if (r) {
		snprintf(err, errlen, "journal: cannot make a segment in %s: %s", j->dir, strerror(-r));
		goto fail;
	}
	r = pthread_create(&j->syncer, NULL, syncer_main, j);
	if (r) {
		r = -r;
		snprintf(err, errlen, "journal: cannot start its flush thread: %s", strerror(-r));
		goto fail;
	}
	j->syncer_started = true;
	r = ag_sinks_add(s, &journal_ops, j, 0);
	if (r) {
		snprintf(err, errlen, "journal: cannot start its writer: %s", strerror(-r));
		goto fail;
	}
	ag_info("journal: %s (segments of %llu KiB or %llu s, %llu KiB in all, fdatasync every %u ms)",
		j->dir, (unsigned long long)(o->segment_bytes >> 10),
		(unsigned long long)(o->segment_age_ns / 1000000000ULL),
		(unsigned long long)(o->max_bytes >> 10), o->flush_ms);
	return 0;
fail:
	if (j->syncer_started) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_signal(&j->cv);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->syncer, NULL);
	}
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j);
	return r ? r : -EINVAL;
}

int ag_journal_start(struct ag_sinks *s, const struct ag_config *cfg)
{
	const struct ag_cfg_journal *c = &cfg->journal;
	struct ag_journal_opts o = {
		.dir = c->dir, .segment_bytes = (__u64)c->segment_kb << 10,
		.segment_age_ns = (__u64)c->segment_age_s * 1000000000ULL,
		.max_bytes = (__u64)c->max_kb << 10, .flush_ms = c->flush_ms,
	};
	char err[PATH_MAX + 128];
	int r;

	if (!c->present)
		return 0;
	r = ag_sinks_add_journal(s, &o, err, sizeof(err));
	if (r)
		ag_err("%s", err);
	return r;
}

/* ---- time ---- */

int ag_journal_parse_time(const char *s, __s64 *ns)
{
	struct tm tm = { 0 };
	char *end;
	int y, mo, d, h, mi, sec, n = 0;
	__s64 frac = 0;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
		double v = strtod(s + 1, &end);
		double mul = !strcmp(end, "s") || !*end ? 1 : !strcmp(end, "m") ? 60
			     : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400 : -1;

		if (mul < 0)
			return -EINVAL;
		*ns = realtime_ns() - (__s64)(v * mul * 1e9);
		return 0;
	}
	if (s[0] == '@' || !strchr(s, '-')) {
		double v = strtod(s + (s[0] == '@'), &end);

		if (*end || end == s + (s[0] == '@'))
			return -EINVAL;
		*ns = (__s64)(v * 1e9);
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 &&
	    sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 ||
	    mi < 0 || sec < 0)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		int digits = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*s - '0');
		for (; digits < 9; digits++)
			frac *= 10;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ns = (__s64)timegm(&tm) * 1000000000LL + frac;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
		int oh = atoi(s + 1), om = atoi(s + 4), sign = *s == '-' ? -1 : 1;

		*ns -= sign * ((__s64)oh * 3600 + om * 60) * 1000000000LL;
		s += 6;
	}
	return *s ? -EINVAL : 0;
}

/* ---- the reader ---- */

struct reader {
	const char *dir;
	__s64 since, until;
	bool quiet;
	ag_journal_fn fn;
	void *ctx;
	struct ag_journal_read_stats *st;
	json_tokener *tok;
	char *buf; /* a partial line carried between reads */
	size_t len, cap;
	bool skipping; /* inside a line longer than MAX_RECORD */
};

/* One line (without '\n'): a JSON object with a "time" string, else corrupt. */
static int one_line(struct reader *r, const char *file, const char *line, size_t len)
{
	json_object *o, *t;
	__s64 ns;
	int ret = 0;

	json_tokener_reset(r->tok);
	o = json_tokener_parse_ex(r->tok, line, (int)len);
	if (!o || json_tokener_get_error(r->tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(r->tok) != len ||
	    !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "time", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    ag_journal_parse_time(json_object_get_string(t), &ns)) {
		r->st->corrupt++;
		if (!r->quiet)
			fprintf(stderr, "journal: %s/%s: a line of %zu bytes is no event record "
					"(not a JSON object with a time); skipped\n",
				r->dir, file, len);
		json_object_put(o);
		return 0;
	}
	json_object_put(o);
	if (ns >= r->since && ns <= r->until) {
		r->st->records++;
		ret = r->fn(line, len, ns, r->ctx);
	}
	return ret;
}

/* Feed bytes; whole lines go to one_line(), a partial one stays in r->buf. */
static int feed(struct reader *r, const char *file, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		int ret = 0;

		if (r->skipping) {
			if (nl)
				r->skipping = false;
		} else if (r->len + take > MAX_RECORD) {
			r->st->corrupt++;
			if (!r->quiet)
				fprintf(stderr, "journal: %s/%s: a line longer than %u bytes; skipped\n",
					r->dir, file, MAX_RECORD);
			r->len = 0;
			r->skipping = !nl;
		} else if (nl && !r->len) {
			ret = one_line(r, file, p, take);
		} else {
			if (r->len + take > r->cap) {
				size_t nc = r->cap ? r->cap : 4096;
				char *nb;

				while (nc < r->len + take)
					nc *= 2;
				nb = realloc(r->buf, nc);
				if (!nb)
					return -ENOMEM;
				r->buf = nb;
				r->cap = nc;
			}
			memcpy(r->buf + r->len, p, take);
			r->len += take;
			if (nl) {
				ret = one_line(r, file, r->buf, r->len);
				r->len = 0;
			}
		}
		if (ret)
			return ret;
		if (!nl)
			break;
		p = nl + 1;
		n -= take + 1;
	}
	return 0;
}

static void torn(struct reader *r, const char *file)
{
	if (r->len || r->skipping) {
		r->st->torn++;
		if (!r->quiet)
			fprintf(stderr, "journal: %s/%s: the last record is torn (%zu bytes without "
					"a newline: the writer was killed while writing it); skipped\n",
				r->dir, file, r->len);
	}
	r->len = 0;
	r->skipping = false;
}

/* Read one open segment from where gz stands to its end. */
static int drain(struct reader *r, gzFile gz, const char *file)
{
	char buf[65536];
	int k;

	while ((k = gzread(gz, buf, sizeof(buf))) > 0) {
		int ret = feed(r, file, buf, (size_t)k);

		if (ret)
			return ret;
	}
	if (k < 0) {
		int e;
		const char *m = gzerror(gz, &e);

		/* a truncated gzip stream (a crash while it was written cannot leave one: it is
		 * renamed into place only once whole) still gives its whole lines */
		if (!r->quiet)
			fprintf(stderr, "journal: %s/%s: %s\n", r->dir, file, m);
	}
	gzclearerr(gz);
	return 0;
}

static gzFile open_seg(int dirfd, const char *name, bool *gz_out, char *file, size_t flen)
{
	char n[SEG_NAME_LEN + 8];
	int fd;
	gzFile g;

	snprintf(n, sizeof(n), "%s.gz", name);
	fd = openat(dirfd, n, O_RDONLY | O_CLOEXEC);
	*gz_out = fd >= 0;
	if (fd < 0)
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	snprintf(file, flen, "%s", *gz_out ? n : name);
	g = gzdopen(fd, "rb");
	if (!g)
		close(fd);
	return g;
}

int ag_journal_read(const char *dir, __s64 since, __s64 until, bool follow, bool quiet,
		    volatile int *stop, ag_journal_fn fn, void *ctx, struct ag_journal_read_stats *st)
{
	struct reader r = { .dir = dir, .since = since, .until = until, .quiet = quiet, .fn = fn,
			    .ctx = ctx, .st = st };
	char cur[SEG_NAME_LEN] = "", file[SEG_NAME_LEN + 8] = "";
	gzFile g = NULL;
	bool cur_gz = false;
	int dirfd, ret = 0;

	memset(st, 0, sizeof(*st));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	r.tok = json_tokener_new();
	if (!r.tok) {
		close(dirfd);
		return -ENOMEM;
	}
	for (;;) {
		struct seg *v = NULL;
		size_t n = 0, i, first = 0;

		ret = list_segments(dirfd, &v, &n, false);
		if (ret)
			break;
		/* a segment's records are no later than the next one's opening: skip what ends
		 * before since */
		while (!cur[0] && first + 1 < n && v[first + 1].start_ns < since)
			first++;
		for (i = first; i < n && cur[0] && strcmp(v[i].name, cur) <= 0; i++)
			;
		if (g && i < n) {
			/* a newer segment exists: the current one is closed, read its end */
			ret = drain(&r, g, file);
			torn(&r, file);
			gzclose(g);
			g = NULL;
		}
		for (; !ret && i < n; i++) {
			bool last = i + 1 == n;

			g = open_seg(dirfd, v[i].name, &cur_gz, file, sizeof(file));
			if (!g)
				continue; /* deleted by the retention meanwhile */
			snprintf(cur, sizeof(cur), "%s", v[i].name);
			st->segments++;
			ret = drain(&r, g, file);
			if (ret)
				break;
			if (!last || !follow) {
				torn(&r, file);
				gzclose(g);
				g = NULL;
			}
		}
		free(v);
		if (ret || !follow || (stop && *stop))
			break;
		/* follow: more of the live segment, or a new one */
		usleep(100000);
		if (g && !cur_gz)
			ret = drain(&r, g, file);
		if (ret || (stop && *stop))
			break;
	}
	if (g)
		gzclose(g);
	json_tokener_free(r.tok);
	free(r.buf);
	close(dirfd);
	return ret;
}

/* ---- accelguard journal ---- */

static volatile int journal_stop;

static void on_stop_signal(int sig)
{
	journal_stop = 1;
}

static int print_line(const char *line, size_t len, __s64 t, void *ctx)
{
	if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
		return -EPIPE;
	if (*(bool *)ctx && fflush(stdout))
		return -EPIPE;
	return 0;
}

int ag_journal_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "follow", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = AG_JOURNAL_DEFAULT_DIR;
	__s64 since = 0, until = INT64_MAX;
	struct ag_journal_read_stats st;
	bool follow = false, quiet = false;
	struct sigaction sa = { .sa_handler = on_stop_signal };
	int c, r;

	while ((c = getopt_long(argc, argv, "D:s:u:fqh", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			dir = optarg;
			break;
		case 's':
		case 'u':
			if (ag_journal_parse_time(optarg, c == 's' ? &since : &until)) {
				ag_err("journal: --%s takes a time (2026-11-27T04:13:08Z, @SECONDS, "
				       "-10m), not '%s'", c == 's' ? "since" : "until", optarg);
				return 2;
			}
			break;
		case 'f':
			follow = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			printf("Usage: accelguard journal [--dir DIR] [--since T] [--until T] [--follow] "
			       "[--quiet]\n\n"
			       "Print the journal's events (the same JSON lines the agent wrote), oldest\n"
			       "first, compressed segments included. T: RFC 3339 (2026-11-27T04:13:08Z),\n"
			       "@SECONDS since the epoch, or relative (-30s, -10m, -2h, -1d). --follow\n"
			       "then waits for more until SIGINT. A torn last record or a line that is no\n"
			       "event is skipped and named on stderr (--quiet: not named).\n"
			       "DIR: the configuration's journal.dir (default %s).\n",
			       AG_JOURNAL_DEFAULT_DIR);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		ag_err("journal: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = ag_journal_read(dir, since, until, follow, quiet, &journal_stop, print_line, &follow,
			    &st);
	fflush(stdout);
	if (r == -EPIPE)
		return 0;
	if (r) {
		ag_err("journal: cannot read %s: %s", dir, strerror(-r));
		return 1;
	}
	if ((st.torn || st.corrupt) && !quiet)
		fprintf(stderr, "journal: %llu records; skipped %llu torn, %llu not event records\n",
			(unsigned long long)st.records, (unsigned long long)st.torn,
			(unsigned long long)st.corrupt);
	return 0;
}

json_object *ag_journal_parse_record(const char *line, size_t len)
{
	json_tokener *t = json_tokener_new();
	json_object *o = t ? json_tokener_parse_ex(t, line, (int)len) : NULL;

	json_tokener_free(t);
	return o;
}
