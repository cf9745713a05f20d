/*
 * agent_files.c - the agent's files: the token file, the LM Studio home and
 * mcp.json (validation, bounded read, atomic write with a backup). Pure
 * functions over paths and directory descriptors, no event loop; declared in
 * agent.h and unit-tested in tests/unit/test_agent.c.
 *
 * mcp.json is only ever reached relative to an O_DIRECTORY descriptor of the
 * resolved LM Studio home, by the fixed names below, with O_NOFOLLOW: no
 * request can name a path, and a symbolic link planted as mcp.json is
 * refused instead of followed outside the home.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "mcp_registry.h"
#include "xmalloc.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ------------------------------------------------------------ token */

void dp_agent_token_new(char out[DP_AGENT_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, DP_AGENT_TOKEN_PREFIX, 4);
	sodium_bin2hex(out + 4, DP_AGENT_TOKEN_LEN + 1 - 4, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

int dp_agent_token_valid(const char *s)
{
	if (!s || strlen(s) != DP_AGENT_TOKEN_LEN || strncmp(s, DP_AGENT_TOKEN_PREFIX, 4) != 0)
		return 0;
	for (const char *p = s + 4; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* mkdir -p of the directory part of `path` (mode 0700 for what it creates). */
static int make_parents(const char *path)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int dp_agent_token_store(const char *path, const char *token, char *err, size_t errlen)
{
	if (!dp_agent_token_valid(token))
		return fail(err, errlen, -EINVAL, "not an agent token (dpa_ followed by 64 hex digits)");
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return fail(err, errlen, -ENAMETOOLONG, "token file path too long");
	int mrc = make_parents(path);
	if (mrc < 0)
		return fail(err, errlen, mrc, "cannot create the directory of '%s': %s", path, strerror(-mrc));
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot create '%s': %s", tmp, strerror(errno));
	int rc = dp_write_all(fd, token, strlen(token));
	if (!rc)
		rc = dp_write_all(fd, "\n", 1);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return fail(err, errlen, rc, "cannot write '%s': %s", path, strerror(-rc));
	}
	dp_fsync_parent(path);
	return 0;
}

int dp_agent_token_load(const char *path, char out[DP_AGENT_TOKEN_LEN + 1], int *created, char *err, size_t errlen)
{
	*created = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		int mrc = make_parents(path);
		if (mrc < 0)
			return fail(err, errlen, mrc, "cannot create the directory of '%s': %s", path, strerror(-mrc));
		dp_agent_token_new(out);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return fail(err, errlen, -errno, "cannot create the token file '%s': %s", path,
			            strerror(errno));
		int rc = dp_write_all(fd, out, DP_AGENT_TOKEN_LEN);
		if (!rc)
			rc = dp_write_all(fd, "\n", 1);
		if (!rc && fsync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc) {
			unlink(path);
			return fail(err, errlen, rc, "cannot write the token file '%s': %s", path, strerror(-rc));
		}
		dp_fsync_parent(path);
		*created = 1;
		return 0;
	}
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open the token file '%s': %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return fail(err, errlen, -EINVAL, "the token file '%s' is not a regular file", path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return fail(err, errlen, -EPERM, "the token file '%s' is readable by group or others: chmod 600 it",
		            path);
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		return fail(err, errlen, -EPERM, "the token file '%s' belongs to another user", path);
	}
	char buf[DP_AGENT_TOKEN_LEN + 8];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return fail(err, errlen, -errno, "cannot read the token file '%s': %s", path, strerror(errno));
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (!dp_agent_token_valid(buf)) {
		sodium_memzero(buf, sizeof(buf));
		return fail(err, errlen, -EINVAL, "the token file '%s' does not hold an agent token", path);
	}
	memcpy(out, buf, DP_AGENT_TOKEN_LEN + 1);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

/* ------------------------------------------------------------ home */

/* Absolute, no "." or ".." component, no empty interior component issue. */
static int clean_absolute(const char *p)
{
	if (p[0] != '/')
		return 0;
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s = e;
	}
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < 0x20)
			return 0;
	return 1;
}

int dp_agent_resolve_home(const char *explicit_home, const char *user_home, char *out, size_t outlen, char *err,
                          size_t errlen)
{
	char cand[PATH_MAX];
	const char *from = "--lmstudio-home";
	if (explicit_home && *explicit_home) {
		if (snprintf(cand, sizeof(cand), "%s", explicit_home) >= (int)sizeof(cand))
			return fail(err, errlen, -ENAMETOOLONG, "LM Studio home path too long");
	} else {
		if (!user_home || !*user_home)
			return fail(err, errlen, -ENOENT,
			            "no HOME: cannot find the LM Studio home (use --lmstudio-home)");
		if (!clean_absolute(user_home))
			return fail(err, errlen, -EINVAL, "HOME '%s' is not a clean absolute path", user_home);
		char ptr[PATH_MAX];
		if (snprintf(ptr, sizeof(ptr), "%s/.lmstudio-home-pointer", user_home) >= (int)sizeof(ptr))
			return fail(err, errlen, -ENAMETOOLONG, "HOME path too long");
		cand[0] = '\0';
		int fd = open(ptr, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, cand, sizeof(cand) - 1);
			close(fd);
			if (n < 0)
				n = 0;
			cand[n] = '\0';
			while (n > 0 && (cand[n - 1] == '\n' || cand[n - 1] == '\r' || cand[n - 1] == ' '))
				cand[--n] = '\0';
			from = "~/.lmstudio-home-pointer";
		}
		if (!cand[0]) {
			struct stat sb;
			snprintf(cand, sizeof(cand), "%s/.cache/lm-studio", user_home);
			from = "the legacy home";
			if (stat(cand, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
				snprintf(cand, sizeof(cand), "%s/.lmstudio", user_home);
				from = "the default home";
			}
		}
	}
	if (!clean_absolute(cand)) {
		if (err && errlen)
			snprintf(err, errlen,
			         "the LM Studio home from %s is not an absolute path without '.' or '..' components: "
			         "refused",
			         from);
		return -EINVAL;
	}
	char real[PATH_MAX];
	if (realpath(cand, real)) {
		struct stat sb;
		if (stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			if (err && errlen)
				snprintf(err, errlen, "the LM Studio home from %s is not a directory", from);
			return -ENOTDIR;
		}
		if (snprintf(out, outlen, "%s", real) >= (int)outlen)
			return fail(err, errlen, -ENAMETOOLONG, "LM Studio home path too long");
		return 0;
	}
	/* not there (yet): keep the clean path; mcp.json access says so */
	if (snprintf(out, outlen, "%s", cand) >= (int)outlen)
		return fail(err, errlen, -ENAMETOOLONG, "LM Studio home path too long");
	return 0;
}

/* ------------------------------------------------------------ mcp.json */

static int check_str_map(const json_t *m, size_t max)
{
	if (!json_is_object(m) || json_object_size(m) > max)
		return -EINVAL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		size_t kl = strlen(k);
		if (!kl || kl > 128 || !json_is_string(v) || json_string_length(v) > 4096)
			return -EINVAL;
		for (const char *c = k; *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == '=' || *c == ':')
				return -EINVAL;
		const char *s = json_string_value(v);
		for (size_t i = 0; i < json_string_length(v); i++)
			if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
				return -EINVAL;
	}
	return 0;
}

