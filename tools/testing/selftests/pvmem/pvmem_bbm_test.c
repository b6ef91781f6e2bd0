// SPDX-License-Identifier: GPL-2.0
/*
 * Big-block mode: pvmem plugs, adds, empties and removes whole big blocks.
 *
 * Rig scenario "bbm": three 4 GiB devices, "vm0" with 256 MiB, "vm1" with
 * 1 GiB and "vm2" with 2 MiB device blocks; pvmem loaded with force_bbm=1,
 * which only vm2 needs (its big blocks are one 128 MiB memory block each).
 * 1 GiB boot memory, hot-added memory onlined movable.  Every test runs on
 * each device in turn and leaves it with nothing plugged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

#define TIMEOUT 600
#define NDEV 3

struct bdev {
	char id[16];
	uint64_t addr, region, bs, bb, mb;
	int node;
	int64_t base; /* MemTotal with nothing plugged */
};

/* Wait until exactly @n memory blocks of the region exist, all online. */
static int wait_blocks(const struct bdev *d, int n)
{
	return wait_region_blocks(d->addr, d->region, d->node, n);
}

/* Ask for @bytes (whole big blocks) and wait until host and guest agree. */
static int resize(const struct bdev *d, uint64_t bytes)
{
	if (host_set(d->id, bytes) || host_wait_size(d->id, bytes, TIMEOUT))
		return -1;
	return wait_blocks(d, bytes / d->mb);
}

/* The pvmem state of device @d is @want within @tenths of a second. */
static int wait_dev_state(const struct bdev *d, const char *want, int tenths)
{
	return wait_file(attr_of(d->addr, "pvmem/state"), want, tenths);
}

/* Fill @d from the rig's device list; every device starts empty. */
static int devs_init(struct __test_metadata *_metadata, struct bdev *d)
{
	char devs[256], *id, *save = NULL;
	int i, n = 0;

	if (host_req(devs, sizeof(devs), "devs"))
		return 0;
	for (id = strtok_r(devs, " ", &save); id && n < NDEV;
	     id = strtok_r(NULL, " ", &save), n++) {
		snprintf(d[n].id, sizeof(d[n].id), "%s", id);
		d[n].addr = host_get(id, "memaddr");
		d[n].region = host_get(id, "region-size");
		d[n].node = host_get(id, "node");
		d[n].bs = host_get(id, "block-size");
		d[n].mb = memory_block_size();
		d[n].bb = d[n].bs > d[n].mb ? d[n].bs : d[n].mb;
		EXPECT_EQ(0, resize(&d[n], 0)) TH_LOG("%s: not empty", id);
	}
	/* One device at a time is plugged: all share the same base. */
	for (i = 0; i < n; i++)
		d[i].base = mem_total();
	return n;
}

/* MemTotal is boot memory plus exactly @plugged of one device. */
static int64_t mem_off(const struct bdev *d, uint64_t plugged)
{
	return mem_total() - d->base - (int64_t)plugged;
}

FIXTURE(bbm)
{
	struct bdev d[NDEV];
};

FIXTURE_SETUP(bbm)
{
	ASSERT_EQ(NDEV, devs_init(_metadata, self->d));
}

FIXTURE_TEARDOWN(bbm)
{
}

TEST_F(bbm, big_blocks_reported)
{
	char buf[64], cmd[128];
	int i;

	for (i = 0; i < NDEV; i++) {
		const struct bdev *d = &self->d[i];

		read_line(buf, sizeof(buf), "%s",
			  attr_of(d->addr, "pvmem/mode"));
		buf[strcspn(buf, "\n")] = '\0';
		EXPECT_STREQ("big_block", buf) TH_LOG("%s", d->id);
		EXPECT_EQ(d->bb,
			  read_u64(attr_of(d->addr, "pvmem/big_block_size"),
				   10));
		EXPECT_EQ(d->mb,
			  read_u64(attr_of(d->addr, "pvmem/memory_block_size"),
				   10));
		EXPECT_EQ(d->bs,
			  read_u64(attr_of(d->addr, "pvmem/block_size"), 10));
		/* pvmemstat -b says so too. */
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		snprintf(cmd, sizeof(cmd), "pvmemstat -b | grep -q 'big blocks of %llu MiB$'",
			 (unsigned long long)(d->bb >> 20));
		/* clang-format on */
		EXPECT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
	}
}

