// SPDX-License-Identifier: GPL-2.0
/*
 * Give memory back: pvmem unplugs when the host lowers requested-size.
 *
 * Rig scenario "unplug": two 16 GiB devices, "vm0" with 2 MiB and "vm1"
 * with 4 MiB device blocks; 1 GiB boot memory, hot-added memory onlined
 * movable.  grow_shrink_cycle runs on both devices, the rest on vm0.
 * Every test starts from nothing plugged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

#define TIMEOUT 600

struct dev {
	const char *id;
	uint64_t addr, region, mb, bs;
	int node;
	int64_t base; /* MemTotal with nothing plugged */
};

static int blocks_for(const struct dev *d, uint64_t plugged)
{
	return (plugged + d->mb - 1) / d->mb;
}

/* Wait until exactly @n memory blocks of the region exist, all online. */
static int wait_blocks(const struct dev *d, int n)
{
	return wait_region_blocks(d->addr, d->region, d->node, n);
}

/* Ask for @bytes and wait until the host and the guest both got there. */
static int resize(const struct dev *d, uint64_t bytes)
{
	if (host_set(d->id, bytes) || host_wait_size(d->id, bytes, TIMEOUT))
		return -1;
	return wait_blocks(d, blocks_for(d, bytes));
}

static void dev_init(struct __test_metadata *_metadata, struct dev *d,
		     const char *id)
{
	d->id = id ? id : first_dev();
	ASSERT_NE(NULL, d->id);
	d->addr = host_get(d->id, "memaddr");
	d->region = host_get(d->id, "region-size");
	d->node = host_get(d->id, "node");
	d->bs = host_get(d->id, "block-size");
	d->mb = memory_block_size();
	ASSERT_NE(0, d->mb);
	ASSERT_EQ(0, resize(d, 0))
	TH_LOG("could not start from nothing plugged");
	d->base = mem_total();
}

/* MemTotal is back to boot memory plus exactly what is plugged. */
static int64_t mem_off(const struct dev *d, uint64_t plugged)
{
	return mem_total() - d->base - (int64_t)plugged;
}

/* @len bytes of private anonymous memory, not touched yet; NULL if none. */
static uint64_t *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST(grow_shrink_cycle)
{
	const uint64_t steps[] = { 8 * GiB, 2 * GiB, 6 * GiB, 0 };
	char devs[256], *id, *save = NULL;
	struct dev d;
	int n = 0;
	size_t i;

	ASSERT_EQ(0, host_req(devs, sizeof(devs), "devs"));
	for (id = strtok_r(devs, " ", &save); id;
	     id = strtok_r(NULL, " ", &save), n++) {
		dev_init(_metadata, &d, id);
		TH_LOG("%s: device block %" PRIu64 " KiB", d.id, d.bs / 1024);
		for (i = 0; i < ARRAY_SIZE(steps); i++) {
			ASSERT_EQ(0, resize(&d, steps[i]))
			TH_LOG("to %" PRIu64 " MiB: host size %" PRId64,
			       steps[i] / MiB, host_get(d.id, "size"));
			EXPECT_EQ(0, mem_off(&d, steps[i]));
			/* Strings stay whole (checkpatch), after the call. */
			/* clang-format off */
			EXPECT_EQ(blocks_for(&d, steps[i]),
				  region_blocks(d.addr, d.region, d.node).present);
			/* clang-format on */
		}
	}
	EXPECT_EQ(2, n);
	EXPECT_NE(0, system("grep -q 'System RAM (pvmem)' /proc/iomem"));
}

