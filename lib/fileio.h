/*
 * fileio.h - small, careful file helpers shared by the modules that write
 * state to disk (the secret key, mcp.json, the agent's token file).
 *
 * All return 0 or a negative errno; none allocates. They block on disk I/O,
 * so the server calls them only for small files (a key, a config file).
 */
#ifndef DP_FILEIO_H
#define DP_FILEIO_H

#include <stddef.h>

/* write(2) until all n bytes are written, retrying on EINTR. */
int dp_write_all(int fd, const void *p, size_t n);
/* fsync the directory that holds `path` (after a create or a rename). */
int dp_fsync_parent(const char *path);

#endif
