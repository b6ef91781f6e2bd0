// SPDX-License-Identifier: GPL-2.0
/*
 * A 512 MiB guest and a 64 GiB device: how much pvmem plugs depends on
 * where memory maps live.  With memory_hotplug.memmap_on_memory=1 each
 * fully plugged memory block carries its own, and all 60 GiB asked for
 * go in; without it every 128 MiB takes 2 MiB of the boot memory, and
 * pvmem stops where the kernel would run short, and says so.  Either way
 * the guest keeps answering, and everything goes back.
 *
 * Rig scenarios "memmap" (memmap_on_memory=1) and "small" (without): 512
 * MiB boot memory, onlined movable, one 64 GiB device, 2 MiB blocks.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

#define MEMMAP_PARAM "/sys/module/memory_hotplug/parameters/memmap_on_memory"

/* Did the guest boot with memory_hotplug.memmap_on_memory on? */
static int memmap_on_memory(void)
{
	const char *v = file_str(MEMMAP_PARAM);

	return v[0] == 'Y' || v[0] == 'y' || v[0] == '1';
}

/* Run /bin/true @n times; how many answered within @secs seconds each. */
static int forks_answer(int n, int secs)
{
	int ok = 0, i, status;

	for (i = 0; i < n; i++) {
		time_t end = time(NULL) + secs;
		pid_t pid = fork();

		if (!pid) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid < 0)
			break;
		while (waitpid(pid, &status, WNOHANG) == 0 && time(NULL) < end)
			usleep(10 * 1000);
		if (waitpid(pid, &status, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			continue;
		}
		ok += WIFEXITED(status) && !WEXITSTATUS(status);
	}
	return ok;
}

/* Wait until pvmem has stopped plugging: idle, or paused for memory. */
static int wait_settled(int secs)
{
	time_t end = time(NULL) + secs;

	while (time(NULL) < end) {
		if (!wait_state("idle", 1) ||
		    !wait_state("waiting_for_retry", 1))
			return 0;
	}
	return -1;
}