TEST(unplug_under_load)
{
	const size_t anon = 384 * MiB, file = 384 * MiB;
	const uint64_t target = 256 * MiB;
	uint64_t sum, in_range;
	struct holder h;
	struct dev d;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 6 * GiB));
	/*
	 * Newly onlined memory is handed out lowest address first, so the
	 * data lands at the bottom of the region; with every block full the
	 * policy unplugs from the top, so going down to 256 MiB takes all of
	 * [256 MiB, 6 GiB) and whatever data sits there must move.
	 */
	sum = write_file("/tmp/pvmem-load", file, 7);
	ASSERT_NE(0, sum);
	ASSERT_EQ(0, holder_start(&h, anon, d.addr + target, d.addr + 6 * GiB,
				  &in_range));
	TH_LOG("%" PRIu64
	       " MiB of the holder's memory sits in the part to unplug",
	       in_range * sysconf(_SC_PAGESIZE) / MiB);
	EXPECT_GT(in_range, 0);

	ASSERT_EQ(0, resize(&d, target));
	EXPECT_EQ(0, mem_off(&d, target));
	EXPECT_EQ(0, holder_check(&h));
	EXPECT_EQ(sum, sum_file("/tmp/pvmem-load"));
	EXPECT_FALSE(oom_seen());
	unlink("/tmp/pvmem-load");
	ASSERT_EQ(0, resize(&d, 0));
}

TEST(unplug_blocked_until_data_deleted)
{
	int64_t size, free_outside;
	uint64_t sum;
	struct dev d;
	int i;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 4 * GiB));
	free_outside = meminfo_field("/proc/meminfo", "MemFree") -
		       zone_free("Movable");
	/* More data than memory outside the region could ever hold. */
	sum = write_file("/tmp/pvmem-big", free_outside + GiB, 9);
	ASSERT_NE(0, sum);
	ASSERT_EQ(0, host_set(d.id, 0));
	for (i = 0; i < 20; i++) {
		sleep(1);
		size = host_get(d.id, "size");
		ASSERT_GT(size, 0) TH_LOG("unplugged memory holding data");
	}
	TH_LOG("stuck at %" PRId64 " MiB with %" PRId64 " MiB of data, %" PRId64
	       " MiB free outside",
	       size / (int64_t)MiB,
	       (free_outside + (int64_t)GiB) / (int64_t)MiB,
	       free_outside / (int64_t)MiB);
	EXPECT_EQ(sum, sum_file("/tmp/pvmem-big"));
	EXPECT_FALSE(oom_seen());
	EXPECT_EQ(0, mem_off(&d, size));

	/* Once the data is gone, the backoff retry finishes the job. */
	unlink("/tmp/pvmem-big");
	ASSERT_EQ(0, host_wait_size(d.id, 0, 120));
	ASSERT_EQ(0, wait_blocks(&d, 0));
	EXPECT_EQ(0, mem_off(&d, 0));
}

TEST(request_raised_mid_unplug)
{
	int64_t at = -1, left;
	struct dev d;
	int i;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 12 * GiB));
	ASSERT_EQ(0, host_set(d.id, 0));
	/* Once the guest has given up some but not most, change our mind. */
	for (i = 0; i < 10000; i++) {
		left = mem_total() - d.base;
		if (left < 11 * (int64_t)GiB) {
			at = left;
			break;
		}
		usleep(1000);
	}
	ASSERT_EQ(0, host_set(d.id, 6 * GiB));
	TH_LOG("raised the request with %" PRId64 " MiB still in the guest",
	       at / (int64_t)MiB);
	EXPECT_GT(at, 2 * (int64_t)GiB);
	ASSERT_EQ(0, host_wait_size(d.id, 6 * GiB, TIMEOUT));
	ASSERT_EQ(0, wait_blocks(&d, blocks_for(&d, 6 * GiB)));
	EXPECT_EQ(0, mem_off(&d, 6 * GiB));
	ASSERT_EQ(0, resize(&d, 0));
}