static int check_entry(const json_t *e, const char **why)
{
	if (!json_is_object(e)) {
		*why = "each mcpServers entry must be an object";
		return -EINVAL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)e, k, v)
	{
		if (strcmp(k, "url") && strcmp(k, "headers") && strcmp(k, "command") && strcmp(k, "args") &&
		    strcmp(k, "env") && strcmp(k, "auth")) {
			*why = "an mcpServers entry has a member other than url, headers, command, args, env or auth";
			return -EINVAL;
		}
	}
	json_t *url = json_object_get(e, "url"), *cmd = json_object_get(e, "command");
	if (!!url == !!cmd) {
		*why = "an mcpServers entry needs exactly one of url (remote) or command (local)";
		return -EINVAL;
	}
	if (url) {
		const char *w = NULL;
		if (!json_is_string(url) || dp_mcp_check_url(json_string_value(url), &w) < 0) {
			*why = "an mcpServers url must be an http(s) URL without credentials";
			return -EINVAL;
		}
		if (json_object_get(e, "args") || json_object_get(e, "env")) {
			*why = "args and env belong to a command entry, not a url entry";
			return -EINVAL;
		}
		json_t *h = json_object_get(e, "headers");
		if (h && check_str_map(h, 32) < 0) {
			*why = "headers must be an object of at most 32 string values";
			return -EINVAL;
		}
	} else {
		size_t n = json_is_string(cmd) ? json_string_length(cmd) : 0;
		if (n == 0 || n > 4096 || memchr(json_string_value(cmd), '\0', n) || json_object_get(e, "headers")) {
			*why = "command must be a non-empty string of at most 4096 bytes (and no headers)";
			return -EINVAL;
		}
		json_t *args = json_object_get(e, "args");
		if (args) {
			if (!json_is_array(args) || json_array_size(args) > 256) {
				*why = "args must be an array of at most 256 strings";
				return -EINVAL;
			}
			size_t i;
			json_t *a;
			json_array_foreach(args, i, a)
			{
				if (!json_is_string(a) || json_string_length(a) > 4096) {
					*why = "args must be an array of at most 256 strings";
					return -EINVAL;
				}
			}
		}
		json_t *env = json_object_get(e, "env");
		if (env && check_str_map(env, 64) < 0) {
			*why = "env must be an object of at most 64 string values";
			return -EINVAL;
		}
	}
	json_t *auth = json_object_get(e, "auth");
	if (auth && check_str_map(auth, 16) < 0) {
		*why = "auth must be an object of at most 16 string values";
		return -EINVAL;
	}
	return 0;
}

