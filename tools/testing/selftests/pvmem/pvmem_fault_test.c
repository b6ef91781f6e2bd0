// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem under injected faults: BUSY and NACK are retried with backoff and
 * converge, failed isolation and hot-add are retried and lose nothing, an
 * ERROR marks the device broken and stops all traffic.
 *
 * Rig scenario "faults": one 4 GiB device, pvmem built with FAULT_INJECT=1
 * (/sys/kernel/debug/pvmem/virtioN/).
 */
#include "kselftest_harness.h"
#include "pvmem_util.h"

/* Arm @n faults of kind @name for the bound device. */
static int inject(const char *name, int n)
{
	char path[600], val[16];

	snprintf(path, sizeof(path), "/sys/kernel/debug/pvmem/%s/%s",
		 bound_name(), name);
	snprintf(val, sizeof(val), "%d", n);
	return sysfs_write(path, val);
}

static int64_t stat_of(const char *name)
{
	char a[64];

	snprintf(a, sizeof(a), "pvmem_stats/%s", name);
	return attr_u64(a);
}

/* Plugged memory is all online and counted in MemTotal. */
static void consistent(struct __test_metadata *_metadata, const char *dev,
		       int64_t base)
{
	const int64_t size = host_get(dev, "size");

	EXPECT_EQ(size, (int64_t)attr_u64("pvmem/plugged_size"));
	EXPECT_EQ(size, stat_of("bytes_plugged") - stat_of("bytes_unplugged"));
	EXPECT_EQ(size, mem_total() - base);
}

FIXTURE(faults)
{
	const char *dev;
	int64_t base;
};

FIXTURE_SETUP(faults)
{
	self->dev = first_dev();
	ASSERT_NE(NULL, self->dev);
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	self->base = mem_total();
}

FIXTURE_TEARDOWN(faults)
{
}