TEST_F(bbm, grow_shrink_cycle)
{
	const uint64_t steps[] = { 3 * GiB, 1 * GiB, 4 * GiB, 0 };
	size_t i;
	int n;

	for (n = 0; n < NDEV; n++) {
		const struct bdev *d = &self->d[n];

		TH_LOG("%s: device block %" PRIu64 " MiB", d->id, d->bs / MiB);
		for (i = 0; i < ARRAY_SIZE(steps); i++) {
			ASSERT_EQ(0, resize(d, steps[i]))
			TH_LOG("%s to %" PRIu64 " MiB: host size %" PRId64,
			       d->id, steps[i] / MiB, host_get(d->id, "size"));
			EXPECT_EQ(0, mem_off(d, steps[i]));
		}
	}
	EXPECT_NE(0, system("grep -q 'System RAM (pvmem)' /proc/iomem"));
}

TEST_F(bbm, unplug_under_load)
{
	const size_t anon = 256 * MiB, file = 128 * MiB;
	uint64_t sum, in_range;
	struct holder h;
	int n, fd;

	for (n = 0; n < NDEV; n++) {
		const struct bdev *d = &self->d[n];

		/*
		 * Memory is handed out lowest address first: ballast fills
		 * the first GiB, so the data written after plugging 3 GiB
		 * lands above it, in the big blocks an unplug to 1 GiB
		 * takes once the ballast is gone.
		 */
		ASSERT_EQ(0, resize(d, 1 * GiB));
		fd = open("/tmp/pvmem-ballast", O_RDWR | O_CREAT | O_TRUNC,
			  0600);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, posix_fallocate(fd, 0, 1 * GiB - 64 * MiB));
		close(fd);
		ASSERT_EQ(0, resize(d, 3 * GiB));
		sum = write_file("/tmp/pvmem-bbm", file, 11 + n);
		ASSERT_NE(0, sum);
		ASSERT_EQ(0, holder_start(&h, anon, d->addr + 1 * GiB,
					  d->addr + 3 * GiB, &in_range));
		TH_LOG("%s: %" PRIu64 " MiB of the holder in what goes", d->id,
		       in_range * sysconf(_SC_PAGESIZE) / MiB);
		EXPECT_GT(in_range, 0);
		unlink("/tmp/pvmem-ballast");
		ASSERT_EQ(0, resize(d, 1 * GiB));
		EXPECT_EQ(0, mem_off(d, 1 * GiB));
		EXPECT_EQ(0, holder_check(&h));
		EXPECT_EQ(sum, sum_file("/tmp/pvmem-bbm"));
		unlink("/tmp/pvmem-bbm");
		ASSERT_EQ(0, resize(d, 0));
	}
	EXPECT_FALSE(oom_seen());
}

/* Pages the few-pages holder keeps at most in each big block. */
#define FEW_KEEP 4
#define FEW_MAX (FEW_KEEP * 64)

/* The word at byte @off of the few-pages holder's memory. */
static uint64_t few_word(size_t off)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ 0x5eed;
}

/*
 * Drop pages [@from, @to) of @p; 0 on success.  What is dropped is freed:
 * it holds nothing in use any more.
 */
static int few_drop(char *p, size_t from, size_t to, long psz)
{
	if (from == to)
		return 0;
	return madvise(p + from * psz, (to - from) * psz, MADV_DONTNEED);
}

/*
 * Run by the child: fill @len bytes of anonymous memory, keep at most
 * FEW_KEEP of its pages in each big block of the first @plugged bytes of
 * @d and drop all the others, so each of those blocks holds a few pages
 * in use.  Reports how many pages it kept, verifies them when told to
 * and exits 0 if they are intact.
 */
