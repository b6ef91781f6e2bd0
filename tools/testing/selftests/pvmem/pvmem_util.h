/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for pvmem's guest selftests.
 *
 * The host rig (tools/testing/pvmem/rig/) answers requests on /dev/ttyS1:
 *   "@@pvmem-host <seq> devs"                 -> ids of the virtio-mem devices
 *   "@@pvmem-host <seq> get <dev> <property>" -> a QOM property over QMP
 *   "@@pvmem-host <seq> set <dev> <bytes>"    -> qom-set requested-size
 * with "@@pvmem-reply <seq> <length> ok|err <value>", <length> that of
 * "ok|err <value>".  Everything else here reads
 * the guest's own view: /proc/meminfo, node meminfo, memory block sysfs.
 */
#ifndef _PVMEM_UTIL_H
#define _PVMEM_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/*
 * Moving gigabytes under TCG takes longer than the harness's 30 s default;
 * TEST() picks this up when it expands, after this header.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define PVMEM_HOST_TTY "/dev/ttyS1"

static int pvmem_host_fd = -1;

/*
 * Bytes the guest receives on ttyS1 can go missing (the rig's run() says
 * when): a request is sent again when no whole reply came within
 * HOST_REQ_WAIT seconds, at most HOST_REQ_TRIES times.  A reply carries
 * the length of its "ok|err <value>" part, so one that lost bytes is
 * ignored rather than read wrong.  The host answers every copy; the
 * requests are all safe to repeat.
 */
#define HOST_REQ_WAIT 10
#define HOST_REQ_TRIES 30

/* Send one request to the host rig; the reply's value goes to @val. */
static inline int host_req(char *val, size_t len, const char *fmt, ...)
{
	static unsigned int seq;
	char req[512], line[512], want[64];
	int tries = 0, send = 1;
	size_t n = 0;
	va_list ap;
	int k;

	if (pvmem_host_fd < 0) {
		pvmem_host_fd = open(PVMEM_HOST_TTY, O_RDWR | O_NOCTTY);
		if (pvmem_host_fd < 0)
			return -errno;
	}
	k = snprintf(req, sizeof(req), "@@pvmem-host %u ", ++seq);
	va_start(ap, fmt);
	k += vsnprintf(req + k, sizeof(req) - k, fmt, ap);
	va_end(ap);
	k += snprintf(req + k, sizeof(req) - k, "\n");
	snprintf(want, sizeof(want), "@@pvmem-reply %u ", seq);
	for (;;) {
		struct pollfd pfd = { .fd = pvmem_host_fd, .events = POLLIN };
		char *body, *end;
		unsigned long blen;
		char c;
		int r;

		if (send) {
			if (tries++ == HOST_REQ_TRIES)
				return -ETIMEDOUT;
			if (write(pvmem_host_fd, req, k) != k)
				return -EIO;
			send = 0;
		}
		r = poll(&pfd, 1, HOST_REQ_WAIT * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r) {
			/* A partial line is lost for good. */
			n = 0;
			send = 1;
			continue;
		}
		if (read(pvmem_host_fd, &c, 1) != 1)
			return -EIO;
		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		line[n] = '\0';
		n = 0;
		if (strncmp(line, want, strlen(want)))
			continue;
		blen = strtoul(line + strlen(want), &end, 10);
		if (*end != ' ' || strlen(end + 1) != blen)
			continue;
		body = end + 1;
		if (val)
			snprintf(val, len, "%s", body + 3);
		return strncmp(body, "ok ", 3) ? -EINVAL : 0;
	}
}

/* A numeric QOM property of a device ("size", "requested-size", ...). */
static inline int64_t host_get(const char *dev, const char *prop)
{
	char val[128];

	if (host_req(val, sizeof(val), "get %s %s", dev, prop))
		return -1;
	return strtoll(val, NULL, 0);
}

static inline int host_set(const char *dev, uint64_t bytes)
{
	return host_req(NULL, 0, "set %s %" PRIu64, dev, bytes);
}

