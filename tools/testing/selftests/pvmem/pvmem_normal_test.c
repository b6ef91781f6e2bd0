// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem selftest: unplug from the kernel zones.  Memory onlined
 * online_kernel (or by the auto-movable policy into ZONE_NORMAL) takes the
 * kernel's own allocations, slab and page tables, which cannot migrate.
 * Unplugging to 0 must return everything else, keep data intact, and say
 * in pvmem_held/ how much stays, what holds it and where; once the kernel
 * lets go, the retries take the rest.
 *
 * The guest boots with 1 GiB (all ZONE_DMA32), so ZONE_NORMAL is pvmem's
 * alone.  Each test sets how Linux onlines hot-added memory and puts the
 * rig's default (online_movable) back.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

#define AUTO_ONLINE "/sys/devices/system/memory/auto_online_blocks"
#define POLICY "/sys/module/memory_hotplug/parameters/online_policy"
#define MNT "/tmp/pvmem-normal"

/*
 * What the kernel keeps in pvmem's kernel-zone memory of an idle guest, at
 * most: measured 2-20 MiB (a few dozen slab pages, and the memory map of
 * the memory block they hold in the block below).
 */
#define IDLE_FLOOR (32 * MiB)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A file holding the number @n, and reading it back. */
static int write_str(const char *path, int n)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int len = snprintf(buf, sizeof(buf), "%d\n", n);
	int rc = fd >= 0 && write(fd, buf, len) == len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int online_as(const char *how, const char *policy)
{
	return sysfs_write(POLICY, policy) || sysfs_write(AUTO_ONLINE, how);
}

static void online_default(void)
{
	online_as("online_movable", "contig-zones");
}

/*
 * Online hot-added memory @how (auto_online_blocks) by @policy
 * (online_policy), plug @bytes and wait until pvmem rests with all of it
 * online.
 */
static int start(const char *dev, const char *how, const char *policy,
		 uint64_t bytes)
{
	if (!dev || online_as(how, policy))
		return -1;
	if (host_set(dev, bytes) || host_wait_size(dev, bytes, 600))
		return -1;
	return wait_state("idle", 3000);
}

/*
 * Ask for 0 and wait until pvmem is at it, or retrying with plugged_size
 * unchanged for 5 s.  Return the bytes left; *@took: seconds until the
 * last change.
 */
static uint64_t unplug_all(const char *dev, double *took)
{
	const double start = now_s();
	double changed = start;
	uint64_t last = attr_u64("pvmem/plugged_size"), cur;

	*took = 0;
	if (host_set(dev, 0))
		return UINT64_MAX;
	while (now_s() - start < 600) {
		usleep(100 * 1000);
		cur = attr_u64("pvmem/plugged_size");
		if (cur != last) {
			last = cur;
			changed = now_s();
		}
		if (!cur && !strcmp(attr_str("pvmem/state"), "idle"))
			break;
		if (!strcmp(attr_str("pvmem/state"), "waiting_for_retry") &&
		    now_s() - changed > 5)
			break;
	}
	*took = changed - start;
	return last;
}

/*
 * What pvmem_held/ says must add up: everything still plugged is held,
 * the host sees the same, and held memory has pages in use, in online
 * memory blocks that exist.
 */
