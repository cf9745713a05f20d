/*
 * amdgpu.c - amdgpu sysfs reader (see amdgpu.h). Small files are read with
 * one bounded read(2) each; every parse is checked (strtoull with end
 * pointer) and a file that does not hold a number is treated as missing.
 */
#include "amdgpu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL 256

/* Read a small text file; trailing whitespace stripped. 0 or -errno. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

static int read_u64(const char *dir, const char *file, unsigned long long *v)
{
	char path[PATH_MAX], buf[SMALL];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int rc = read_small(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (!buf[0] || buf[0] == '-')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(buf, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int read_text(const char *dir, const char *file, char *out, size_t len)
{
	char path[PATH_MAX], buf[SMALL];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	int rc = read_small(path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (!buf[0])
		return -ENODATA;
	size_t i = 0;
	for (; i + 1 < len && buf[i]; i++)
		out[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	out[i] = '\0';
	return 0;
}

static int is_card(const char *name, long *num)
{
	if (strncmp(name, "card", 4) != 0 || !name[4])
		return 0;
	char *end;
	long n = strtol(name + 4, &end, 10);
	if (*end || n < 0 || name[4] < '0' || name[4] > '9')
		return 0;
	*num = n;
	return 1;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	size_t i = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i)
		memmove(s, s + i, strlen(s + i) + 1);
}

int dp_amdgpu_ids_lookup(const char *ids_path, unsigned device, unsigned revision, char *name, size_t len)
{
	FILE *f = fopen(ids_path ? ids_path : DP_AMDGPU_IDS_DEFAULT, "re");
	if (!f)
		return -ENOENT;
	char line[512];
	int rc = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *c1 = strchr(line, ',');
		if (!c1)
			continue;
		char *c2 = strchr(c1 + 1, ',');
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		char *end;
		unsigned long d = strtoul(line, &end, 16);
		if (end == line)
			continue;
		unsigned long r = strtoul(c1 + 1, &end, 16);
		if (end == c1 + 1)
			continue;
		if (d == device && r == revision) {
			char *p = c2 + 1;
			trim(p);
			snprintf(name, len, "%s", p);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* The hwmon directory of the card whose `name` is amdgpu; 0 or -ENOENT. */