/* Wait until the host sees @bytes plugged; 0 on success. */
/*
 * Have the host wake the guest @secs seconds from now: "tty" (a byte on
 * the control line; needs ttyS1 as a wakeup source) or "acpi" (QMP
 * system_wakeup).
 */
static inline int host_wake(int secs, const char *how)
{
	char val[32];

	return host_req(val, sizeof(val), "wake %d %s", secs, how);
}

static inline int host_wait_size(const char *dev, uint64_t bytes, int timeout_s)
{
	time_t end = time(NULL) + timeout_s;

	while (host_get(dev, "size") != (int64_t)bytes) {
		if (time(NULL) > end)
			return -ETIMEDOUT;
		usleep(100 * 1000);
	}
	return 0;
}

/* A "Key: N kB" field of a meminfo file, in bytes; -1 if missing. */
static inline int64_t meminfo_field(const char *path, const char *key)
{
	char line[256];
	int64_t kb = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);

		if (p && p[strlen(key)] == ':') {
			kb = strtoll(p + strlen(key) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/*
 * Bytes of a /proc/zoneinfo count (@field: " pages free %lld",
 * " present %lld") in zones named @zone (e.g. "Movable"), over all nodes.
 */
static inline int64_t zone_bytes(const char *zone, const char *field)
{
	char line[256], name[32];
	int64_t pages = 0;
	int in_zone = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long long v;

		if (sscanf(line, "Node %*d, zone %31s", name) == 1)
			in_zone = !strcmp(name, zone);
		else if (in_zone && sscanf(line, field, &v) == 1)
			pages += v;
	}
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

/* Free bytes in zones named @zone, over all nodes. */
static inline int64_t zone_free(const char *zone)
{
	return zone_bytes(zone, " pages free %lld");
}

/* Present bytes in zones named @zone, over all nodes. */
static inline int64_t zone_present(const char *zone)
{
	return zone_bytes(zone, " present %lld");
}

static inline int64_t mem_total(void)
{
	return meminfo_field("/proc/meminfo", "MemTotal");
}

static inline int64_t node_mem_total(int node)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 node);
	return meminfo_field(path, "MemTotal");
}

/* First line of a file ("" if unreadable); @fmt builds the path. */
static inline char *read_line(char *buf, size_t len, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf;
}

static inline uint64_t read_u64(const char *path, int base)
{
	char buf[64];

	return strtoull(read_line(buf, sizeof(buf), "%s", path), NULL, base);
}

static inline uint64_t memory_block_size(void)
{
	return read_u64("/sys/devices/system/memory/block_size_bytes", 16);
}

/* Memory blocks inside [start, start + size) that exist, online, on @node. */
struct pvmem_blocks {
	int present;
	int online;
	int on_node;
	int movable;
};

static inline struct pvmem_blocks region_blocks(uint64_t start, uint64_t size,
						int node)
{
	const uint64_t mb = memory_block_size();
	struct pvmem_blocks b = { 0 };
	struct dirent *de;
	DIR *d = opendir("/sys/devices/system/memory");

	while (d && (de = readdir(d))) {
		const char *sys = "/sys/devices/system/memory";
		char path[300], buf[64];
		uint64_t idx, addr;

		if (strncmp(de->d_name, "memory", 6) || de->d_name[6] < '0' ||
		    de->d_name[6] > '9')
			continue;
		idx = strtoull(de->d_name + 6, NULL, 10);
		addr = idx * mb;
		if (addr < start || addr >= start + size)
			continue;
		b.present++;
		snprintf(path, sizeof(path), "%s/%s/node%d", sys, de->d_name,
			 node);
		if (!access(path, F_OK))
			b.on_node++;
		/*
		 * valid_zones only of online blocks: for a block still being
		 * added (no node yet) 6.1 and 6.12 dereference
		 * NODE_DATA(NUMA_NO_NODE).
		 */
		if (strncmp(read_line(buf, sizeof(buf), "%s/%s/state", sys,
				      de->d_name),
			    "online", 6))
			continue;
		b.online++;
		if (!strncmp(read_line(buf, sizeof(buf), "%s/%s/valid_zones",
				       sys, de->d_name),
			     "Movable", 7))
			b.movable++;
	}
	if (d)
		closedir(d);
	return b;
}