TEST(manual_offline_online)
{
	struct dev d;
	char buf[64];
	pid_t pid;
	int i;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 2 * GiB));
	/* Offline blocks 2-5 by hand: low addresses, so only policy picks them. */
	for (i = 2; i < 6; i++)
		ASSERT_EQ(0,
			  set_block_state(d.addr + i * d.mb, d.mb, "offline"));
	EXPECT_EQ(0, mem_off(&d, 2 * GiB - 4 * d.mb));
	/* Unplugging 4 blocks' worth takes exactly the offline ones. */
	ASSERT_EQ(0, host_set(d.id, 2 * GiB - 4 * d.mb));
	ASSERT_EQ(0, host_wait_size(d.id, 2 * GiB - 4 * d.mb, TIMEOUT));
	ASSERT_EQ(0, wait_blocks(&d, blocks_for(&d, 2 * GiB - 4 * d.mb)));
	for (i = 2; i < 6; i++)
		EXPECT_FALSE(block_exists(d.addr + i * d.mb, d.mb));
	EXPECT_EQ(0, mem_off(&d, 2 * GiB - 4 * d.mb));

	/* A partly plugged block survives offline + online by hand. */
	ASSERT_EQ(0, resize(&d, 2 * GiB + 3 * d.bs));
	ASSERT_EQ(0, set_block_state(d.addr + 16 * d.mb, d.mb, "offline"));
	EXPECT_EQ(0, mem_off(&d, 2 * GiB));
	ASSERT_EQ(0,
		  set_block_state(d.addr + 16 * d.mb, d.mb, "online_movable"));
	EXPECT_EQ(0, mem_off(&d, 2 * GiB + 3 * d.bs));
	read_line(buf, sizeof(buf),
		  "/sys/devices/system/memory/memory%" PRIu64 "/state",
		  (d.addr + 16 * d.mb) / d.mb);
	EXPECT_STREQ("online\n", buf);

	/* Unplug everything while blocks are offlined and onlined by hand. */
	ASSERT_EQ(0, resize(&d, 8 * GiB));
	pid = fork();
	if (!pid) {
		for (;;)
			for (i = 0; i < 64; i += 7) {
				set_block_state(d.addr + i * d.mb, d.mb,
						"offline");
				set_block_state(d.addr + i * d.mb, d.mb,
						"online_movable");
			}
	}
	ASSERT_EQ(0, host_set(d.id, 0));
	EXPECT_EQ(0, host_wait_size(d.id, 0, TIMEOUT));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_EQ(0, wait_blocks(&d, 0));
	EXPECT_EQ(0, mem_off(&d, 0));
}

TEST(host_gets_memory_back)
{
	const size_t len = 3 * GiB + 512 * MiB;
	int64_t before, after;
	struct dev d;
	char val[64];
	uint64_t *p;
	size_t i;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 4 * GiB));
	/* Make the host back the plugged memory, then free it again. */
	p = anon(len);
	ASSERT_NE(NULL, p);
	for (i = 0; i < len / 8; i += 512)
		p[i] = i;
	munmap(p, len);
	ASSERT_EQ(0, host_req(val, sizeof(val), "rss"));
	before = strtoll(val, NULL, 0);
	ASSERT_EQ(0, resize(&d, 0));
	ASSERT_EQ(0, host_req(val, sizeof(val), "rss"));
	after = strtoll(val, NULL, 0);
	TH_LOG("QEMU RSS %" PRId64 " MiB -> %" PRId64 " MiB",
	       before / (int64_t)MiB, after / (int64_t)MiB);
	EXPECT_GE(before - after, (int64_t)(3 * GiB));
}

#define PIN_PIPE (256 * MiB)

