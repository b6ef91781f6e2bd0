// SPDX-License-Identifier: GPL-2.0
/*
 * The device goes away under pvmem and comes back: the PCI function is
 * removed from inside the guest and found again by a rescan, and the
 * driver is unbound in the middle of a long plug and of a long unplug
 * against a slow host, then bound again.  remove() must return at once,
 * memory holding data stays in Linux and intact, and the next binding
 * adopts it (STATE requests) and drives the device again.
 *
 * Rig scenario "detach": one 8 GiB device, 2 MiB blocks, pvmem built with
 * FAULT_INJECT=1 (slow_ms makes the host answer slowly).
 */
#include <libgen.h>
#include <time.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The PCI function ("0000:00:04.0") the bound virtio device sits on. */
static const char *pci_of(const char *name)
{
	static char bdf[64];
	char path[300], real[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s", name);
	if (!realpath(path, real))
		return "";
	snprintf(bdf, sizeof(bdf), "%s", basename(dirname(real)));
	return bdf;
}

/* Wait until some device is bound to pvmem again. */
static int wait_bound(int tenths)
{
	while (tenths-- > 0) {
		if (bound_name()[0])
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

static int set_slow(int ms)
{
	char path[600], val[16];

	snprintf(path, sizeof(path), "/sys/kernel/debug/pvmem/%s/slow_ms",
		 bound_name());
	snprintf(val, sizeof(val), "%d", ms);
	return sysfs_write(path, val);
}

/* 1 GiB of checksummed data in tmpfs: more than boot memory has free. */
static int write_data(void)
{
	if (system("dd if=/dev/urandom of=/tmp/seed bs=1M count=16 2>/dev/null"))
		return -1;
	if (system("for i in $(seq 64); do cat /tmp/seed; done > /tmp/data"))
		return -1;
	return system("md5sum /tmp/data > /tmp/data.md5");
}

static int data_intact(void)
{
	return system("md5sum -c /tmp/data.md5 >/dev/null") == 0;
}

FIXTURE(detach)
{
	const char *dev;
	int64_t base;
	uint64_t addr, region;
};

FIXTURE_SETUP(detach)
{
	self->dev = first_dev();
	ASSERT_NE(NULL, self->dev);
	ASSERT_EQ(0, wait_bound(100));
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	self->base = mem_total();
	self->addr = host_get(self->dev, "memaddr");
	self->region = host_get(self->dev, "region-size");
}

FIXTURE_TEARDOWN(detach)
{
	unlink("/tmp/data");
	unlink("/tmp/seed");
}

/* Plugged memory is all usable, and pvmem agrees with the host. */
static void consistent(struct __test_metadata *_metadata, const char *dev,
		       int64_t base)
{
	const int64_t size = host_get(dev, "size");

	EXPECT_EQ(size, (int64_t)attr_u64("pvmem/plugged_size"));
	EXPECT_EQ(size, mem_total() - base);
	EXPECT_STREQ("idle", attr_str("pvmem/state"));
}

/* Remove the bound device's PCI function; seconds it took. */
static double pci_remove(struct __test_metadata *_metadata)
{
	char path[300];
	double t;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove",
		 pci_of(bound_name()));
	t = now();
	EXPECT_EQ(0, sysfs_write(path, "1"));
	t = now() - t;
	EXPECT_STREQ("", bound_name());
	return t;
}

TEST_F(detach, pci_remove_and_rescan_with_nothing_plugged)
{
	double t;

	t = pci_remove(_metadata);
	TH_LOG("remove took %.2f s", t);
	EXPECT_GT(10.0, t);
	EXPECT_NE(0, system("grep -q 'System RAM (pvmem)' /proc/iomem"));
	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/rescan", "1"));
	ASSERT_EQ(0, wait_bound(200));
	ASSERT_EQ(0, host_set(self->dev, GiB));
	ASSERT_EQ(0, host_wait_size(self->dev, GiB, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	consistent(_metadata, self->dev, self->base);
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 600));
}

/*
 * Removed with 2 GiB plugged, half of it holding tmpfs data: remove()
 * gives back what is free at once and leaves the data where it is; the
 * rescan's binding adopts it and the device grows and shrinks again.
 */
TEST_F(detach, pci_remove_and_rescan_with_data_plugged)
{
	int64_t size;
	double t;

	ASSERT_EQ(0, host_set(self->dev, 2 * GiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 2 * GiB, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	ASSERT_EQ(0, write_data());

	t = pci_remove(_metadata);
	size = host_get(self->dev, "size");
	TH_LOG("remove took %.2f s; %" PRId64 " MiB stay plugged, holding data",
	       t, size / (int64_t)MiB);
	EXPECT_GT(10.0, t);
	EXPECT_LT(0, size);
	EXPECT_GT((int64_t)(2 * GiB), size);
	EXPECT_TRUE(data_intact());
	/* Nothing Linux uses was unplugged, nothing unplugged is counted. */
	EXPECT_EQ(size, mem_total() - self->base);
	EXPECT_TRUE(dmesg_has("pvmem keeps managing them"));

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/rescan", "1"));
	ASSERT_EQ(0, wait_bound(200));
	ASSERT_EQ(0, host_set(self->dev, 3 * GiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 3 * GiB, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_TRUE(dmesg_has("took over"));
	consistent(_metadata, self->dev, self->base);
	EXPECT_TRUE(data_intact());

	unlink("/tmp/data");
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(self->base, mem_total());
}

/*
 * Unbind while a request of a long resize (to @to) waits for a slow host,
 * then bind again: unbind returns at once, the request's memory stays
 * away from Linux, and the new binding adopts what is plugged and drives
 * the device on.
 */
static void unbind_while_slow(struct __test_metadata *_metadata,
			      const char *dev, int64_t base, uint64_t to,
			      const char *counter)
{
	const uint64_t sent = attr_u64(counter);
	char name[256];
	double t;
	int i;

	snprintf(name, sizeof(name), "%s", bound_name());
	ASSERT_EQ(0, set_slow(3000));
	ASSERT_EQ(0, host_set(dev, to));
	for (i = 0; i < 600 && attr_u64(counter) == sent; i++)
		usleep(50 * 1000);
	ASSERT_LT(sent, attr_u64(counter));
	t = now();
	ASSERT_EQ(0, sysfs_write(DRV "/unbind", name));
	t = now() - t;
	TH_LOG("unbind took %.2f s with %" PRId64 " MiB plugged", t,
	       host_get(dev, "size") / (int64_t)MiB);
	EXPECT_GT(10.0, t);
	EXPECT_LE(mem_total() - base, host_get(dev, "size"));
	EXPECT_TRUE(data_intact());

	ASSERT_EQ(0, sysfs_write(DRV "/bind", name));
	ASSERT_EQ(0, set_slow(0));
	ASSERT_EQ(0, host_wait_size(dev, to, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	consistent(_metadata, dev, base);
	EXPECT_TRUE(data_intact());
}

TEST_F(detach, unbind_during_slow_plug_and_unplug)
{
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("echo data > /tmp/data && md5sum /tmp/data > /tmp/data.md5"));
	/* clang-format on */
	unbind_while_slow(_metadata, self->dev, self->base, 4 * GiB,
			  "pvmem_stats/requests_plug");
	ASSERT_EQ(0, write_data());
	unbind_while_slow(_metadata, self->dev, self->base, GiB,
			  "pvmem_stats/requests_unplug");
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_TRUE(dmesg_has("unbound with plug in flight: its memory stays away from Linux"));
	EXPECT_TRUE(dmesg_has("unbound with unplug in flight: its memory stays away from Linux"));
	/* clang-format on */
	EXPECT_TRUE(dmesg_has("took over"));
	unlink("/tmp/data");
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 600));
}

TEST_HARNESS_MAIN
