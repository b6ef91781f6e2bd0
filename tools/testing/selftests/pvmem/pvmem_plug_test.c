// SPDX-License-Identifier: GPL-2.0
/*
 * Plug memory with pvmem and check the guest can use it.
 *
 * Rig scenario "plug": one 16 GiB virtio-mem device, 2 MiB device blocks,
 * 1 GiB boot memory, hot-added memory onlined movable.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

#define PLUG_TIMEOUT 600

/* Wait for the guest to finish onlining what the host sees plugged. */
static int wait_online(uint64_t addr, uint64_t region, int node, int blocks)
{
	int i;

	for (i = 0; i < 600; i++) {
		if (region_blocks(addr, region, node).online == blocks)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

TEST(plug_steps)
{
	const uint64_t steps[] = { 4 * GiB, 4 * GiB + 6 * MiB, 8 * GiB };
	const char *dev = first_dev();
	uint64_t addr, region, mb = memory_block_size();
	int64_t base;
	int node;
	size_t i;

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	node = host_get(dev, "node");
	ASSERT_EQ(0, host_get(dev, "size"));
	base = mem_total();
	ASSERT_GT(base, 0);

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		const uint64_t want = steps[i];
		const int blocks = (want + mb - 1) / mb;
		struct pvmem_blocks b;
		int64_t grown;

		ASSERT_EQ(0, host_set(dev, want));
		ASSERT_EQ(0, host_wait_size(dev, want, PLUG_TIMEOUT))
		TH_LOG("host size %" PRId64 ", wanted %" PRIu64,
		       host_get(dev, "size"), want);
		ASSERT_EQ(0, wait_online(addr, region, node, blocks));
		b = region_blocks(addr, region, node);
		EXPECT_EQ(blocks, b.present);
		EXPECT_EQ(blocks, b.online);
		EXPECT_EQ(blocks, b.on_node);
		EXPECT_EQ(blocks, b.movable);
		/*
		 * They are the lowest ones: the block plugged out of order to
		 * keep Linux's zone walks short (the keeper) is no hole.
		 */
		EXPECT_EQ(blocks,
			  region_blocks(addr, blocks * mb, node).present);
		/*
		 * MemTotal grows by what is plugged; the memmap (1.6%) comes
		 * out of boot memory and does not change MemTotal, so allow
		 * at most that much less.
		 */
		grown = mem_total() - base;
		TH_LOG("requested %" PRIu64 " MiB: MemTotal +%" PRId64
		       " KiB, %d memory blocks online",
		       want / MiB, grown / 1024, b.online);
		EXPECT_LE(grown, (int64_t)want);
		EXPECT_GE(grown, (int64_t)(want - want / 64));
	}
	EXPECT_EQ(0, system("grep -q 'System RAM (pvmem)' /proc/iomem"));
}

TEST(plugged_memory_usable)
{
	const char *dev = first_dev();
	uint64_t addr, region, plugged, add = 2 * GiB, *p;
	size_t len, i, words, bad = 0, in_region;
	int64_t free_outside;

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	plugged = host_get(dev, "size");
	ASSERT_LE(plugged + add, region);

	/*
	 * Free memory outside the device region: all of ZONE_MOVABLE in
	 * this guest is pvmem memory (boot memory is never movable here).
	 */
	free_outside = meminfo_field("/proc/meminfo", "MemFree") -
		       zone_free("Movable");
	ASSERT_EQ(0, host_set(dev, plugged + add));
	ASSERT_EQ(0, host_wait_size(dev, plugged + add, PLUG_TIMEOUT));
	ASSERT_EQ(0, wait_online(addr, region, host_get(dev, "node"),
				 (plugged + add + memory_block_size() - 1) /
					 memory_block_size()));

	/* 90% of the newly plugged memory, every word written and checked. */
	len = add / 10 * 9;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	words = len / sizeof(*p);
	for (i = 0; i < words; i++)
		p[i] = (i * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a5a5a5a5a5a5aULL;
	for (i = 0; i < words; i++)
		bad += p[i] !=
		       ((i * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a5a5a5a5a5a5aULL);
	EXPECT_EQ(0, bad);

	/*
	 * Memory outside the region could hold at most what was free there
	 * before the plug; the rest of the buffer must sit in the region.
	 */
	in_region = pages_in_range(p, len, addr, addr + region) *
		    sysconf(_SC_PAGESIZE);
	TH_LOG("%zu MiB written and verified, %zu MiB of it in the device region",
	       len / MiB, in_region / MiB);
	TH_LOG("free outside the region before the plug: %" PRId64 " MiB",
	       free_outside / (int64_t)MiB);
	EXPECT_GT(free_outside, 0);
	EXPECT_GE((int64_t)in_region, (int64_t)len - free_outside);
	munmap(p, len);
}

TEST(unbind_gives_back_and_rebind_replugs)
{
	const char *dev = first_dev();
	uint64_t want, addr, region;
	int64_t total;
	char name[256];
	int i;

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	/* End in a partly plugged memory block: fake-offline pages too. */
	want = host_get(dev, "requested-size") + 6 * MiB;
	ASSERT_LE(want, region);
	ASSERT_EQ(0, host_set(dev, want));
	ASSERT_EQ(0, host_wait_size(dev, want, 600));
	ASSERT_EQ(0, wait_online(addr, region, host_get(dev, "node"),
				 (want + memory_block_size() - 1) /
					 memory_block_size()));
	total = mem_total();
	snprintf(name, sizeof(name), "%s", bound_name());
	ASSERT_NE(0, name[0]);

	/*
	 * Unbinding unplugs everything that holds no data (here, all) and
	 * MemTotal drops by exactly what was plugged; the memory blocks
	 * leave Linux right after, once no hotplug lock is in the way.
	 */
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/pvmem/unbind", name));
	EXPECT_EQ(0, host_get(dev, "size"));
	EXPECT_EQ(total - (int64_t)want, mem_total());
	for (i = 0; i < 300 && region_blocks(addr, region, 0).present; i++)
		usleep(100 * 1000);
	EXPECT_EQ(0, region_blocks(addr, region, 0).present);
	EXPECT_NE(0, system("grep -q 'System RAM (pvmem)' /proc/iomem"));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_TRUE(dmesg_has("the memory of the unbound device is out of Linux"));
	/* clang-format on */

	/* Binding again finds the request and plugs it back. */
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/pvmem/bind", name));
	ASSERT_EQ(0, host_wait_size(dev, want, 600));
	ASSERT_EQ(0, wait_online(addr, region, host_get(dev, "node"),
				 (want + memory_block_size() - 1) /
					 memory_block_size()));
	EXPECT_EQ(total, mem_total());
}

/*
 * First growths of a fresh device: after an unbind (UNPLUG_ALL) QEMU
 * shrinks the usable region to the request, so each new request jumps
 * far above it and the device raises usable_region_size and
 * requested_size together.  A config read caught between the two must be
 * read again, never mark the device broken.
 */
TEST(first_growths_never_break_the_device)
{
	const char *dev = first_dev();
	char name[256];
	uint64_t want;
	int i;

	ASSERT_NE(NULL, dev);
	snprintf(name, sizeof(name), "%s", bound_name());
	ASSERT_NE(0, name[0]);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, host_set(dev, 0));
		ASSERT_EQ(0, host_wait_size(dev, 0, 600));
		ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/pvmem/unbind",
					 name));
		ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/pvmem/bind",
					 name));
		if (!i)
			TH_LOG("usable region after rebind: %" PRId64 " MiB",
			       host_get(dev, "usable-region-size") /
				       (int64_t)MiB);
		want = (2 + i) * GiB;
		ASSERT_EQ(0, host_set(dev, want));
		ASSERT_EQ(0, host_wait_size(dev, want, 600))
		TH_LOG("growth %d: state %s", i, attr_str("pvmem/state"));
		EXPECT_STRNE("broken", attr_str("pvmem/state"));
	}
	EXPECT_FALSE(dmesg_has("config update rejected"));
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
}

TEST_HARNESS_MAIN