/* Wait up to @secs for the host to see anything plugged on @dev. */
static int wait_plugging_began(const char *dev, int secs)
{
	int i;

	for (i = 0; i < secs * 10; i++) {
		if (host_get(dev, "size") > 0)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

/* Memory-map bytes one memory block carries inside, when it does. */
static uint64_t memmap_bytes(void)
{
	return memory_block_size() / 4096 * 64;
}

static uint64_t pattern(size_t i)
{
	return (i * 0x9e3779b97f4a7c15ULL) ^ 0xa5a5a5a5a5a5a5a5ULL;
}

static void pattern_fill(uint64_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		p[i] = pattern(i);
}

/* Words of @p that lost the pattern. */
static size_t pattern_bad(const uint64_t *p, size_t len)
{
	size_t i, bad = 0;

	for (i = 0; i < len / sizeof(*p); i++)
		bad += p[i] != pattern(i);
	return bad;
}

/* Ask for @size and wait until the host has it and pvmem is idle. */
static int resize_idle(const char *dev, uint64_t size)
{
	if (host_set(dev, size) || host_wait_size(dev, size, 600))
		return -1;
	return wait_state("idle", 300);
}

/* Unplug everything: the host sees 0, and MemTotal is @base again. */
static void unplug_all(struct __test_metadata *_metadata, const char *dev,
		       int64_t base)
{
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
	EXPECT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(0, attr_u64("pvmem/memmap_on_memory_blocks"));
	EXPECT_EQ(0, attr_u64("pvmem/memmap_unplugged_bytes"));
	EXPECT_EQ(base, mem_total());
}

TEST(plug_far_beyond_boot_memory)
{
	const char *dev = first_dev();
	const uint64_t ask = 60 * GiB, len = GiB;
	uint64_t addr, region, size, inside, *p;
	int64_t base, free_outside;
	int on = memmap_on_memory();

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	ASSERT_EQ(0, resize_idle(dev, 0));
	base = mem_total();
	TH_LOG("memmap_on_memory %s, MemTotal %" PRId64 " MiB",
	       on ? "on" : "off", base / (int64_t)MiB);

	ASSERT_EQ(0, host_set(dev, ask));
	if (on)
		ASSERT_EQ(0, host_wait_size(dev, ask, 300));
	/*
	 * The pass has begun once something is plugged: until then "idle"
	 * is the state from before the request.
	 */
	ASSERT_EQ(0, wait_plugging_began(dev, 300));
	ASSERT_EQ(0, wait_settled(300));
	size = host_get(dev, "size");
	inside = attr_u64("pvmem/memmap_on_memory_blocks");
	TH_LOG("plugged %" PRIu64 " MiB of %" PRIu64 " MiB, %" PRIu64
	       " memory blocks carry their memory map",
	       size / MiB, ask / MiB, inside);
	EXPECT_EQ(size, attr_u64("pvmem/plugged_size"));
	/* Memory maps inside their blocks are not memory Linux can use. */
	EXPECT_EQ((int64_t)(size - inside * memmap_bytes()),
		  mem_total() - base);
	if (on) {
		EXPECT_EQ(ask / memory_block_size(), inside);
		EXPECT_EQ(1, (int)attr_u64("pvmem/memmap_on_memory"));
	} else {
		/* The room check stops short, says so, and retries. */
		EXPECT_EQ(0, inside);
		EXPECT_EQ(0, (int)attr_u64("pvmem/memmap_on_memory"));
		EXPECT_LT(size, ask);
		EXPECT_GE(size, 8 * GiB);
		EXPECT_STREQ("waiting_for_retry", attr_str("pvmem/state"));
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		EXPECT_TRUE(dmesg_has("plugging paused: too little free memory for memory maps"));
		/* clang-format on */
	}

	/* The guest still runs programs, and nothing ran out. */
	EXPECT_EQ(50, forks_answer(50, 10));
	EXPECT_FALSE(oom_seen());
	EXPECT_FALSE(dmesg_has("page allocation failure"));

	/* Plugged memory is usable: a pattern over 1 GiB, in the region. */
	free_outside = meminfo_field("/proc/meminfo", "MemFree") -
		       zone_free("Movable");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	pattern_fill(p, len);
	EXPECT_EQ(0, pattern_bad(p, len));
	EXPECT_GE((int64_t)(pages_in_range(p, len, addr, addr + region) *
			    sysconf(_SC_PAGESIZE)),
		  (int64_t)len - free_outside);
	munmap(p, len);

	/* Everything goes back, maps and all. */
	unplug_all(_metadata, dev, base);
	EXPECT_EQ(50, forks_answer(50, 10));
}

TEST(exact_request_and_partial_unplug_keep_data)
{
	const char *dev = first_dev();
	const uint64_t ask = 4 * GiB + 6 * MiB, len = 512 * MiB;
	uint64_t addr, region, inside, full, held, *p;
	struct pvmem_blocks b;
	int64_t base;
	int on = memmap_on_memory();

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	ASSERT_EQ(0, resize_idle(dev, 0));
	base = mem_total();
	ASSERT_EQ(0, resize_idle(dev, ask));
	/* 32 full memory blocks; the 6 MiB one keeps its map outside. */
	full = ask / memory_block_size();
	inside = attr_u64("pvmem/memmap_on_memory_blocks");
	EXPECT_EQ(on ? full : 0, inside);
	EXPECT_EQ((int64_t)(ask - inside * memmap_bytes()), mem_total() - base);

	/* Data in the plugged memory survives unplugging most of it. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	pattern_fill(p, len);
	ASSERT_EQ(0, host_set(dev, GiB + 2 * MiB));
	ASSERT_EQ(0, host_wait_size(dev, GiB + 2 * MiB, 600));
	EXPECT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(GiB + 2 * MiB, attr_u64("pvmem/plugged_size"));
	inside = attr_u64("pvmem/memmap_on_memory_blocks");
	TH_LOG("%" PRIu64
	       " memory blocks with their map inside at 1 GiB + 2 MiB",
	       inside);
	EXPECT_EQ((int64_t)(GiB + 2 * MiB - inside * memmap_bytes()),
		  mem_total() - base);
	/* Linux keeps the map of all its blocks, plugged or not. */
	b = region_blocks(addr, region, host_get(dev, "node"));
	held = (b.present * memory_block_size() - (GiB + 2 * MiB)) / 4096 * 64;
	TH_LOG("memory map for unplugged memory: %" PRIu64 " KiB in %d blocks",
	       held >> 10, b.present);
	EXPECT_EQ(held, attr_u64("pvmem/memmap_unplugged_bytes"));
	EXPECT_EQ(0, pattern_bad(p, len));
	munmap(p, len);
	unplug_all(_metadata, dev, base);
}

/*
 * Two memory blocks left with 4 device blocks each (offlined by hand,
 * which makes pvmem unplug from them first) keep two memory maps.  With
 * tidy_ms set, pvmem empties the upper one and plugs its 4 device blocks
 * back into the lower one's holes: the same memory, one map less.
 */
TEST(tidy_empties_a_sparse_block)
{
	const uint64_t mb = memory_block_size();
	const char *dev = first_dev();
	uint64_t addr, region, four, size;
	struct pvmem_blocks b;
	int64_t base;
	int i, t;

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	four = 4 * host_get(dev, "block-size");
	ASSERT_EQ(0, resize_idle(dev, 0));
	base = mem_total();
	ASSERT_EQ(0, resize_idle(dev, 2 * mb));
	for (i = 0; i < 2; i++) {
		size = (1 - i) * mb + (i + 1) * four;
		ASSERT_EQ(0, set_block_state(addr + i * mb, mb, "offline"));
		ASSERT_EQ(0, resize_idle(dev, size));
		ASSERT_EQ(0,
			  set_block_state(addr + i * mb, mb, "online_movable"));
	}
	b = region_blocks(addr, region, host_get(dev, "node"));
	ASSERT_EQ(2, b.online);
	EXPECT_EQ((2 * mb - 2 * four) / 4096 * 64,
		  attr_u64("pvmem/memmap_unplugged_bytes"));

	ASSERT_EQ(0, attr_write("pvmem/tidy_ms", "100"));
	for (t = 0; t < 600 && region_blocks(addr, region, 0).present != 1; t++)
		usleep(100 * 1000);
	EXPECT_EQ(1, region_blocks(addr, region, 0).present);
	EXPECT_TRUE(block_exists(addr, mb));
	EXPECT_EQ(0, host_wait_size(dev, 2 * four, 300));
	EXPECT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(1, attr_u64("pvmem_stats/tidied"));
	EXPECT_EQ((mb - 2 * four) / 4096 * 64,
		  attr_u64("pvmem/memmap_unplugged_bytes"));
	EXPECT_EQ(2 * four, attr_u64("pvmem/plugged_size"));
	ASSERT_EQ(0, attr_write("pvmem/tidy_ms", "0"));
	unplug_all(_metadata, dev, base);
}

TEST_HARNESS_MAIN
