/*
 * fuzz_url.c - libFuzzer target for the URL code that replaced libcurl's:
 * dp_url_parse (every target, agent and MCP base URL), dp_upstream_url
 * (base + request path), dp_mcp_split_url and dp_mcp_resolve_endpoint (the
 * `endpoint` an MCP server names over SSE: untrusted).
 *
 * Input: "base\npath-or-reference". Checks: an accepted URL round-trips
 * through its origin; a built URL starts with the base's origin; a resolved
 * endpoint stays on the base's origin.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "upstream.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char *nl = strchr(s, '\n');
	const char *rest = "";
	if (nl) {
		*nl = '\0';
		rest = nl + 1;
	}
	const char *err;
	struct dp_url u;
	if (dp_url_parse(s, &u, &err) == 0) {
		char origin[DP_URL_HOST_MAX + 32], host[DP_URL_HOST_MAX + 16];
		dp_url_origin(&u, origin, sizeof(origin));
		dp_url_host_header(&u, host, sizeof(host));
		struct dp_url again;
		if (dp_url_parse(origin, &again, &err) != 0 || again.port != u.port || again.https != u.https ||
		    strcmp(again.host, u.host) != 0)
			abort();
		if (u.port < 1 || u.port > 65535 || !u.host[0])
			abort();
		char *full = dp_upstream_url(s, rest, &err);
		if (full && strncmp(full, origin, strlen(origin)) != 0)
			abort();
		free(full);
		char *ep = NULL;
		int rc = dp_mcp_resolve_endpoint(s, rest, strlen(rest), &ep);
		if (rc == 0 && (!ep || strncmp(ep, origin, strlen(origin)) != 0))
			abort();
		free(ep);
	} else if (!err) {
		abort();
	}
	char *b = NULL, *p = NULL;
	if (dp_mcp_split_url(s, &b, &p) == 0 && (!b || !p || p[0] != '/'))
		abort();
	free(b);
	free(p);
	free(s);
	return 0;
}
