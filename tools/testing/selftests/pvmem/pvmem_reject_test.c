// SPDX-License-Identifier: GPL-2.0
/*
 * Configs pvmem must refuse fail probe cleanly and touch no memory.
 *
 * Rig scenario "reject": "vm0" is good; "vmhigh" sits above the pluggable
 * physical range (64 TiB with 4-level paging); "vmbig" has 32 GiB device
 * blocks, more than the largest big block pvmem manages (16 GiB);
 * "vmsmall" 1 MiB ones, less than a pageblock, which the range allocator
 * cannot take on their own.
 */
#include "kselftest_harness.h"
#include "pvmem_util.h"

static int bound_devices(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/sys/bus/virtio/drivers/pvmem");

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "virtio", 6);
	if (d)
		closedir(d);
	return n;
}

/* Is anything claimed in /proc/iomem at @addr? */
static int iomem_claims(uint64_t addr)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "grep -qi '^ *0*%" PRIx64 "-' /proc/iomem",
		 addr);
	return system(cmd) == 0;
}

FIXTURE(reject)
{
	const char *dev;
	const char *why;
};

FIXTURE_VARIANT(reject)
{
	const char *dev;
	const char *why;
};

/* clang-format 14 would take these for calls: no space before "{". */
/* clang-format off */
FIXTURE_VARIANT_ADD(reject, region_not_pluggable) {
	.dev = "vmhigh",
	.why = "invalid config: region is outside the pluggable physical range",
};

FIXTURE_VARIANT_ADD(reject, block_size_too_big) {
	.dev = "vmbig",
	.why = "invalid config: block_size is larger than 16 GiB",
};

FIXTURE_VARIANT_ADD(reject, block_size_below_pageblock) {
	.dev = "vmsmall",
	.why = "invalid config: block_size is smaller than a pageblock",
};

/* clang-format on */

FIXTURE_SETUP(reject)
{
}

FIXTURE_TEARDOWN(reject)
{
}

TEST_F(reject, probe_fails_cleanly)
{
	const uint64_t addr = host_get(variant->dev, "memaddr");
	const int64_t bs = host_get(variant->dev, "block-size");
	int tries;

	/* Named in the log, not bound, nothing claimed. */
	EXPECT_TRUE(dmesg_has(variant->why));
	EXPECT_EQ(1, bound_devices());
	EXPECT_FALSE(iomem_claims(addr));

	/* A request to the refused device plugs nothing. */
	ASSERT_EQ(0, host_set(variant->dev, bs > (int64_t)GiB ? bs : GiB));
	for (tries = 0; tries < 20; tries++) {
		EXPECT_EQ(0, host_get(variant->dev, "size"));
		usleep(100 * 1000);
	}
	EXPECT_FALSE(iomem_claims(addr));
}

TEST(good_device_still_works)
{
	ASSERT_EQ(0, host_set("vm0", GiB));
	ASSERT_EQ(0, host_wait_size("vm0", GiB, 600));
	EXPECT_EQ(1, bound_devices());
}

TEST_HARNESS_MAIN