/* Bytes of [@p, @p + @len) whose pages lie in [@start, @start + @size). */
static uint64_t bytes_in(const char *p, size_t len, uint64_t start,
			 uint64_t size)
{
	const long pg = sysconf(_SC_PAGESIZE);
	uint64_t e, n = 0, pa;
	size_t i;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	for (i = 0; fd >= 0 && i < len; i += pg) {
		if (pread(fd, &e, sizeof(e), ((uintptr_t)p + i) / pg * 8) !=
		    sizeof(e))
			break;
		pa = (e & ((1ULL << 55) - 1)) * pg;
		if ((e >> 63) && pa >= start && pa < start + size)
			n += pg;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

/*
 * The pinning process: @len bytes of anonymous memory, filled with a
 * pattern, then handed to pipes with vmsplice() and never read, so every
 * page holds an extra reference and cannot migrate.  Reports through
 * @out how many of its bytes lie in the device's region, then waits for
 * SIGTERM, checking its pattern first when it gets SIGUSR1.
 */
static void pin_child(int out, size_t len, uint64_t start, uint64_t size)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	uint64_t in = 0, i;
	sigset_t set;
	int sig, pfd[2];
	size_t off = 0;
	ssize_t n;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len; i += 4096)
		*(uint64_t *)(p + i) = i * 0x9e3779b97f4a7c15ULL;
	while (off < len) {
		struct iovec iov = { p + off, len - off };

		if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, PIN_PIPE) < 0)
			_exit(2);
		while (iov.iov_len &&
		       (n = vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK)) > 0) {
			iov.iov_base = (char *)iov.iov_base + n;
			iov.iov_len -= n;
			off += n;
		}
	}
	in = bytes_in(p, len, start, size);
	if (write(out, &in, sizeof(in)) != sizeof(in))
		_exit(3);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		if (sigwait(&set, &sig))
			_exit(4);
		for (in = 0, i = 0; i < len; i += 4096)
			in += *(uint64_t *)(p + i) != i * 0x9e3779b97f4a7c15ULL;
		if (write(out, &in, sizeof(in)) != sizeof(in))
			_exit(5);
	}
}

/* Unplug attempts of @d that failed, for either reason. */
static uint64_t failed_unplugs(const struct dev *d)
{
	return read_u64(attr_of(d->addr, "pvmem_stats/unplug_failed_busy"), 0) +
	       read_u64(attr_of(d->addr, "pvmem_stats/unplug_failed_nomem"), 0);
}

