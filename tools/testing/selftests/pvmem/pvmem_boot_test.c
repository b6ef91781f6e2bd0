// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem plugs what a device already requests when the module loads.
 *
 * Rig scenario "boot": the device starts with requested-size=2G and the
 * guest's init loads pvmem.
 */
#include "kselftest_harness.h"
#include "pvmem_util.h"

TEST(plugs_request_present_at_load)
{
	const char *dev = first_dev();
	uint64_t want, addr, region, mb = memory_block_size();
	struct pvmem_blocks b;
	int tries;

	ASSERT_NE(NULL, dev);
	want = host_get(dev, "requested-size");
	addr = host_get(dev, "memaddr");
	region = host_get(dev, "region-size");
	ASSERT_EQ(2 * GiB, want);
	/* Nobody asked again: pvmem acted on the request it found. */
	ASSERT_EQ(0, host_wait_size(dev, want, 600));
	for (tries = 0; tries < 600; tries++) {
		b = region_blocks(addr, region, host_get(dev, "node"));
		if (b.online == (int)(want / mb))
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(want / mb, (uint64_t)b.online);
	/* 1 GiB of boot RAM (less the kernel's reservations) plus 2 GiB. */
	EXPECT_GE(mem_total(), (int64_t)(want + 768 * MiB));
	EXPECT_LE(mem_total(), (int64_t)(want + GiB));
	EXPECT_TRUE(dmesg_has("requested size: 0x80000000"));
}

TEST_HARNESS_MAIN