static void check_held(struct __test_metadata *_metadata, const char *dev,
		       uint64_t left)
{
	uint64_t slab = attr_u64("pvmem_held/slab_pages");
	uint64_t tables = attr_u64("pvmem_held/page_table_pages");
	uint64_t movable = attr_u64("pvmem_held/movable_pages");
	uint64_t other = attr_u64("pvmem_held/other_pages");
	char blocks[4096], path[128];
	char *tok, *save, *end;
	unsigned long a, b;

	EXPECT_EQ((int64_t)left, host_get(dev, "size"));
	EXPECT_EQ(left, attr_u64("pvmem_held/size"));
	snprintf(blocks, sizeof(blocks), "%s", attr_str("pvmem_held/blocks"));
	TH_LOG("%" PRIu64 " KiB held in memory blocks %s: %" PRIu64
	       " slab, %" PRIu64 " page table, %" PRIu64 " movable, %" PRIu64
	       " other pages in use",
	       left >> 10, blocks, slab, tables, movable, other);
	if (!left) {
		EXPECT_STREQ("", blocks);
		return;
	}
	EXPECT_LT(0, slab + tables + movable + other);
	ASSERT_STRNE("", blocks);
	for (tok = strtok_r(blocks, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		a = strtoul(tok, &end, 10);
		ASSERT_NE(tok, end) TH_LOG("%s", tok);
		b = *end == '-' ? strtoul(end + 1, NULL, 10) : a;
		for (; a <= b; a++) {
			snprintf(path, sizeof(path),
				 "/sys/devices/system/memory/memory%lu/state",
				 a);
			EXPECT_STREQ("online", file_str(path))
			TH_LOG("%s", path);
		}
	}
}

/* Unplug to 0: at most @most stays, and pvmem_held/ says what and why. */
static void unplug_checked(struct __test_metadata *_metadata, const char *dev,
			   const char *what, uint64_t most)
{
	double took;
	uint64_t left = unplug_all(dev, &took);

	TH_LOG("%s: %" PRIu64 " KiB left after %.1f s", what, left >> 10, took);
	EXPECT_GE(most, left);
	check_held(_metadata, dev, left);
}

/* Idle, 8 and 16 GiB: everything but what the kernel keeps comes back. */
TEST(idle_kernel_memory_unplugs)
{
	const char *dev = first_dev();
	char what[64];
	int gib;

	for (gib = 8; gib <= 16; gib += 8) {
		ASSERT_EQ(0, start(dev, "online_kernel", "contig-zones",
				   gib * GiB));
		EXPECT_LE((int64_t)(gib * GiB), zone_present("Normal"));
		snprintf(what, sizeof(what), "%d GiB online_kernel, idle", gib);
		unplug_checked(_metadata, dev, what, IDLE_FLOOR);
	}
	online_default();
}

/*
 * After many files and processes, most of them gone: the slab and page
 * tables of what stays hold some memory blocks.  The rest comes back
 * with every file and process intact, pvmem_held/ says what stays and
 * why, and once those go too the retries take all but the idle floor.
 */
TEST(workload_leaves_only_what_is_held)
{
	const int nr_files = 30000, nr_holders = 12, kept_holders = 2;
	struct holder h[nr_holders];
	const char *dev = first_dev();
	char path[128], buf[32];
	uint64_t in;
	int i;

	ASSERT_EQ(0, start(dev, "online_kernel", "contig-zones", 4 * GiB));
	mkdir(MNT, 0755);
	ASSERT_EQ(0, mount("tmpfs", MNT, "tmpfs", 0, "nr_inodes=0"));
	for (i = 0; i < nr_files; i++) {
		if (i % 100 == 0) {
			snprintf(path, sizeof(path), MNT "/d%d", i / 100);
			ASSERT_EQ(0, mkdir(path, 0755));
		}
		snprintf(path, sizeof(path), MNT "/d%d/f%d", i / 100, i);
		ASSERT_EQ(0, write_str(path, i));
	}
	/* Page tables and anonymous memory in the plugged memory. */
	for (i = 0; i < nr_holders; i++)
		ASSERT_EQ(0, holder_start(&h[i], 16 * MiB, 0, UINT64_MAX, &in));
	/* Most go: every tenth file and two processes stay. */
	for (i = 0; i < nr_files; i++) {
		if (i % 10 == 0)
			continue;
		snprintf(path, sizeof(path), MNT "/d%d/f%d", i / 100, i);
		ASSERT_EQ(0, unlink(path));
	}
	for (i = kept_holders; i < nr_holders; i++)
		ASSERT_EQ(0, holder_check(&h[i]));

	/* Measured 35-41 MiB, nearly all of it slab of the kept files. */
	unplug_checked(_metadata, dev,
		       "4 GiB online_kernel, files and processes, a tenth kept",
		       128 * MiB);
	/* pvmemstat -b says it too. */
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_EQ(0, system("pvmemstat -b | grep -q '^  held: [0-9]* MiB in memory blocks [0-9]'"));
	/* clang-format on */
	for (i = 0; i < nr_files; i += 10) {
		snprintf(path, sizeof(path), MNT "/d%d/f%d", i / 100, i);
		ASSERT_EQ(0, read_str(path, buf, sizeof(buf)))
		TH_LOG("%s", path);
		ASSERT_EQ(i, atoi(buf)) TH_LOG("%s", path);
	}
	for (i = 0; i < kept_holders; i++)
		EXPECT_EQ(0, holder_check(&h[i]));

	/* All of it gone: the next retries take what it held. */
	ASSERT_EQ(0, umount(MNT));
	ASSERT_EQ(0, attr_write("pvmem/retry_now", "1"));
	unplug_checked(_metadata, dev, "after the files and processes went",
		       IDLE_FLOOR);
	online_default();
}

/*
 * The auto-movable policy puts part of the memory in ZONE_NORMAL and the
 * rest in ZONE_MOVABLE: both come back.
 */
TEST(auto_movable_policy_unplugs)
{
	const char *dev = first_dev();
	int64_t normal, movable;

	ASSERT_EQ(0, start(dev, "online", "auto-movable", 16 * GiB));
	normal = zone_present("Normal");
	movable = zone_present("Movable");
	TH_LOG("16 GiB auto-movable: %" PRId64 " MiB Normal, %" PRId64
	       " MiB Movable",
	       normal >> 20, movable >> 20);
	EXPECT_LT(0, normal);
	EXPECT_LT(0, movable);
	EXPECT_EQ((int64_t)(16 * GiB), normal + movable);
	unplug_checked(_metadata, dev, "16 GiB auto-movable, idle", IDLE_FLOOR);
	online_default();
}

TEST_HARNESS_MAIN