static void few_child(struct holder *h, size_t len, const struct bdev *d,
		      uint64_t plugged)
{
	const long psz = sysconf(_SC_PAGESIZE);
	const size_t npages = len / psz;
	size_t kept[FEW_MAX], nkept = 0, i, j, from = 0;
	int per_bb[64] = { 0 }, fd;
	uint64_t *p, ent, bad = 0;
	char c;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE))
		_exit(2);
	for (i = 0; i < len / 8; i++)
		p[i] = few_word(i * 8);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		_exit(2);
	for (i = 0; i < npages; i++) {
		uint64_t vpn = (uintptr_t)p / psz + i, pa, bb;

		if (pread(fd, &ent, 8, vpn * 8) != 8 || !(ent >> 63))
			continue;
		pa = (ent & ((1ULL << 55) - 1)) * psz;
		if (pa < d->addr || pa >= d->addr + plugged)
			continue;
		bb = (pa - d->addr) / d->bb;
		if (bb >= ARRAY_SIZE(per_bb) || per_bb[bb] >= FEW_KEEP ||
		    nkept == FEW_MAX)
			continue;
		per_bb[bb]++;
		if (few_drop((char *)p, from, i, psz))
			_exit(2);
		kept[nkept++] = i;
		from = i + 1;
	}
	close(fd);
	if (few_drop((char *)p, from, npages, psz))
		_exit(2);
	if (write(h->from[1], &nkept, sizeof(nkept)) != sizeof(nkept) ||
	    read(h->to[0], &c, 1) != 1)
		_exit(3);
	for (i = 0; i < nkept; i++)
		for (j = 0; j < psz / 8; j++)
			bad += p[kept[i] * psz / 8 + j] !=
			       few_word(kept[i] * psz + j * 8);
	_exit(bad ? 1 : 0);
}

/* Start few_child() in a process of its own; holder_check() ends it. */
static int few_start(struct holder *h, size_t len, const struct bdev *d,
		     uint64_t plugged, size_t *nkept)
{
	if (pipe(h->to) || pipe(h->from))
		return -1;
	h->pid = fork();
	if (!h->pid)
		few_child(h, len, d, plugged);
	return read(h->from[0], nkept, sizeof(*nkept)) == sizeof(*nkept) ? 0 :
									   -1;
}

/*
 * Big blocks that hold only a few pages in use are emptied, not isolated
 * whole: those pages move, the free rest goes by removal, and the data
 * survives.  Pages freed a moment ago may still wait in the per-CPU
 * lists, counted in use, until an isolation or offlining drains them: the
 * first unplug takes one big block, the second the rest, which holds the
 * kept pages.
 */
TEST_F(bbm, few_pages_in_use_emptied)
{
	size_t nkept;
	uint64_t before, after;
	struct holder h;
	int n;

	for (n = 0; n < NDEV; n++) {
		const struct bdev *d = &self->d[n];
		const uint64_t plugged = 3 * d->bb;
		const size_t len = plugged / 2 < 768 * MiB ? plugged / 2 :
							     768 * MiB;

		ASSERT_EQ(0, resize(d, plugged));
		ASSERT_EQ(0, few_start(&h, len, d, plugged, &nkept));
		TH_LOG("%s: %zu pages kept in its big blocks", d->id, nkept);
		EXPECT_GT(nkept, 0);
		ASSERT_EQ(0, resize(d, plugged - d->bb));
		before = read_u64(attr_of(d->addr, "pvmem_stats/emptied"), 10);
		ASSERT_EQ(0, resize(d, 0));
		EXPECT_EQ(0, mem_off(d, 0));
		EXPECT_EQ(0, holder_check(&h));
		after = read_u64(attr_of(d->addr, "pvmem_stats/emptied"), 10);
		TH_LOG("%s: %" PRIu64 " big blocks emptied", d->id,
		       after - before);
		/*
		 * In a 1 GiB block what migrates lands in its own free rest,
		 * the memory freed last, round after round: it goes whole.
		 */
		if (d->bb <= 256 * MiB)
			EXPECT_LT(before, after);
	}
	EXPECT_FALSE(oom_seen());
}

/*
 * A request that cuts a big block (possible only where device blocks are
 * smaller, vm2): pvmem stays at the whole big blocks nearest to what it
 * has and rests there.
 */
TEST_F(bbm, request_inside_a_big_block)
{
	const struct bdev *d = &self->d[2];

	ASSERT_LT(d->bs, d->bb);
	ASSERT_EQ(0, resize(d, 1 * GiB));
	ASSERT_EQ(0, host_set(d->id, 1 * GiB + 6 * MiB));
	sleep(2);
	EXPECT_EQ(0, wait_dev_state(d, "idle", 300));
	EXPECT_EQ(1 * GiB, host_get(d->id, "size"));
	ASSERT_EQ(0, host_set(d->id, 1 * GiB - 6 * MiB));
	sleep(2);
	EXPECT_EQ(0, wait_dev_state(d, "idle", 300));
	EXPECT_EQ(1 * GiB, host_get(d->id, "size"));
	EXPECT_EQ(0, mem_off(d, 1 * GiB));
	ASSERT_EQ(0, host_set(d->id, 1 * GiB + 128 * MiB));
	ASSERT_EQ(0, host_wait_size(d->id, 1 * GiB + 128 * MiB, TIMEOUT));
	ASSERT_EQ(0, resize(d, 0));
}

