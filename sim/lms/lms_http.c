/*
 * lms_http.c - blocking HTTP calls from the `lms` stand-in to llmster-sim.
 *
 * One libcurl easy handle per call (the CLI makes one or two calls and
 * exits); the streamed log call uses a multi handle only so that it can wake
 * every 100 ms and notice SIGINT/SIGTERM. Replies are bounded
 * (DP_LMS_MAX_REPLY, DP_LMS_MAX_LINE).
 */
#include "lms.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

enum { DP_LMS_MAX_REPLY = 16 << 20, DP_LMS_MAX_LINE = 1 << 20 };

static int curl_ready;

static void init_curl(void)
{
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = 1;
	}
}

int dp_lms_target_from_env(struct dp_lms_target *t)
{
	const char *h = getenv("LMS_SIM_HOST");
	const char *p = getenv("LMS_SIM_PORT");
	snprintf(t->host, sizeof(t->host), "%s", h && *h ? h : "127.0.0.1");
	t->port = 1234;
	if (p && *p) {
		char *end = NULL;
		errno = 0;
		long n = strtol(p, &end, 10);
		if (errno || *end || n < 1 || n > 65535) {
			dp_lms_err("LMS_SIM_PORT is not a port number: %s", p);
			return -EINVAL;
		}
		t->port = n;
	}
	return 0;
}

int dp_lms_target_from_args(struct dp_lms_target *t, const struct dp_lms_args *a)
{
	const char *host = dp_lms_args_get(a, "host");
	if (host) {
		/* reference §6.1: --host must be bare */
		if (strstr(host, "://")) {
			dp_lms_err("Host should not include the protocol.");
			return -EINVAL;
		}
		if (strchr(host, ':')) {
			dp_lms_err("Host should not include the port number. Use --port instead.");
			return -EINVAL;
		}
		if (!*host || strlen(host) >= sizeof(t->host)) {
			dp_lms_err("Invalid host: %s", host);
			return -EINVAL;
		}
		snprintf(t->host, sizeof(t->host), "%s", host);
		t->port = 1234; /* with --host, the port defaults to 1234 */
	}
	if (dp_lms_args_has(a, "port")) {
		long port;
		if (dp_lms_args_int(a, "port", 0, 65535, &port) < 0)
			return -EINVAL;
		t->port = port;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct dp_buf *b = ud;
	if (dp_buf_add(b, p, size * n) < 0)
		return 0; /* too large: abort the transfer */
	return size * n;
}

static char *make_url(const struct dp_lms_target *t, const char *path)
{
	return xasprintf("http://%s:%ld%s", t->host, t->port, path);
}

static int map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int dp_lms_http_request(const struct dp_lms_target *t, const char *path, const char *body, long timeout_ms,
                        struct dp_buf *out, long *status)
{
	init_curl();
	CURL *c = curl_easy_init();
	if (!c)
		return -EIO;
	char *url = make_url(t, path);
	struct curl_slist *hdr = NULL;
	dp_buf_init(out, DP_LMS_MAX_REPLY);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(url);
	return map_curl(rc);
}

struct stream_ctx {
	struct dp_buf line;
	dp_lms_line_fn fn;
	void *ud;
	int stopped;
	int too_long;
};

static size_t on_stream(char *p, size_t size, size_t n, void *ud)
{
	struct stream_ctx *s = ud;
	size_t total = size * n;
	for (size_t i = 0; i < total; i++) {
		if (p[i] != '\n') {
			if (dp_buf_addch(&s->line, p[i]) < 0)
				s->too_long = 1; /* buffer emptied itself; drop the rest of this line */
			continue;
		}
		if (!s->too_long && s->line.len > 0 && s->fn(s->line.data, s->line.len, s->ud)) {
			s->stopped = 1;
			return 0;
		}
		s->too_long = 0;
		dp_buf_reset(&s->line);
	}
	return total;
}

int dp_lms_http_stream(const struct dp_lms_target *t, const char *path, dp_lms_line_fn fn, void *ud, volatile int *stop)
{
	init_curl();
	CURL *c = curl_easy_init();
	CURLM *m = curl_multi_init();
	if (!c || !m) {
		curl_easy_cleanup(c);
		curl_multi_cleanup(m);
		return -EIO;
	}
	char *url = make_url(t, path);
	struct stream_ctx s = {.fn = fn, .ud = ud};
	dp_buf_init(&s.line, DP_LMS_MAX_LINE);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_multi_add_handle(m, c);
	int running = 1, ret = 0;
	CURLcode result = CURLE_OK;
	while (running && !*stop) {
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			ret = -EIO;
			break;
		}
		if (!running)
			break;
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	int msgs;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(m, &msgs)))
		if (msg->msg == CURLMSG_DONE)
			result = msg->data.result;
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (*stop || s.stopped) {
		ret = 0;
	} else if (ret == 0) {
		if (result != CURLE_OK && map_curl(result) == -ECONNREFUSED && status == 0)
			ret = -ECONNREFUSED;
		else if (status != 200 && status != 0)
			ret = -EIO;
		else
			ret = -EPIPE;
	}
	curl_multi_remove_handle(m, c);
	curl_easy_cleanup(c);
	curl_multi_cleanup(m);
	dp_buf_release(&s.line);
	free(url);
	return ret;
}

static void print_unreachable(const struct dp_lms_target *t)
{
	dp_lms_err("The server does not appear to be running at %s:%ld. Please make sure the server "
	           "is running and accessible at the specified address.",
	           t->host, t->port);
}

int dp_lms_call(const struct dp_lms_target *t, const char *path, const char *body, long timeout_ms, json_t **json,
                long *status)
{
	struct dp_buf out;
	*json = NULL;
	int rc = dp_lms_http_request(t, path, body, timeout_ms, &out, status);
	if (rc == -ECONNREFUSED) {
		print_unreachable(t);
		dp_buf_release(&out);
		return rc;
	}
	if (rc < 0) {
		dp_lms_err(rc == -ETIMEDOUT ? "Timed out waiting for LM Studio at %s:%ld."
		                            : "Failed to talk to LM Studio at %s:%ld.",
		           t->host, t->port);
		dp_buf_release(&out);
		return rc;
	}
	json_error_t jerr;
	*json = json_loadb(out.data, out.len, 0, &jerr);
	dp_buf_release(&out);
	if (!*json) {
		dp_lms_err("Unexpected reply from LM Studio (HTTP %ld): %s", *status, jerr.text);
		return -EPROTO;
	}
	return 0;
}

const char *dp_lms_error_text(json_t *reply, const char *fallback)
{
	json_t *e = json_object_get(reply, "error");
	if (json_is_string(e))
		return json_string_value(e);
	if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
		return json_string_value(json_object_get(e, "message"));
	return fallback;
}
