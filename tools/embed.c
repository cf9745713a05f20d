/*
 * embed.c - build tool: turn web/dist into build/gen/webui_assets.c.
 *
 *   build/tools/embed web/dist > build/gen/webui_assets.c
 *
 * Walks the directory (regular files only; dot-files and symlinks are
 * skipped), sorts the paths, and prints a C file defining the table declared
 * in src/webui_assets.h: each file as a byte array, plus a gzip copy (zlib
 * level 9, mtime 0) for text types when it is smaller, a content type from
 * the extension, and an ETag from a 64-bit FNV-1a hash of the content.
 * Output depends only on the files' paths and bytes (deterministic). A
 * missing or empty directory produces a valid table with no entries.
 *
 * Stand-alone on purpose (libc + zlib): it runs before anything else builds.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MAX_FILES      4096
#define MAX_FILE_BYTES (64u << 20)
#define MAX_PATH       1024

struct file {
	char rel[MAX_PATH]; /* "/assets/x.js" */
	char full[MAX_PATH * 2];
};

static struct file *files;
static size_t nfiles;

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "embed: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static void walk(const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT && rel[0] == '\0')
			return; /* no web/dist: empty table */
		die("cannot open directory", dir);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char full[MAX_PATH * 2], r[MAX_PATH];
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= sizeof(full) ||
		    (size_t)snprintf(r, sizeof(r), "%s/%s", rel, de->d_name) >= sizeof(r))
			die("path too long", de->d_name);
		struct stat st;
		if (lstat(full, &st) < 0)
			die("cannot stat", full);
		if (S_ISDIR(st.st_mode)) {
			walk(full, r);
		} else if (S_ISREG(st.st_mode)) {
			if (nfiles == MAX_FILES)
				die("too many files", dir);
			for (const char *p = r; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == '?')
					die("unsupported character in file name", r);
			memcpy(files[nfiles].rel, r, strlen(r) + 1);
			memcpy(files[nfiles].full, full, strlen(full) + 1);
			nfiles++;
		}
	}
	closedir(d);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->rel, ((const struct file *)b)->rel);
}

static const struct {
	const char *ext, *ctype;
	int text;
} types[] = {
        {".html", "text/html; charset=utf-8", 1},
        {".js", "text/javascript; charset=utf-8", 1},
        {".mjs", "text/javascript; charset=utf-8", 1},
        {".css", "text/css; charset=utf-8", 1},
        {".json", "application/json", 1},
        {".map", "application/json", 1},
        {".webmanifest", "application/manifest+json", 1},
        {".svg", "image/svg+xml", 1},
        {".txt", "text/plain; charset=utf-8", 1},
        {".xml", "application/xml", 1},
        {".ico", "image/x-icon", 1},
        {".wasm", "application/wasm", 1},
        {".png", "image/png", 0},
        {".jpg", "image/jpeg", 0},
        {".jpeg", "image/jpeg", 0},
        {".gif", "image/gif", 0},
        {".webp", "image/webp", 0},
        {".avif", "image/avif", 0},
        {".woff", "font/woff", 0},
        {".woff2", "font/woff2", 0},
        {".ttf", "font/ttf", 0},
        {".otf", "font/otf", 0},
};

static void type_of(const char *path, const char **ctype, int *text)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	*ctype = "application/octet-stream";
	*text = 0;
	if (!dot || (slash && dot < slash))
		return;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0) {
			*ctype = types[i].ctype;
			*text = types[i].text;
			return;
		}
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open", path);
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || (uint64_t)st.st_size > MAX_FILE_BYTES)
		die("file too large or unreadable", path);
	size_t n = (size_t)st.st_size;
	unsigned char *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory", NULL);
	if (fread(p, 1, n, f) != n)
		die("short read", path);
	fclose(f);
	*len = n;
	return p;
}

/* gzip (RFC 1952) with zlib's defaults: mtime 0, no name: deterministic. */
static unsigned char *gzip(const unsigned char *in, size_t n, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2 failed", NULL);
	size_t cap = deflateBound(&z, n) + 32;
	unsigned char *out = malloc(cap);
	if (!out)
		die("out of memory", NULL);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		die("deflate failed", NULL);
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void emit_bytes(const char *name, size_t idx, const unsigned char *p, size_t n)
{
	printf("static const unsigned char %s%zu[%zu] = {", name, idx, n ? n : 1);
	if (!n)
		printf("0");
	for (size_t i = 0; i < n; i++)
		printf("%s%u,", i % 24 == 0 ? "\n" : "", p[i]);
	printf("\n};\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: embed DIR > webui_assets.c\n");
		return 2;
	}
	files = calloc(MAX_FILES, sizeof(*files));
	if (!files)
		die("out of memory", NULL);
	walk(argv[1], "");
	qsort(files, nfiles, sizeof(*files), cmp);

	printf("/* Generated by tools/embed.c from web/dist. Do not edit. */\n"
	       "#include \"webui_assets.h\"\n\n");
	size_t *gzlen = calloc(nfiles + 1, sizeof(size_t));
	size_t *len = calloc(nfiles + 1, sizeof(size_t));
	uint64_t *hash = calloc(nfiles + 1, sizeof(uint64_t));
	if (!gzlen || !len || !hash)
		die("out of memory", NULL);
	for (size_t i = 0; i < nfiles; i++) {
		const char *ctype;
		int text;
		type_of(files[i].rel, &ctype, &text);
		unsigned char *data = slurp(files[i].full, &len[i]);
		hash[i] = fnv1a(data, len[i]);
		emit_bytes("d", i, data, len[i]);
		if (text && len[i] > 0) {
			size_t gl;
			unsigned char *gz = gzip(data, len[i], &gl);
			if (gl < len[i]) {
				emit_bytes("z", i, gz, gl);
				gzlen[i] = gl;
			}
			free(gz);
		}
		free(data);
	}
	printf("\nconst struct dp_webui_asset dp_webui_assets[] = {\n");
	for (size_t i = 0; i < nfiles; i++) {
		const char *ctype;
		int text;
		type_of(files[i].rel, &ctype, &text);
		printf("\t{ \"%s\", \"%s\", d%zu, %zu, ", files[i].rel, ctype, i, len[i]);
		if (gzlen[i])
			printf("z%zu, %zu, ", i, gzlen[i]);
		else
			printf("0, 0, ");
		printf("\"\\\"%016llx\\\"\" },\n", (unsigned long long)hash[i]);
	}
	if (!nfiles)
		printf("\t{ 0 },\n");
	printf("};\nconst size_t dp_webui_nassets = %zu;\n", nfiles);
	free(gzlen);
	free(len);
	free(hash);
	free(files);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write error", NULL);
	return 0;
}
