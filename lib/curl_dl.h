/*
 * curl_dl.h - libcurl loaded with dlopen on first use.
 *
 * The upstream client speaks plain HTTP itself (lib/upstream_native.c) and
 * needs libcurl only for https:// daemons. Linking libcurl would map it and
 * its dependency tree (OpenSSL, GnuTLS, Kerberos, LDAP, SSH, RTMP...) into
 * every process: about 8 MB of resident memory for a server that talks to
 * LM Studio over plain HTTP on a LAN. Loaded here instead, the first time a
 * TLS request is made. Types come from <curl/curl.h> (build dependency
 * libcurl4-openssl-dev); the library is libcurl.so.4 (package libcurl4),
 * or the path in DP_LIBCURL.
 */
#ifndef DP_CURL_DL_H
#define DP_CURL_DL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

struct dp_curl {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *e);
	CURLcode (*easy_setopt)(CURL *e, CURLoption o, ...);
	CURLcode (*easy_getinfo)(CURL *e, CURLINFO i, ...);
	CURLcode (*easy_pause)(CURL *e, int bitmask);
	const char *(*easy_strerror)(CURLcode c);
	CURLHcode (*easy_header)(CURL *e, const char *name, size_t index, unsigned int origin, int request,
	                         struct curl_header **hout);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption o, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
	CURLMcode (*multi_assign)(CURLM *m, curl_socket_t s, void *p);
	CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int ev_bitmask, int *running);
	CURLMsg *(*multi_info_read)(CURLM *m, int *msgs_in_queue);
	const char *(*multi_strerror)(CURLMcode c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/* The loaded library (once per process; thread-safe), or NULL with a message
 * for a person in *err ("libcurl.so.4 is not installed: ..."). */
const struct dp_curl *dp_curl_load(const char **err);

#endif