static int find_hwmon(const char *dev, char *out, size_t len)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/hwmon", dev) >= sizeof(path))
		return -ENOENT;
	DIR *d = opendir(path);
	if (!d)
		return -ENOENT;
	struct dirent *e;
	int rc = -ENOENT;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "hwmon", 5) != 0)
			continue;
		char hw[PATH_MAX], nm[64];
		if ((size_t)snprintf(hw, sizeof(hw), "%s/%s", path, e->d_name) >= sizeof(hw))
			continue;
		if (read_text(hw, "name", nm, sizeof(nm)) == 0 && !strcmp(nm, "amdgpu")) {
			snprintf(out, len, "%s", hw);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int read_card(const char *root, const char *ids, long num, struct dp_gpu *g)
{
	char dev[PATH_MAX], path[PATH_MAX], link[PATH_MAX], txt[DP_GPU_NAME_MAX];
	if ((size_t)snprintf(dev, sizeof(dev), "%s/class/drm/card%ld/device", root, num) >= sizeof(dev))
		return -1;
	unsigned long long vendor, devid = 0, rev = 0, v;
	if (read_u64(dev, "vendor", &vendor) < 0 || vendor != 0x1002)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/driver", dev) >= sizeof(path))
		return -1;
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = '\0';
	const char *base = strrchr(link, '/');
	if (strcmp(base ? base + 1 : link, "amdgpu") != 0)
		return -1;

	memset(g, 0, sizeof(*g));
	memcpy(g->vendor, "amd", 4);
	/* PCI address: the last component of the device directory */
	char real[PATH_MAX];
	if (realpath(dev, real)) {
		const char *b = strrchr(real, '/');
		snprintf(g->pci, sizeof(g->pci), "%.31s", b ? b + 1 : real);
		g->have |= DP_GPU_HAVE_PCI;
	}
	read_u64(dev, "device", &devid);
	read_u64(dev, "revision", &rev);
	if (read_text(dev, "product_name", txt, sizeof(txt)) == 0 ||
	    dp_amdgpu_ids_lookup(ids, (unsigned)devid, (unsigned)rev, txt, sizeof(txt)) == 0)
		snprintf(g->name, sizeof(g->name), "%s", txt);
	else
		snprintf(g->name, sizeof(g->name), "AMD GPU 0x%04llx", devid);
	g->have |= DP_GPU_HAVE_NAME;
	if (read_text(dev, "unique_id", txt, sizeof(txt)) == 0) {
		snprintf(g->uuid, sizeof(g->uuid), "%s", txt);
		g->have |= DP_GPU_HAVE_UUID;
	}
	unsigned long long total, used;
	if (read_u64(dev, "mem_info_vram_total", &total) == 0) {
		g->mem_total = total;
		g->have |= DP_GPU_HAVE_MEM_TOTAL;
		if (read_u64(dev, "mem_info_vram_used", &used) == 0 && used <= total) {
			g->mem_used = used;
			g->mem_free = total - used;
			g->have |= DP_GPU_HAVE_MEM_USED | DP_GPU_HAVE_MEM_FREE;
		}
	}
	/* APUs: a small VRAM carve-out, the model mostly lives in GTT */
	unsigned long long gt, gu;
	if (read_u64(dev, "mem_info_gtt_total", &gt) == 0 && read_u64(dev, "mem_info_gtt_used", &gu) == 0 && gu <= gt) {
		g->gtt_total = gt;
		g->gtt_used = gu;
		g->have |= DP_GPU_HAVE_GTT;
	}
	if (read_u64(dev, "gpu_busy_percent", &v) == 0 && v <= 100) {
		g->util_gpu = (double)v / 100.0;
		g->have |= DP_GPU_HAVE_UTIL_GPU;
	}
	if (read_u64(dev, "mem_busy_percent", &v) == 0 && v <= 100) {
		g->util_mem = (double)v / 100.0;
		g->have |= DP_GPU_HAVE_UTIL_MEM;
	}
	char hw[PATH_MAX];
	if (find_hwmon(dev, hw, sizeof(hw)) == 0) {
		if (read_u64(hw, "temp1_input", &v) == 0) {
			g->temp_c = (double)v / 1000.0;
			g->have |= DP_GPU_HAVE_TEMP;
		}
		if (read_u64(hw, "power1_average", &v) == 0 || read_u64(hw, "power1_input", &v) == 0) {
			g->power_w = (double)v / 1e6;
			g->have |= DP_GPU_HAVE_POWER;
		}
		if (read_u64(hw, "power1_cap", &v) == 0) {
			g->power_limit_w = (double)v / 1e6;
			g->have |= DP_GPU_HAVE_POWER_LIMIT;
		}
		if (read_u64(hw, "pwm1", &v) == 0 && v <= 255) {
			g->fan_ratio = (double)v / 255.0;
			g->have |= DP_GPU_HAVE_FAN;
		}
		if (read_u64(hw, "freq1_input", &v) == 0) {
			g->clk_graphics = (unsigned)(v / 1000000);
			g->have |= DP_GPU_HAVE_CLK_GRAPHICS;
		}
		if (read_u64(hw, "freq2_input", &v) == 0) {
			g->clk_mem = (unsigned)(v / 1000000);
			g->have |= DP_GPU_HAVE_CLK_MEM;
		}
	}
	return 0;
}

int dp_amdgpu_scan(const char *root, const char *ids_path, struct dp_gpu *out, int max)
{
	if (!root || !*root)
		root = "/sys";
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/class/drm", root) >= sizeof(path))
		return -ENAMETOOLONG;
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	long cards[64];
	int nc = 0;
	struct dirent *e;
	while ((e = readdir(d)) && nc < 64) {
		long num;
		if (is_card(e->d_name, &num))
			cards[nc++] = num;
	}
	closedir(d);
	qsort(cards, (size_t)nc, sizeof(cards[0]), cmp_long);
	int n = 0;
	for (int i = 0; i < nc && n < max; i++) {
		if (read_card(root, ids_path, cards[i], &out[n]) == 0) {
			out[n].index = n;
			n++;
		}
	}
	return n;
}

/* "1048576 KiB" -> bytes; -1 when not a number. */
static int parse_mem(const char *v, uint64_t *out)
{
	while (*v == ' ' || *v == '\t')
		v++;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (!strncmp(end, "KiB", 3))
		x *= 1024ULL;
	else if (!strncmp(end, "MiB", 3))
		x *= 1024ULL * 1024ULL;
	else if (!strncmp(end, "GiB", 3))
		x *= 1024ULL * 1024ULL * 1024ULL;
	*out = x;
	return 0;
}

int dp_amdgpu_fdinfo_vram(const char *proc_root, uint32_t pid, const char *pci, uint64_t *seen, int *nseen,
                          int max_seen, uint64_t *bytes)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%u/fdinfo", proc_root, pid) >= sizeof(dir))
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) && files < 4096) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		files++;
		char path[PATH_MAX], buf[2048];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue;
		int amd = 0, dev = 0, have_id = 0, have_mem = 0, have_res = 0;
		uint64_t id = 0, mem = 0, res = 0;
		for (char *line = buf; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			char *colon = strchr(line, ':');
			if (colon) {
				*colon = '\0';
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				if (!strcmp(line, "drm-driver"))
					amd = !strcmp(v, "amdgpu");
				else if (!strcmp(line, "drm-pdev"))
					dev = !strcmp(v, pci);
				else if (!strcmp(line, "drm-client-id"))
					have_id = parse_mem(v, &id) == 0;
				else if (!strcmp(line, "drm-memory-vram"))
					have_mem = parse_mem(v, &mem) == 0;
				else if (!strcmp(line, "drm-resident-vram"))
					have_res = parse_mem(v, &res) == 0;
			}
			line = nl ? nl + 1 : NULL;
		}
		if (!amd || !dev || !have_id || (!have_mem && !have_res))
			continue;
		int dup = 0;
		for (int i = 0; i < *nseen && !dup; i++)
			dup = seen[i] == id;
		if (dup)
			continue;
		if (*nseen < max_seen)
			seen[(*nseen)++] = id;
		*bytes += have_mem ? mem : res;
	}
	closedir(d);
	return 0;
}
