// SPDX-License-Identifier: GPL-2.0
/*
 * Memory plugged through a device lands on the device's NUMA node.
 *
 * Rig scenario "numa": two NUMA nodes, one virtio-mem device on each;
 * "vm1" is backed by a shared file, for which QEMU offers
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE.
 */
#include "kselftest_harness.h"
#include "pvmem_util.h"

TEST(memory_lands_on_device_node)
{
	char devs[256], *dev, *save = NULL;
	int i = 0;

	ASSERT_EQ(0, host_req(devs, sizeof(devs), "devs"));
	for (dev = strtok_r(devs, " ", &save); dev;
	     dev = strtok_r(NULL, " ", &save), i++) {
		const uint64_t want = (i + 1) * GiB;
		const uint64_t addr = host_get(dev, "memaddr");
		const uint64_t region = host_get(dev, "region-size");
		const int node = host_get(dev, "node");
		const int other = !node;
		int64_t before = node_mem_total(node),
			other_before = node_mem_total(other);
		int64_t grown;
		struct pvmem_blocks b;
		int tries;

		ASSERT_EQ(0, host_set(dev, want));
		ASSERT_EQ(0, host_wait_size(dev, want, 600));
		for (tries = 0; tries < 600; tries++) {
			b = region_blocks(addr, region, node);
			if (b.online == (int)(want / memory_block_size()))
				break;
			usleep(100 * 1000);
		}
		grown = node_mem_total(node) - before;
		TH_LOG("%s: %" PRIu64 " MiB on node %d: node MemTotal +%" PRId64
		       " KiB, %d blocks on node",
		       dev, want / MiB, node, grown / 1024, b.on_node);
		EXPECT_EQ(want / memory_block_size(), (uint64_t)b.online);
		EXPECT_EQ(b.present, b.on_node);
		EXPECT_LE(grown, (int64_t)want);
		EXPECT_GE(grown, (int64_t)(want - want / 64));
		/* The other node did not grow. */
		EXPECT_EQ(other_before, node_mem_total(other));
	}
	EXPECT_EQ(2, i);
}

TEST(features_negotiated)
{
	int bound = 0, pxm = 0, inaccessible = 0;
	struct dirent *de;
	DIR *d = opendir("/sys/bus/virtio/drivers/pvmem");

	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char f[128];

		if (strncmp(de->d_name, "virtio", 6))
			continue;
		/* The features string, bit 0 first. */
		read_line(f, sizeof(f),
			  "/sys/bus/virtio/drivers/pvmem/%s/features",
			  de->d_name);
		bound++;
		pxm += f[0] == '1'; /* VIRTIO_MEM_F_ACPI_PXM */
		inaccessible += f[1] ==
				'1'; /* VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE */
	}
	closedir(d);
	EXPECT_EQ(2, bound);
	EXPECT_EQ(2, pxm);
	EXPECT_EQ(1, inaccessible);
}

TEST_HARNESS_MAIN
