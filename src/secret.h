/*
 * secret.h - the key that encrypts LM Studio tokens at rest, and the
 * encrypt/decrypt helpers (libsodium crypto_secretbox: XSalsa20-Poly1305).
 *
 * The key is 32 random bytes in DATA_DIR/secret.key, created on first start
 * with O_CREAT|O_EXCL and mode 0600, written and fsync'ed (file and
 * directory). It is never stored in the database and there is no default:
 * without the file nothing stored can be decrypted. An existing file must be
 * a regular file of exactly 32 bytes that neither group nor others can read;
 * anything else stops start-up with a message naming the file.
 *
 * Ciphertexts are text: "v1:" + base64 (original, padded) of a random
 * 24-byte nonce followed by the secretbox output (MAC + ciphertext), so the
 * same token encrypts differently every time and a wrong key or a modified
 * value fails authentication instead of yielding garbage.
 *
 * struct dp_secret keeps the key in sodium_malloc'ed memory (guard pages,
 * no core dumps where supported) and wipes it in dp_secret_free().
 */
#ifndef DP_SECRET_H
#define DP_SECRET_H

#include <stddef.h>

struct dp_secret;

#define DP_SECRET_KEY_FILE  "secret.key"
#define DP_SECRET_KEY_BYTES 32
#define DP_SECRET_MAX_PLAIN 4096 /* longest value encrypted */

/* Load DATA_DIR/secret.key, creating it when missing (*created set to 1).
 * 0 and *out, or -errno with a heap message in *err. */
int dp_secret_open(const char *data_dir, struct dp_secret **out, int *created, char **err);
/* A secret from raw key bytes (tests). */
struct dp_secret *dp_secret_from_key(const unsigned char key[DP_SECRET_KEY_BYTES]);
void dp_secret_free(struct dp_secret *s);

/* Encrypt `len` bytes: a heap string "v1:..." (free()), or NULL when len is
 * larger than DP_SECRET_MAX_PLAIN. */
char *dp_secret_encrypt(const struct dp_secret *s, const char *plain, size_t len);
/* Decrypt into a heap string (NUL-terminated; wipe with
 * dp_secret_wipe_free()). 0, -EINVAL (not our format), -EBADMSG (wrong key
 * or tampered). */
int dp_secret_decrypt(const struct dp_secret *s, const char *enc, char **plain, size_t *len);
/* sodium_memzero + free of a string. NULL is a no-op. */
void dp_secret_wipe_free(char *p);

#endif