/*
 * Wait up to two minutes until exactly @n memory blocks of [start, start +
 * size) exist, all online; 0 then, else -1.
 */
static inline int wait_region_blocks(uint64_t start, uint64_t size, int node,
				     int n)
{
	struct pvmem_blocks b;
	int i;

	for (i = 0; i < 1200; i++) {
		b = region_blocks(start, size, node);
		if (b.present == n && b.online == n)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

/* The first virtio-mem device the host rig has, or NULL. */
static inline const char *first_dev(void)
{
	static char devs[256];
	char *sp;

	if (host_req(devs, sizeof(devs), "devs"))
		return NULL;
	sp = strchr(devs, ' ');
	if (sp)
		*sp = '\0';
	return devs[0] ? devs : NULL;
}

/* Write a string to a sysfs file; 0 or -errno. */
static inline int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), rc;

	if (fd < 0)
		return -errno;
	rc = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
	close(fd);
	return rc;
}

/* Does the kernel log contain @needle? */
static inline int dmesg_has(const char *needle)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "dmesg | grep -q -- '%s'", needle);
	return system(cmd) == 0;
}

/* Has the OOM killer run since boot? */
static inline int oom_seen(void)
{
	return dmesg_has("invoked oom-killer") || dmesg_has("Out of memory");
}

/* Count pages of @buf whose physical address lies in [start, end). */
static inline uint64_t pages_in_range(void *buf, size_t len, uint64_t start,
				      uint64_t end)
{
	const long psz = sysconf(_SC_PAGESIZE);
	uint64_t n = 0, ent;
	size_t off;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	for (off = 0; off < len; off += psz) {
		uint64_t vpn = ((uintptr_t)buf + off) / psz, pa;

		if (pread(fd, &ent, 8, vpn * 8) != 8)
			break;
		if (!(ent >> 63))
			continue;
		pa = (ent & ((1ULL << 55) - 1)) * psz;
		if (pa >= start && pa < end)
			n++;
	}
	close(fd);
	return n;
}

/* A pseudo-random word stream, the same for the same seed. */
static inline uint64_t pattern_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Write a tmpfs file of @size; return its checksum, 0 if short. */
static inline uint64_t write_file(const char *path, size_t size, uint64_t seed)
{
	uint64_t buf[8192], sum = 0, s = seed;
	size_t done, i;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return 0;
	for (done = 0; done < size; done += sizeof(buf)) {
		for (i = 0; i < ARRAY_SIZE(buf); i++) {
			buf[i] = pattern_next(&s);
			sum += buf[i] * (i + 1);
		}
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			sum = 0;
			break;
		}
	}
	close(fd);
	return sum;
}

static inline uint64_t sum_file(const char *path)
{
	uint64_t buf[8192], sum = 0;
	size_t i;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 1;
	while (read(fd, buf, sizeof(buf)) == sizeof(buf))
		for (i = 0; i < ARRAY_SIZE(buf); i++)
			sum += buf[i] * (i + 1);
	close(fd);
	return sum;
}

/*
 * A process holding @len bytes of patterned anonymous memory.  It reports
 * how many of its pages lie in [lo, hi) once written, then verifies
 * everything when told to and exits 0 if it is intact.
 */
struct holder {
	pid_t pid;
	int to[2], from[2];
};

static inline int holder_start(struct holder *h, size_t len, uint64_t lo,
			       uint64_t hi, uint64_t *in_range)
{
	if (pipe(h->to) || pipe(h->from))
		return -1;
	h->pid = fork();
	if (!h->pid) {
		uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t s = 42, n, bad = 0;
		size_t i;
		char c;

		if (p == MAP_FAILED)
			_exit(2);
		for (i = 0; i < len / 8; i++)
			p[i] = pattern_next(&s);
		n = pages_in_range(p, len, lo, hi);
		if (write(h->from[1], &n, sizeof(n)) != sizeof(n) ||
		    read(h->to[0], &c, 1) != 1)
			_exit(3);
		for (s = 42, i = 0; i < len / 8; i++)
			bad += p[i] != pattern_next(&s);
		_exit(bad ? 1 : 0);
	}
	return read(h->from[0], in_range, sizeof(*in_range)) ==
			       sizeof(*in_range) ?
		       0 :
		       -1;
}