int dp_agent_mcp_validate(const json_t *root, const char **why)
{
	if (!json_is_object(root)) {
		*why = "mcp.json must be a JSON object";
		return -EINVAL;
	}
	json_t *ms = json_object_get(root, "mcpServers");
	if (!json_is_object(ms) || json_object_size(root) != 1) {
		*why = "mcp.json must be {\"mcpServers\": {...}} and nothing else";
		return -EINVAL;
	}
	if (json_object_size(ms) > 128) {
		*why = "at most 128 mcpServers entries";
		return -EINVAL;
	}
	const char *label;
	json_t *e;
	json_object_foreach(ms, label, e)
	{
		const char *w = NULL;
		if (dp_mcp_check_label(label, &w) < 0) {
			*why = "an mcpServers label must be 1 to 64 of A-Z a-z 0-9 _ . -";
			return -EINVAL;
		}
		if (check_entry(e, why) < 0)
			return -EINVAL;
	}
	return 0;
}

int dp_agent_mcp_read(int dirfd, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	int fd = openat(dirfd, DP_AGENT_MCP_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : (errno == ELOOP ? -ELOOP : -errno);
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)sb.st_size > DP_AGENT_MCP_MAX) {
		close(fd);
		return -EFBIG;
	}
	char *buf = xmalloc(DP_AGENT_MCP_MAX + 2);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, DP_AGENT_MCP_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			close(fd);
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > DP_AGENT_MCP_MAX) {
			close(fd);
			free(buf);
			return -EFBIG;
		}
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

void dp_agent_mcp_etag(const char *text, size_t len, char out[21])
{
	unsigned char h[8];
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, len, NULL, 0);
	out[0] = '"';
	sodium_bin2hex(out + 1, 17, h, sizeof(h));
	out[17] = '"';
	out[18] = '\0';
}

int dp_agent_mcp_clean_temps(int dirfd)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	rewinddir(d);
	int removed = 0;
	size_t pl = strlen(DP_AGENT_MCP_TMP_PREFIX);
	struct dirent *de;
	char names[16][NAME_MAX + 1];
	int nn = 0;
	while ((de = readdir(d)) && nn < 16)
		if (!strncmp(de->d_name, DP_AGENT_MCP_TMP_PREFIX, pl) || !strcmp(de->d_name, ".mcp.json.bak.tmp"))
			snprintf(names[nn++], sizeof(names[0]), "%s", de->d_name);
	closedir(d);
	for (int i = 0; i < nn; i++)
		if (unlinkat(dirfd, names[i], 0) == 0)
			removed++;
	return removed;
}

/* Keep the current mcp.json as mcp.json.bak: a hard link (same bytes, no
 * copy), else a copy written and synced; both land by rename. */
static int backup(int dirfd)
{
	struct stat sb;
	if (fstatat(dirfd, DP_AGENT_MCP_FILE, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	const char *tmp = ".mcp.json.bak.tmp";
	unlinkat(dirfd, tmp, 0);
	if (linkat(dirfd, DP_AGENT_MCP_FILE, dirfd, tmp, 0) < 0) {
		char *text = NULL;
		size_t len = 0;
		int rc = dp_agent_mcp_read(dirfd, &text, &len);
		if (rc < 0)
			return rc;
		int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			free(text);
			return -errno;
		}
		rc = dp_write_all(fd, text, len);
		free(text);
		if (!rc && fsync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc) {
			unlinkat(dirfd, tmp, 0);
			return rc;
		}
	}
	if (renameat(dirfd, tmp, dirfd, DP_AGENT_MCP_BACKUP) < 0) {
		int e = -errno;
		unlinkat(dirfd, tmp, 0);
		return e;
	}
	return 0;
}

int dp_agent_mcp_write(int dirfd, const char *text, size_t len, enum dp_agent_mcp_fault fault)
{
	if (len > DP_AGENT_MCP_MAX)
		return -EFBIG;
	struct stat sb;
	if (fstatat(dirfd, DP_AGENT_MCP_FILE, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(sb.st_mode))
		return S_ISLNK(sb.st_mode) ? -ELOOP : -EINVAL;
	dp_agent_mcp_clean_temps(dirfd);
	char tmp[64];
	unsigned char rnd[8];
	char hex[17];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), "%s%s", DP_AGENT_MCP_TMP_PREFIX, hex);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = dp_write_all(fd, text, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	if (fault == DP_AGENT_MCP_CRASH_BEFORE_RENAME)
		return -EIO; /* the temporary file stays, as after a crash */
	rc = backup(dirfd);
	if (!rc && renameat(dirfd, tmp, dirfd, DP_AGENT_MCP_FILE) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}
