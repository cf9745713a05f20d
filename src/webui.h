/*
 * webui.h - serving the embedded single-page app (webui_assets.h).
 *
 * dp_webui_routes[0] (declared in route.h) is the router's fallback for any
 * GET/HEAD outside /api/ that no table route claims; it is DP_ROLE_PUBLIC
 * because the app shell is public (the data behind /api/ is not).
 *
 *   - a known file: its Content-Type; `Cache-Control: public,
 *     max-age=31536000, immutable` under /assets/ (Vite's hashed names),
 *     `no-cache` for everything else (index.html revalidates every time);
 *     the gzip copy when Accept-Encoding allows it (`Vary: Accept-Encoding`);
 *     ETag / If-None-Match -> 304;
 *   - a miss under /assets/: 404 (a stale hashed asset must not turn into
 *     HTML the browser tries to run);
 *   - any other miss: index.html (client-side routes like /fleet);
 *   - no UI built: 404 with a message saying how to build it.
 */
#ifndef DP_WEBUI_H
#define DP_WEBUI_H

#include <stddef.h>

struct dp_webui_asset;

/* Find an embedded asset by exact path ("/index.html"); NULL when absent. */
const struct dp_webui_asset *dp_webui_find(const char *path, size_t len);
/* Does an Accept-Encoding header value allow gzip? (q=0 refuses) */
int dp_webui_accepts_gzip(const char *accept_encoding);

#endif
