/*
 * url.c - see url.h.
 */
#include "url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int dp_url_parse(const char *s, struct dp_url *u, const char **err)
{
	memset(u, 0, sizeof(*u));
	if (!s || !*s)
		return *err = "the url is empty", -EINVAL;
	size_t n = strlen(s);
	if (n > DP_URL_MAX)
		return *err = "the url is too long", -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return *err = "the url contains spaces or control characters", -EINVAL;
	}
	const char *sep = strstr(s, "://");
	if (!sep || sep == s || sep[3] == '/' || sep[3] == '\0')
		return *err = "the url is not a valid absolute url (like http://host:1234)", -EINVAL;
	size_t sl = (size_t)(sep - s);
	if (sl == 4 && strncasecmp(s, "http", 4) == 0)
		u->https = 0;
	else if (sl == 5 && strncasecmp(s, "https", 5) == 0)
		u->https = 1;
	else
		return *err = "the url scheme must be http or https", -EINVAL;

	const char *a = sep + 3;
	size_t alen = strcspn(a, "/?#");
	const char *rest = a + alen;
	if (memchr(a, '@', alen))
		return *err = "credentials in the url are not allowed: set the api token instead", -EINVAL;
	if (*rest == '?' || *rest == '#' || strpbrk(rest, "?#"))
		return *err = "the url must not have a query or a fragment", -EINVAL;

	const char *port = NULL;
	size_t plen = 0;
	if (a[0] == '[') {
		const char *close = memchr(a, ']', alen);
		size_t hl = close ? (size_t)(close - a - 1) : 0;
		char tmp[64];
		struct in6_addr in6;
		if (!close || hl == 0 || hl >= sizeof(tmp))
			return *err = "the url has an invalid ipv6 address", -EINVAL;
		memcpy(tmp, a + 1, hl);
		tmp[hl] = '\0';
		if (inet_pton(AF_INET6, tmp, &in6) != 1)
			return *err = "the url has an invalid ipv6 address", -EINVAL;
		memcpy(u->host, tmp, hl + 1);
		u->ipv6 = 1;
		const char *after = close + 1;
		if (after < a + alen) {
			if (*after != ':')
				return *err = "the url is not a valid absolute url (like http://host:1234)", -EINVAL;
			port = after + 1;
			plen = (size_t)(a + alen - port);
		}
	} else {
		const char *colon = memchr(a, ':', alen);
		size_t hl = colon ? (size_t)(colon - a) : alen;
		if (hl == 0)
			return *err = "the url has no host", -EINVAL;
		if (hl > DP_URL_HOST_MAX)
			return *err = "the url host is too long", -EINVAL;
		for (size_t i = 0; i < hl; i++)
			if (!host_char((unsigned char)a[i]))
				return *err = "the url host may contain only letters, digits, '-', '.' and '_'",
				       -EINVAL;
		memcpy(u->host, a, hl);
		u->host[hl] = '\0';
		if (colon) {
			port = colon + 1;
			plen = alen - hl - 1;
		}
	}
	u->port = u->https ? 443 : 80;
	if (port) {
		long v = 0;
		if (plen == 0 || plen > 5)
			return *err = "the url port must be a number from 1 to 65535", -EINVAL;
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port[i]))
				return *err = "the url port must be a number from 1 to 65535", -EINVAL;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			return *err = "the url port must be a number from 1 to 65535", -EINVAL;
		u->port = (int)v;
		u->port_given = 1;
	}
	snprintf(u->path, sizeof(u->path), "%s", rest);
	return 0;
}

void dp_url_host_text(const struct dp_url *u, char *out, size_t outlen)
{
	snprintf(out, outlen, u->ipv6 ? "[%s]" : "%s", u->host);
}

void dp_url_origin(const struct dp_url *u, char *out, size_t outlen)
{
	char h[DP_URL_HOST_MAX + 3];
	dp_url_host_text(u, h, sizeof(h));
	if (u->port_given)
		snprintf(out, outlen, "%s://%s:%d", u->https ? "https" : "http", h, u->port);
	else
		snprintf(out, outlen, "%s://%s", u->https ? "https" : "http", h);
}

void dp_url_host_header(const struct dp_url *u, char *out, size_t outlen)
{
	char h[DP_URL_HOST_MAX + 3];
	dp_url_host_text(u, h, sizeof(h));
	if (u->port != (u->https ? 443 : 80))
		snprintf(out, outlen, "%s:%d", h, u->port);
	else
		snprintf(out, outlen, "%s", h);
}
