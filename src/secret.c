/*
 * secret.c - the token encryption key file and crypto_secretbox helpers
 * (see secret.h for the format and the file rules).
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "xmalloc.h"

#define PREFIX     "v1:"
#define PREFIX_LEN 3

struct dp_secret {
	unsigned char *key; /* sodium_malloc, DP_SECRET_KEY_BYTES */
};

static struct dp_secret *secret_new(void)
{
	if (sodium_init() < 0)
		return NULL;
	struct dp_secret *s = xcalloc(1, sizeof(*s));
	s->key = sodium_malloc(DP_SECRET_KEY_BYTES);
	if (!s->key) {
		free(s);
		return NULL;
	}
	return s;
}

struct dp_secret *dp_secret_from_key(const unsigned char key[DP_SECRET_KEY_BYTES])
{
	struct dp_secret *s = secret_new();
	if (s)
		memcpy(s->key, key, DP_SECRET_KEY_BYTES);
	return s;
}

void dp_secret_free(struct dp_secret *s)
{
	if (!s)
		return;
	sodium_free(s->key); /* zeroes before freeing */
	free(s);
}

void dp_secret_wipe_free(char *p)
{
	if (!p)
		return;
	sodium_memzero(p, strlen(p));
	free(p);
}

static int fail(char **err, int rc, char *msg)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return rc;
}

static int read_all(int fd, unsigned char *p, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = read(fd, p + *got, n - *got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int create_key(const char *path, struct dp_secret *s, char **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno; /* EEXIST: the caller reads it */
	randombytes_buf(s->key, DP_SECRET_KEY_BYTES);
	int rc = fchmod(fd, 0600) < 0 ? -errno : 0; /* whatever the umask */
	if (rc == 0)
		rc = dp_write_all(fd, s->key, DP_SECRET_KEY_BYTES);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(path);
		return fail(err, rc, xasprintf("cannot write the secret key '%s': %s", path, strerror(-rc)));
	}
	(void)dp_fsync_parent(path);
	return 1;
}

static int read_key(const char *path, struct dp_secret *s, char **err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		return fail(err, rc, xasprintf("cannot open the secret key '%s': %s", path, strerror(-rc)));
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return fail(err, rc, xasprintf("cannot stat the secret key '%s': %s", path, strerror(-rc)));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, -EINVAL, xasprintf("secret key '%s' is not a regular file", path));
	}
	if (st.st_mode & 077) {
		close(fd);
		return fail(
		        err, -EPERM,
		        xasprintf("secret key '%s' has mode %04o; it must be readable by its owner only (chmod 600)",
		                  path, (unsigned)(st.st_mode & 07777)));
	}
	if (st.st_size != DP_SECRET_KEY_BYTES) {
		close(fd);
		return fail(err, -EINVAL,
		            xasprintf("secret key '%s' must be exactly %d bytes (it has %lld)", path,
		                      DP_SECRET_KEY_BYTES, (long long)st.st_size));
	}
	size_t got;
	rc = read_all(fd, s->key, DP_SECRET_KEY_BYTES, &got);
	close(fd);
	if (rc == 0 && got != DP_SECRET_KEY_BYTES)
		rc = -EIO;
	if (rc < 0)
		return fail(err, rc, xasprintf("cannot read the secret key '%s': %s", path, strerror(-rc)));
	return 0;
}

int dp_secret_open(const char *data_dir, struct dp_secret **out, int *created, char **err)
{
	*out = NULL;
	if (created)
		*created = 0;
	struct dp_secret *s = secret_new();
	if (!s)
		return fail(err, -ENOMEM, xstrdup("cannot initialise libsodium"));
	char *path = xasprintf("%s/%s", data_dir, DP_SECRET_KEY_FILE);
	int rc = create_key(path, s, err);
	if (rc == -EEXIST)
		rc = read_key(path, s, err);
	else if (rc < 0 && err && !*err)
		*err = xasprintf("cannot create the secret key '%s': %s", path, strerror(-rc));
	free(path);
	if (rc < 0) {
		dp_secret_free(s);
		return rc;
	}
	if (created)
		*created = rc == 1;
	*out = s;
	return 0;
}

char *dp_secret_encrypt(const struct dp_secret *s, const char *plain, size_t len)
{
	if (len > DP_SECRET_MAX_PLAIN)
		return NULL;
	size_t raw_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
	unsigned char *raw = xmalloc(raw_len);
	randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, len, raw, s->key);
	size_t b64 = sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(PREFIX_LEN + b64);
	memcpy(out, PREFIX, PREFIX_LEN);
	sodium_bin2base64(out + PREFIX_LEN, b64, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
	free(raw);
	return out;
}

int dp_secret_decrypt(const struct dp_secret *s, const char *enc, char **plain, size_t *len)
{
	*plain = NULL;
	if (len)
		*len = 0;
	if (!enc || strncmp(enc, PREFIX, PREFIX_LEN) != 0)
		return -EINVAL;
	const char *b = enc + PREFIX_LEN;
	size_t blen = strlen(b);
	size_t max = blen / 4 * 3 + 3;
	if (blen > 2 * DP_SECRET_MAX_PLAIN + 256)
		return -EINVAL;
	unsigned char *raw = xmalloc(max);
	size_t raw_len = 0;
	if (sodium_base642bin(raw, max, b, blen, NULL, &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    raw_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		free(raw);
		return -EINVAL;
	}
	size_t n = raw_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	char *p = xmalloc(n + 1);
	if (crypto_secretbox_open_easy((unsigned char *)p, raw + crypto_secretbox_NONCEBYTES,
	                               raw_len - crypto_secretbox_NONCEBYTES, raw, s->key) != 0) {
		free(raw);
		free(p);
		return -EBADMSG;
	}
	free(raw);
	p[n] = '\0';
	if (memchr(p, '\0', n)) { /* a token never contains NUL */
		sodium_memzero(p, n);
		free(p);
		return -EINVAL;
	}
	*plain = p;
	if (len)
		*len = n;
	return 0;
}
