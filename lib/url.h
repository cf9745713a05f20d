/*
 * url.h - the strict subset of URLs DaemonPulse talks to: the base URL of an
 * LM Studio daemon, an agent or an MCP server.
 *
 *   scheme://host[:port][/path]
 *
 * scheme http or https (any case); host a DNS name (letters, digits, '-',
 * '.', '_'), an IPv4 address or a bracketed IPv6 literal (no zone id); port
 * 1..65535; the path printable ASCII. Refused with a static message for a
 * person: spaces or control characters, user or password ("credentials"),
 * a query or a fragment, anything longer than DP_URL_MAX.
 *
 * Written for the upstream client (lib/upstream.c), which no longer needs
 * libcurl to parse or to build a request line.
 */
#ifndef DP_URL_H
#define DP_URL_H

#include <stddef.h>

#define DP_URL_MAX      2048
#define DP_URL_HOST_MAX 253

struct dp_url {
	int https;                      /* 0: http */
	int ipv6;                       /* host is an IPv6 literal (stored without brackets) */
	int port;                       /* the port to connect to (80/443 when not given) */
	int port_given;                 /* the URL named a port */
	char host[DP_URL_HOST_MAX + 1]; /* as written (IPv6: without brackets) */
	char path[DP_URL_MAX + 1];      /* "" or "/..." as written */
};

/* 0, or -EINVAL with a static message in *err. */
int dp_url_parse(const char *s, struct dp_url *u, const char **err);

/* "host" or "[v6]" into out (bounded, NUL-terminated). */
void dp_url_host_text(const struct dp_url *u, char *out, size_t outlen);

/* "scheme://host[:port]" as given, into out. */
void dp_url_origin(const struct dp_url *u, char *out, size_t outlen);

/* The Host header value: host, plus ":port" when it is not the scheme's default. */
void dp_url_host_header(const struct dp_url *u, char *out, size_t outlen);

#endif
