// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `accelguard evidence --tar F.tar.gz --upload URL`: PUT the tarball (for example to a pre-signed
 * object-store URL) with libcurl. Up to AG_UPLOAD_TRIES attempts; between them a backoff of 0.5 s
 * doubling (0.5, 1, 2, 4 s), or the server's Retry-After (seconds, at most 60) on 429 and 503.
 * Retried: transport errors (connect, TLS, timeout), 408, 429 and 5xx. Not retried: other 4xx
 * (the URL or its signature is wrong; a retry cannot help). The error names the URL (its query,
 * which carries a pre-signed URL's credentials, is left out), the attempts and the last HTTP status
 * or curl error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "evidence_upload.h"

#define AG_UPLOAD_TRIES		5
#define AG_UPLOAD_BACKOFF_MS	500
#define AG_UPLOAD_RETRY_AFTER_MAX 60

static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
	long *retry_after = ctx;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
		char tmp[32];
		size_t l = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
		char *end;
		long v;

		memcpy(tmp, buf + 12, l);
		tmp[l] = 0;
		v = strtol(tmp, &end, 10);
		/* seconds only; an HTTP-date falls back to the backoff */
		if (end != tmp && v >= 0)
			*retry_after = v > AG_UPLOAD_RETRY_AFTER_MAX ? AG_UPLOAD_RETRY_AFTER_MAX : v;
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
	(void)buf;
	(void)ctx;
	return size * n; /* the server's answer is not kept */
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ag_evidence_upload(const char *path, const char *url, const char *ca, char *err, size_t errlen)
{
	char shown[512], cerr[CURL_ERROR_SIZE], last[CURL_ERROR_SIZE + 64] = "";
	long backoff = AG_UPLOAD_BACKOFF_MS;
	struct stat st;
	CURL *h;
	int tries;

	snprintf(shown, sizeof(shown), "%.*s%s", (int)strcspn(url, "?"), url,
		 strchr(url, '?') ? "?..." : "");
	if (stat(path, &st)) {
		snprintf(err, errlen, "--upload %s: %s: %s", shown, path, strerror(errno));
		return -1;
	}
	if (ca && access(ca, R_OK)) {
		snprintf(err, errlen, "--upload-ca %s: %s", ca, strerror(errno));
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(h = curl_easy_init())) {
		snprintf(err, errlen, "--upload %s: cannot start libcurl", shown);
		return -1;
	}
	for (tries = 1; tries <= AG_UPLOAD_TRIES; tries++) {
		long code = 0, retry_after = -1;
		bool again;
		FILE *f = fopen(path, "rbe");
		CURLcode rc;

		if (!f) {
			snprintf(err, errlen, "--upload %s: %s: %s", shown, path, strerror(errno));
			curl_easy_cleanup(h);
			return -1;
		}
		curl_easy_reset(h);
		cerr[0] = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, f);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &retry_after);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		if (ca)
			curl_easy_setopt(h, CURLOPT_CAINFO, ca);
		{
			struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/gzip");

			hd = curl_slist_append(hd, "Expect:");
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
			rc = curl_easy_perform(h);
			curl_slist_free_all(hd);
		}
		fclose(f);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
			if (code >= 200 && code < 300) {
				curl_easy_cleanup(h);
				printf("evidence: uploaded %s to %s (HTTP %ld, attempt %d)\n", path, shown,
				       code, tries);
				return 0;
			}
			snprintf(last, sizeof(last), "HTTP %ld", code);
			again = code == 408 || code == 429 || code >= 500;
		} else {
			snprintf(last, sizeof(last), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
			/* a URL libcurl cannot use is not retried */
			again = rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT;
		}
		if (!again || tries == AG_UPLOAD_TRIES)
			break;
		{
			long wait = (code == 429 || code == 503) && retry_after >= 0 ? retry_after * 1000
										  : backoff;

			fprintf(stderr, "evidence: upload to %s: attempt %d: %s; again in %ld ms\n",
				shown, tries, last, wait);
			sleep_ms(wait);
		}
		backoff *= 2;
	}
	curl_easy_cleanup(h);
	snprintf(err, errlen, "--upload %s: failed after %d attempt%s: %s", shown,
		 tries > AG_UPLOAD_TRIES ? AG_UPLOAD_TRIES : tries, tries == 1 ? "" : "s", last);
	return -1;
}
