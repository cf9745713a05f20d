/*
 * fuzz_http_request.c - libFuzzer target for the request path the control
 * plane runs before a handler: the HTTP head parser (dp_http_parse_head),
 * the router's matcher with path parameters (dp_route_match over the real
 * route table), query-string decoding, the Accept-Encoding parser of the
 * web UI, the JSON body step (dp_route_parse_body) and SSE framing of the
 * body. No network, no event loop: the input is one raw request, head and
 * body, exactly as a client would send it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http.h"
#include "route.h"
#include "sse.h"
#include "webui.h"

#define MAX_HEAD (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dp_route_table *table;

static void query_pairs(const char *q, size_t n)
{
	/* what dp_http_req_query_param does, pair by pair */
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && q[j] != '&')
			j++;
		const char *eq = memchr(q + i, '=', j - i);
		size_t kl = eq ? (size_t)(eq - (q + i)) : j - i;
		char *k = malloc(kl + 1), *v = malloc(j - i + 1);
		(void)dp_http_urldecode(q + i, kl, k, 1);
		if (eq)
			(void)dp_http_urldecode(eq + 1, (size_t)(q + j - eq - 1), v, 1);
		free(k);
		free(v);
		i = j + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!table) {
		char *err = NULL;
		table = dp_route_table_new(dp_route_slices, 0, &err);
		if (!table)
			abort();
	}
	/* split head and body where a server would */
	size_t hlen = 0;
	for (size_t i = 0; i + 1 < size && i < MAX_HEAD; i++) {
		if (data[i] == '\n' && data[i + 1] == '\n') {
			hlen = i + 2;
			break;
		}
		if (i + 3 < size && memcmp(data + i, "\r\n\r\n", 4) == 0) {
			hlen = i + 4;
			break;
		}
	}
	if (hlen) {
		char *head = malloc(hlen + 1);
		memcpy(head, data, hlen);
		head[hlen] = '\0';
		struct dp_http_head h;
		int status = 0;
		const char *code = NULL;
		if (dp_http_parse_head(head, hlen, 64, &h, &status, &code) == 0 && h.target) {
			size_t tl = strlen(h.target);
			const char *q = strchr(h.target, '?');
			size_t plen = q ? (size_t)(q - h.target) : tl;
			char *scratch = malloc(plen + 1);
			struct dp_route_match m;
			int rc = dp_route_match(table, h.method, h.target, plen, &m, scratch);
			if (rc == 0)
				for (int i = 0; i < m.nparams; i++)
					if (strlen(m.values[i]) > plen || !m.names[i])
						abort();
			if (rc == 405 && !m.allow[0])
				abort();
			free(scratch);
			if (q)
				query_pairs(q + 1, tl - plen - 1);
			char *path = malloc(plen + 1);
			if (dp_http_urldecode(h.target, plen, path, 0) == 0)
				(void)dp_webui_find(path, strlen(path));
			free(path);
			for (int i = 0; i < h.nheaders; i++)
				if (h.headers[i].name && strcasecmp(h.headers[i].name, "Accept-Encoding") == 0)
					(void)dp_webui_accepts_gzip(h.headers[i].value);
		} else if (status < 400 || status > 599 || !code) {
			abort(); /* a refusal always names a 4xx/5xx status and a code */
		}
		free(head);
	}
	const char *body = (const char *)data + hlen;
	size_t blen = size - hlen;
	char *copy = malloc(blen + 1);
	memcpy(copy, body, blen);
	copy[blen] = '\0';
	json_t *j = NULL;
	char msg[256];
	if (dp_route_parse_body(copy, blen, &j, msg, sizeof(msg)) == 0) {
		if (!json_is_object(j))
			abort();
		json_decref(j);
	} else if (j || !msg[0]) {
		abort();
	}
	struct dp_buf b;
	dp_buf_init(&b, 1 << 20);
	(void)dp_sse_format(&b, NULL, "fuzz", copy, blen);
	dp_buf_release(&b);
	free(copy);
	return 0;
}