/* Set every Linux memory block of big block @bb of @d to @state. */
static int set_big_block(const struct bdev *d, int bb, const char *state)
{
	uint64_t a;

	for (a = d->addr + bb * d->bb; a < d->addr + (bb + 1) * d->bb;
	     a += d->mb)
		if (set_block_state(a, d->mb, state))
			return -1;
	return 0;
}

/*
 * The unplug order on big blocks of 1 GiB (vm1), eight memory blocks
 * each: an offline big block goes before online ones, one entirely
 * online movable before one partly offline, whatever their addresses.
 */
TEST_F(bbm, unplug_order_offline_then_movable)
{
	const struct bdev *d = &self->d[1];
	const uint64_t top = d->addr + d->bb;

	ASSERT_EQ(1 * GiB, d->bb);
	ASSERT_EQ(0, resize(d, 2 * GiB));
	/* One memory block of the top big block offline: that one stays. */
	ASSERT_EQ(0, set_block_state(top, d->mb, "offline"));
	ASSERT_EQ(0, host_set(d->id, 1 * GiB));
	ASSERT_EQ(0, host_wait_size(d->id, 1 * GiB, TIMEOUT));
	ASSERT_EQ(0, set_block_state(top, d->mb, "online_movable"));
	/* Removal may follow the UNPLUG: wait for one big block left. */
	ASSERT_EQ(0, wait_blocks(d, d->bb / d->mb));
	EXPECT_FALSE(block_exists(d->addr, d->mb));
	EXPECT_TRUE(block_exists(top, d->mb));
	EXPECT_EQ(0, mem_off(d, 1 * GiB));
	/* The bottom one plugged again and all offline: it goes first. */
	ASSERT_EQ(0, resize(d, 2 * GiB));
	ASSERT_EQ(0, set_big_block(d, 0, "offline"));
	ASSERT_EQ(0, host_set(d->id, 1 * GiB));
	ASSERT_EQ(0, host_wait_size(d->id, 1 * GiB, TIMEOUT));
	/* Removal may follow the UNPLUG: wait for one big block left. */
	ASSERT_EQ(0, wait_blocks(d, d->bb / d->mb));
	EXPECT_FALSE(block_exists(d->addr, d->mb));
	EXPECT_TRUE(block_exists(top, d->mb));
	EXPECT_EQ(0, mem_off(d, 1 * GiB));
	ASSERT_EQ(0, resize(d, 0));
}

/*
 * Lifecycle: requested-size flips between 1 and 3 GiB every 100 ms for
 * 10 s over checksummed data, then settles at 2 GiB.
 */
TEST_F(bbm, flapping_settles)
{
	int64_t size;
	uint64_t sum;
	int n, flips;

	for (n = 0; n < NDEV; n++) {
		const struct bdev *d = &self->d[n];

		ASSERT_EQ(0, resize(d, 2 * GiB));
		sum = write_file("/tmp/pvmem-flap", 128 * MiB, 21 + n);
		ASSERT_NE(0, sum);
		for (flips = 0; flips < 100; flips++) {
			ASSERT_EQ(0,
				  host_set(d->id, (flips % 2 ? 1 : 3) * GiB));
			usleep(100 * 1000);
		}
		ASSERT_EQ(0, resize(d, 2 * GiB));
		EXPECT_EQ(0, wait_dev_state(d, "idle", 1200));
		size = host_get(d->id, "size");
		EXPECT_EQ(2 * GiB, size) TH_LOG("%s", d->id);
		EXPECT_EQ(0, mem_off(d, 2 * GiB));
		EXPECT_EQ(sum, sum_file("/tmp/pvmem-flap"));
		unlink("/tmp/pvmem-flap");
		ASSERT_EQ(0, resize(d, 0));
	}
	EXPECT_FALSE(oom_seen());
}

TEST_HARNESS_MAIN