/* Tell the holder to verify; return its exit status (0: intact). */
static inline int holder_check(struct holder *h)
{
	int status = -1;

	if (write(h->to[1], "c", 1) != 1 ||
	    waitpid(h->pid, &status, 0) != h->pid)
		return -1;
	close(h->to[0]);
	close(h->to[1]);
	close(h->from[0]);
	close(h->from[1]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Write to a memory block's state file; 0 on success. */
static inline int set_block_state(uint64_t addr, uint64_t mb, const char *state)
{
	char path[128];

	snprintf(path, sizeof(path),
		 "/sys/devices/system/memory/memory%" PRIu64 "/state",
		 addr / mb);
	return sysfs_write(path, state);
}

static inline int block_exists(uint64_t addr, uint64_t mb)
{
	char path[128];

	snprintf(path, sizeof(path),
		 "/sys/devices/system/memory/memory%" PRIu64, addr / mb);
	return !access(path, F_OK);
}

/* --- the (first) bound pvmem device's sysfs attributes --- */

#define DRV "/sys/bus/virtio/drivers/pvmem"

/* Name of the first device bound to pvmem ("virtio0"), "" if none. */
static inline const char *bound_name(void)
{
	static char name[256];
	struct dirent *de;
	DIR *d = opendir(DRV);

	name[0] = '\0';
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, "virtio", 6)) {
			snprintf(name, sizeof(name), "%s", de->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
	return name;
}

/* Path of a pvmem attribute of the (first) bound device. */
static inline const char *attr(const char *name)
{
	static char path[2][600];
	static int i;

	i = !i;
	snprintf(path[i], sizeof(path[i]), DRV "/%s/%s", bound_name(), name);
	return path[i];
}

static inline uint64_t attr_u64(const char *name)
{
	return read_u64(attr(name), 0);
}

/* The first line of file @path without its newline ("" if unreadable). */
static inline const char *file_str(const char *path)
{
	static char buf[2][256];
	static int i;

	i = !i;
	read_line(buf[i], sizeof(buf[i]), "%s", path);
	buf[i][strcspn(buf[i], "\n")] = '\0';
	return buf[i];
}

static inline const char *attr_str(const char *name)
{
	return file_str(attr(name));
}

/* All of the bound device's debugfs file @name ("" if unreadable). */
static inline const char *debug_str(const char *name)
{
	static char buf[8192];
	char path[600];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/pvmem/%s/%s",
		 bound_name(), name);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Does a sysfs file hold exactly one line (one value)? */
static inline int one_line(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return n > 0 && memchr(buf, '\n', n) == buf + n - 1;
}

/* Path of a pvmem attribute of the device whose region starts at @addr. */
static inline const char *attr_of(uint64_t addr, const char *name)
{
	static char path[2][600];
	static int i;
	struct dirent *de;
	char p[512];
	DIR *d = opendir(DRV);

	i = !i;
	path[i][0] = '\0';
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "virtio", 6))
			continue;
		snprintf(p, sizeof(p), DRV "/%s/pvmem/region_start",
			 de->d_name);
		if (read_u64(p, 16) == addr) {
			snprintf(path[i], sizeof(path[i]), DRV "/%s/%s",
				 de->d_name, name);
			break;
		}
	}
	if (d)
		closedir(d);
	return path[i];
}

static inline int attr_write(const char *name, const char *val)
{
	return sysfs_write(attr(name), val);
}

/* Wait up to @tenths of a second for file @path to begin with @want. */
static inline int wait_file(const char *path, const char *want, int tenths)
{
	while (tenths-- > 0) {
		if (!strncmp(file_str(path), want, strlen(want)))
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

/* ... for the (first) bound device's state. */
static inline int wait_state(const char *want, int tenths)
{
	return wait_file(attr("pvmem/state"), want, tenths);
}

#endif /* _PVMEM_UTIL_H */