/* Run a shell command; its seconds, or -1 if it failed or took > 60 s. */
static double timed(const char *cmd)
{
	struct timespec a, b;
	pid_t pid;
	int st, i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 600 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (i == 600 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9;
}

/*
 * Memory in use is never offlined.  A process pins 2.5 GiB of anonymous
 * memory, nearly all of it in the device's ZONE_MOVABLE memory, through
 * pipes it never reads (vmsplice), and the host asks for 0.  pvmem must
 * settle above 0 and say why; meanwhile CPU hotplug and onlining of
 * another device's block must go through in seconds (an offlining that
 * retried migration for ever would hold the hotplug locks they need).
 * A user's offlining of that pinned memory, which Linux retries until it
 * is killed, must not stop pvmem either.  The pinned data must be intact,
 * and once the process is gone the unplug must finish.
 */
TEST(pinned_pages_never_wedge_the_guest)
{
	const char *auto_online =
		"/sys/devices/system/memory/auto_online_blocks";
	const size_t len = 2 * GiB + 512 * MiB;
	uint64_t in = 0, bad = 1, busy, size, off;
	struct pvmem_blocks b;
	struct dev d, d1;
	char path[300];
	pid_t pid, pid_off;
	double t;
	int fds[2], i;

	dev_init(_metadata, &d, "vm0");
	dev_init(_metadata, &d1, "vm1");
	ASSERT_EQ(0, resize(&d, 4 * GiB));
	ASSERT_EQ(0, sysfs_write("/proc/sys/fs/pipe-max-size", "268435456"));
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		pin_child(fds[1], len, d.addr, d.region);
	ASSERT_EQ(sizeof(in), read(fds[0], &in, sizeof(in)));
	TH_LOG("%" PRIu64 " MiB of the pinned memory lie in the device",
	       in / MiB);
	EXPECT_LE(2 * GiB, in);

	busy = failed_unplugs(&d);
	ASSERT_EQ(0, host_set(d.id, 0));
	/*
	 * It settles above 0, backing off, and says why: the data would not
	 * migrate (unplug_failed_busy) or has nowhere to go
	 * (unplug_failed_nomem: 2.5 GiB will not fit in the rest).
	 */
	for (i = 0; i < 1200; i++) {
		if (!strcmp(file_str(attr_of(d.addr, "pvmem/state")),
			    "waiting_for_retry") &&
		    failed_unplugs(&d) > busy)
			break;
		usleep(100 * 1000);
	}
	size = host_get(d.id, "size");
	TH_LOG("settled at %" PRIu64
	       " MiB, state %s, unplug_failed_busy %" PRIu64
	       ", unplug_failed_nomem %" PRIu64,
	       size / MiB, file_str(attr_of(d.addr, "pvmem/state")),
	       read_u64(attr_of(d.addr, "pvmem_stats/unplug_failed_busy"), 0),
	       read_u64(attr_of(d.addr, "pvmem_stats/unplug_failed_nomem"), 0));
	EXPECT_LT(i, 1200) TH_LOG("pvmem never backed off saying why");
	EXPECT_LT(0, size);

	/* The hotplug locks are free: CPU hotplug and onlining go through. */
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	t = timed("cd /sys/devices/system/cpu/cpu1 && echo 0 > online && echo 1 > online");
	/* clang-format on */
	TH_LOG("CPU 1 offline and online again in %.1f s", t);
	EXPECT_LE(0, t);
	EXPECT_GT(10, t);
	ASSERT_EQ(0, sysfs_write(auto_online, "offline"));
	ASSERT_EQ(0, host_set(d1.id, d1.mb));
	ASSERT_EQ(0, host_wait_size(d1.id, d1.mb, TIMEOUT));
	snprintf(path, sizeof(path), "%s/memory%" PRIu64 "/state",
		 "echo online_movable > /sys/devices/system/memory",
		 d1.addr / d1.mb);
	for (i = 0;
	     i < 100 && region_blocks(d1.addr, d1.region, d1.node).present < 1;
	     i++)
		usleep(100 * 1000);
	t = timed(path);
	TH_LOG("another device's memory block onlined in %.1f s", t);
	EXPECT_LE(0, t);
	EXPECT_GT(10, t);
	EXPECT_EQ(0, sysfs_write(auto_online, "online_movable"));
	EXPECT_EQ(0, resize(&d1, 0));

	/*
	 * Offlining pinned memory by hand migrates until the writer gets a
	 * signal, with the hotplug locks held.  pvmem must not wait for it:
	 * its sysfs answers, and a raised request is plugged or retried
	 * later (pvmem_stats/retries counts it), never blocking the worker.
	 * Once the offlining is killed the request is met.
	 */
	for (off = d.addr; off < d.addr + d.region && !block_exists(off, d.mb);
	     off += d.mb)
		;
	busy = read_u64(attr_of(d.addr, "pvmem_stats/retries"), 0);
	pid_off = fork();
	ASSERT_LE(0, pid_off);
	if (!pid_off)
		_exit(set_block_state(off, d.mb, "offline") ? 1 : 0);
	sleep(2);
	ASSERT_EQ(0, waitpid(pid_off, NULL, WNOHANG))
	TH_LOG("offlining memory%" PRIu64 " ended at once", off / d.mb);
	snprintf(path, sizeof(path), "cat %s > /dev/null",
		 attr_of(d.addr, "pvmem/memmap_unplugged_bytes"));
	t = timed(path);
	TH_LOG("memmap_unplugged_bytes read in %.1f s while memory%" PRIu64
	       " goes offline",
	       t, off / d.mb);
	EXPECT_LE(0, t);
	EXPECT_GT(10, t);
	size = host_get(d.id, "size");
	ASSERT_EQ(0, host_set(d.id, size + d.bs));
	for (i = 0; i < 100; i++) {
		if ((uint64_t)host_get(d.id, "size") == size + d.bs ||
		    read_u64(attr_of(d.addr, "pvmem_stats/retries"), 0) > busy)
			break;
		usleep(100 * 1000);
	}
	TH_LOG("raised by one device block: host sees %" PRId64
	       " MiB, state %s",
	       host_get(d.id, "size") / (int64_t)MiB,
	       file_str(attr_of(d.addr, "pvmem/state")));
	EXPECT_LT(i, 100) TH_LOG("the worker waits for the offlining");
	EXPECT_EQ(0, waitpid(pid_off, NULL, WNOHANG));
	kill(pid_off, SIGKILL);
	waitpid(pid_off, NULL, 0);
	EXPECT_EQ(0, host_wait_size(d.id, size + d.bs, TIMEOUT));
	read_line(path, sizeof(path),
		  "/sys/devices/system/memory/memory%" PRIu64 "/state",
		  off / d.mb);
	EXPECT_STREQ("online\n", path);
	ASSERT_EQ(0, host_set(d.id, 0));

	/* The pinned data is intact. */
	kill(pid, SIGUSR1);
	ASSERT_EQ(sizeof(bad), read(fds[0], &bad, sizeof(bad)));
	EXPECT_EQ(0, bad);

	/* The pin goes: so does the memory. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	sysfs_write(attr_of(d.addr, "pvmem/retry_now"), "1");
	EXPECT_EQ(0, host_wait_size(d.id, 0, TIMEOUT));
	b = region_blocks(d.addr, d.region, d.node);
	EXPECT_EQ(0, b.present);
	EXPECT_EQ(0, mem_off(&d, 0));
}

/*
 * Last: it may leave memory plugged.  A block onlined to a kernel zone is
 * the guest's only ZONE_NORMAL, so the slab for thousands of new files
 * lands there: unmovable.  pvmem must unplug everything else (movable
 * first) and as much of that block as it can, and stop above the request.
 */
TEST(kernel_zone_unplug)
{
	const uint64_t top = 7;
	struct pvmem_blocks b;
	int64_t size = -1;
	struct dev d;
	char buf[64];
	int i;

	dev_init(_metadata, &d, NULL);
	ASSERT_EQ(0, resize(&d, 8 * d.mb));
	ASSERT_EQ(0, set_block_state(d.addr + top * d.mb, d.mb, "offline"));
	if (set_block_state(d.addr + top * d.mb, d.mb, "online_kernel"))
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		SKIP(return, "this kernel will not online the block to a kernel zone");
	/* clang-format on */
	read_line(buf, sizeof(buf),
		  "/sys/devices/system/memory/memory%" PRIu64 "/%s",
		  (d.addr + top * d.mb) / d.mb, "valid_zones");
	TH_LOG("block %" PRIu64 " is now in zone %s", top, buf);
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("mkdir -p /tmp/slab && cd /tmp/slab && seq 20000 | xargs touch"));
	/* clang-format on */

	ASSERT_EQ(0, host_set(d.id, 0));
	for (i = 0; i < 600; i++) {
		size = host_get(d.id, "size");
		b = region_blocks(d.addr, d.region, d.node);
		if (size <= (int64_t)d.mb && b.present <= 1)
			break;
		usleep(100 * 1000);
	}
	/* Between passes no isolated run waits for an answer: compare then. */
	for (i = 0; i < 600; i++) {
		const char *state = file_str(attr_of(d.addr, "pvmem/state"));

		if (!strcmp(state, "waiting_for_retry") ||
		    !strcmp(state, "idle"))
			break;
		usleep(100 * 1000);
	}
	size = host_get(d.id, "size");
	TH_LOG("%" PRId64 " KiB stay plugged in the kernel-zone block",
	       size / 1024);
	/* Every movable block went; only the kernel-zone block is left. */
	EXPECT_LE(size, (int64_t)d.mb);
	EXPECT_EQ(1, b.present);
	EXPECT_EQ(0, b.movable);
	EXPECT_EQ(0, mem_off(&d, size));
	EXPECT_FALSE(oom_seen());
	system("rm -rf /tmp/slab");
}

TEST_HARNESS_MAIN
