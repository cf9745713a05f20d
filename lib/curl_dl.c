/*
 * curl_dl.c - see curl_dl.h.
 */
#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static struct dp_curl api;
static const struct dp_curl *loaded;
static char load_err[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define SYM(field, name)                                                                                               \
	do {                                                                                                           \
		*(void **)(&api.field) = dlsym(dl, name);                                                              \
		if (!api.field) {                                                                                      \
			snprintf(load_err, sizeof(load_err), "%s has no %s (too old?)", path, name);                   \
			goto fail;                                                                                     \
		}                                                                                                      \
	} while (0)

static void load(void)
{
	const char *path = getenv("DP_LIBCURL");
	if (!path || !*path)
		path = "libcurl.so.4";
	dlerror();
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		snprintf(load_err, sizeof(load_err),
		         "https needs libcurl, which could not be loaded (%s); install the libcurl4 package",
		         e ? e : path);
		return;
	}
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_pause, "curl_easy_pause");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_header, "curl_easy_header");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_assign, "curl_multi_assign");
	SYM(multi_socket_action, "curl_multi_socket_action");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_strerror, "curl_multi_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	/* once per process, never cleaned up: curl_global_cleanup is not
	 * thread-safe and the library stays mapped until exit anyway */
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_err, sizeof(load_err), "libcurl could not initialise (curl_global_init failed)");
		goto fail;
	}
	loaded = &api;
	dp_info("loaded %s for https requests", path);
	return;
fail:
	dlclose(dl);
}

const struct dp_curl *dp_curl_load(const char **err)
{
	pthread_once(&once, load);
	if (!loaded && err)
		*err = load_err;
	return loaded;
}