TEST_F(faults, busy_is_retried_with_backoff)
{
	const int64_t busy = stat_of("responses_busy"),
		      retries = stat_of("retries");

	ASSERT_EQ(0, inject("busy", 4));
	ASSERT_EQ(0, host_set(self->dev, 512 * MiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 512 * MiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(busy + 4, stat_of("responses_busy"));
	EXPECT_GE(stat_of("retries"), retries + 4);
	consistent(_metadata, self->dev, self->base);
}

TEST_F(faults, nack_is_retried)
{
	const int64_t nack = stat_of("responses_nack");

	ASSERT_EQ(0, inject("nack", 3));
	ASSERT_EQ(0, host_set(self->dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 256 * MiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(nack + 3, stat_of("responses_nack"));
	consistent(_metadata, self->dev, self->base);
}

TEST_F(faults, failed_hot_add_is_retried)
{
	ASSERT_EQ(0, inject("fail_add", 2));
	ASSERT_EQ(0, host_set(self->dev, GiB));
	ASSERT_EQ(0, host_wait_size(self->dev, GiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_GE(stat_of("retries"), 2);
	/* What failed to add was unplugged again, not left behind. */
	consistent(_metadata, self->dev, self->base);
}

TEST_F(faults, failed_isolation_is_retried_and_keeps_data)
{
	const int64_t busy = stat_of("unplug_failed_busy");
	const uint64_t target = GiB - 6 * MiB;

	ASSERT_EQ(0, host_set(self->dev, GiB));
	ASSERT_EQ(0, host_wait_size(self->dev, GiB, 120));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("dd if=/dev/urandom of=/tmp/keep bs=1M count=64 2>/dev/null"));
	/* clang-format on */
	ASSERT_EQ(0, system("md5sum /tmp/keep > /tmp/keep.md5"));
	/* A partial unplug goes through the range allocator: fail it twice. */
	ASSERT_EQ(0, inject("fail_isolate", 2));
	ASSERT_EQ(0, host_set(self->dev, target));
	ASSERT_EQ(0, host_wait_size(self->dev, target, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(busy + 2, stat_of("unplug_failed_busy"));
	EXPECT_EQ(0, system("md5sum -c /tmp/keep.md5 >/dev/null"));
	unlink("/tmp/keep");
	consistent(_metadata, self->dev, self->base);
}

/* Make Linux fail onlining or offlining memory (0 to stop). */
static int notifier_error(const char *action, int err)
{
	char path[200], val[16];

	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/notifier-error-inject/memory/actions/%s/error", action);
	/* clang-format on */
	snprintf(val, sizeof(val), "%d", err);
	return sysfs_write(path, val);
}

TEST_F(faults, onlining_fails_during_plug)
{
	struct pvmem_blocks b;
	uint64_t addr = host_get(self->dev, "memaddr");
	char path[128];
	int i;

	if (notifier_error("MEM_GOING_ONLINE", 0))
		SKIP(return, "memory-notifier-error-inject not loaded");
	ASSERT_EQ(0, notifier_error("MEM_GOING_ONLINE", -12));
	ASSERT_EQ(0, host_set(self->dev, 512 * MiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 512 * MiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	/* Added but left offline: nothing usable, nothing lost. */
	b = region_blocks(addr, 4 * GiB, 0);
	EXPECT_EQ(4, b.present);
	EXPECT_EQ(0, b.online);
	EXPECT_EQ(self->base, mem_total());
	EXPECT_NE(NULL, strstr(debug_str("blocks"), "offline 64/64"));
	/* Once Linux can online again, it is all there. */
	ASSERT_EQ(0, notifier_error("MEM_GOING_ONLINE", 0));
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/memory/memory%" PRIu64 "/state",
			 (addr + i * memory_block_size()) /
				 memory_block_size());
		EXPECT_EQ(0, sysfs_write(path, "online_movable"));
	}
	consistent(_metadata, self->dev, self->base);
}

TEST_F(faults, offlining_fails_during_unplug)
{
	uint64_t addr = host_get(self->dev, "memaddr");

	ASSERT_EQ(0, host_set(self->dev, 512 * MiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 512 * MiB, 120));
	if (notifier_error("MEM_GOING_OFFLINE", -16))
		SKIP(return, "memory-notifier-error-inject not loaded");
	/* Blocks cannot be offlined: pvmem unplugs through its allocator... */
	ASSERT_EQ(0, host_set(self->dev, 0));
	ASSERT_EQ(0, host_wait_size(self->dev, 0, 120));
	/* ... but the empty blocks stay until Linux can remove them. */
	ASSERT_EQ(0, wait_state("waiting_for_retry", 300));
	EXPECT_GT(stat_of("remove_failed"), 0);
	EXPECT_EQ(4, region_blocks(addr, 4 * GiB, 0).present);
	EXPECT_EQ(self->base, mem_total());
	ASSERT_EQ(0, notifier_error("MEM_GOING_OFFLINE", 0));
	ASSERT_EQ(0, attr_write("pvmem/retry_now", "1"));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(0, region_blocks(addr, 4 * GiB, 0).present);
	consistent(_metadata, self->dev, self->base);
}

/*
 * A device gone bad: nothing is touched.  Unbinding leaves the memory in
 * Linux, managed; binding again adopts it (STATE requests) and the
 * device is driven again.
 */
static void broken_then_rebind(struct __test_metadata *_metadata,
			       const char *dev, int64_t base, const char *fault,
			       const char *why)
{
	char name[256];

	ASSERT_EQ(0, host_set(dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(dev, 256 * MiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	ASSERT_EQ(0, inject(fault, 1));
	ASSERT_EQ(0, host_set(dev, 512 * MiB));
	ASSERT_EQ(0, wait_state("broken", 300));
	EXPECT_STREQ("broken", attr_str("pvmem/state"));
	EXPECT_STREQ(why, attr_str("pvmem/broken_reason"));
	/* Nothing touched: still 256 MiB plugged, all of it usable. */
	EXPECT_EQ((int64_t)(256 * MiB), host_get(dev, "size"));
	EXPECT_EQ((int64_t)(256 * MiB), mem_total() - base);

	snprintf(name, sizeof(name), "%s", bound_name());
	ASSERT_EQ(0, sysfs_write(DRV "/unbind", name));
	/* Linux keeps its memory; the broken device still has it. */
	EXPECT_EQ((int64_t)(256 * MiB), mem_total() - base);
	EXPECT_EQ((int64_t)(256 * MiB), host_get(dev, "size"));
	EXPECT_TRUE(dmesg_has("pvmem keeps managing them"));
	ASSERT_EQ(0, sysfs_write(DRV "/bind", name));
	ASSERT_EQ(0, host_wait_size(dev, 512 * MiB, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_TRUE(dmesg_has("took over 256 MiB plugged memory an earlier binding left in Linux"));
	/* clang-format on */
	EXPECT_EQ((int64_t)(512 * MiB), mem_total() - base);
}

TEST_F(faults, changed_immutable_config_marks_broken)
{
	broken_then_rebind(_metadata, self->dev, self->base, "config",
			   "addr changed at runtime");
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_TRUE(dmesg_has("config update rejected: addr changed at runtime"));
	/* clang-format on */
}

TEST_F(faults, impossible_response_marks_broken)
{
	broken_then_rebind(_metadata, self->dev, self->base, "bad_resp",
			   "invalid response");
	EXPECT_TRUE(dmesg_has("response type is unknown"));
}

/* Unbind and bind again: a new binding clears a broken device's leftovers. */
static void rebind(struct __test_metadata *_metadata, const char *dev)
{
	char name[256];

	snprintf(name, sizeof(name), "%s", bound_name());
	ASSERT_EQ(0, sysfs_write(DRV "/unbind", name));
	ASSERT_EQ(0, sysfs_write(DRV "/bind", name));
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 120));
	ASSERT_EQ(0, wait_state("idle", 300));
}

/*
 * A request whose answer comes too late (the device acted) or never (it
 * did not): the device is marked broken, the memory the request covered
 * never reaches Linux (bytes_unknown counts it), and data elsewhere
 * survives.  For an UNPLUG, the isolated pages stay fake-offline; for a
 * PLUG, the new memory is never handed out.
 */
TEST_F(faults, unanswered_requests_keep_memory_away)
{
	static const char *const kinds[] = { "late", "lost" };
	const uint64_t part = GiB - 6 * MiB;
	int64_t size, unknown;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		/* UNPLUG: a partial one, through the range allocator. */
		ASSERT_EQ(0, host_set(self->dev, GiB));
		ASSERT_EQ(0, host_wait_size(self->dev, GiB, 120));
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		ASSERT_EQ(0, system("dd if=/dev/urandom of=/tmp/keep bs=1M count=64 2>/dev/null"));
		/* clang-format on */
		ASSERT_EQ(0, system("md5sum /tmp/keep > /tmp/keep.md5"));
		unknown = stat_of("bytes_unknown");
		ASSERT_EQ(0, inject(kinds[k], 1));
		ASSERT_EQ(0, host_set(self->dev, part));
		ASSERT_EQ(0, wait_state("broken", 300));
		EXPECT_STREQ("no response within response_timeout",
			     attr_str("pvmem/broken_reason"));
		EXPECT_EQ((int64_t)(6 * MiB),
			  stat_of("bytes_unknown") - unknown);
		/* The device did it (late) or not (lost); Linux gets nothing back. */
		size = host_get(self->dev, "size");
		EXPECT_EQ(k ? (int64_t)GiB : (int64_t)part, size)
		TH_LOG("%s UNPLUG", kinds[k]);
		EXPECT_EQ((int64_t)part, mem_total() - self->base);
		EXPECT_EQ(0, system("md5sum -c /tmp/keep.md5 >/dev/null"));
		unlink("/tmp/keep");
		rebind(_metadata, self->dev);

		/* PLUG: the new memory block is never added. */
		unknown = stat_of("bytes_unknown");
		ASSERT_EQ(0, inject(kinds[k], 1));
		ASSERT_EQ(0, host_set(self->dev, 256 * MiB));
		ASSERT_EQ(0, wait_state("broken", 300));
		EXPECT_LT(0, stat_of("bytes_unknown") - unknown);
		EXPECT_EQ(k ? 0 : stat_of("bytes_unknown") - unknown,
			  host_get(self->dev, "size"))
		TH_LOG("%s PLUG", kinds[k]);
		EXPECT_EQ(0, mem_total() - self->base);
		EXPECT_EQ(0, (int64_t)attr_u64("pvmem/plugged_size"));
		rebind(_metadata, self->dev);
	}
	EXPECT_TRUE(dmesg_has("no response to unplug within"));
	EXPECT_TRUE(dmesg_has("no response to plug within"));
}

/* Last: a broken device stays broken. */
TEST_F(faults, error_marks_broken_and_stops)
{
	int64_t reqs, size;
	int i;

	ASSERT_EQ(0, host_set(self->dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(self->dev, 256 * MiB, 120));
	ASSERT_EQ(0, inject("error", 1));
	ASSERT_EQ(0, host_set(self->dev, 512 * MiB));
	ASSERT_EQ(0, wait_state("broken", 300));
	EXPECT_STREQ("broken", attr_str("pvmem/state"));
	EXPECT_STREQ("device answered ERROR", attr_str("pvmem/broken_reason"));
	EXPECT_TRUE(dmesg_has("device marked broken: device answered ERROR"));
	/* No more requests, whatever the host asks; the guest runs on. */
	reqs = stat_of("requests_plug") + stat_of("requests_unplug");
	size = host_get(self->dev, "size");
	ASSERT_EQ(0, host_set(self->dev, GiB));
	for (i = 0; i < 20; i++) {
		EXPECT_EQ(size, host_get(self->dev, "size"));
		usleep(100 * 1000);
	}
	EXPECT_EQ(reqs, stat_of("requests_plug") + stat_of("requests_unplug"));
	EXPECT_EQ(size, (int64_t)attr_u64("pvmem/plugged_size"));
	EXPECT_EQ(size, mem_total() - self->base);
}

TEST_HARNESS_MAIN
