// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem's sysfs status, knobs and counters, its tracepoints and its
 * module parameters.
 *
 * Rig scenario "sysfs": one 4 GiB virtio-mem device, 2 MiB blocks.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

static const struct {
	const char *name;
	int mode;
} attrs[] = {
	{ "pvmem/node", 0444 },
	{ "pvmem/region_start", 0444 },
	{ "pvmem/region_size", 0444 },
	{ "pvmem/usable_region_size", 0444 },
	{ "pvmem/block_size", 0444 },
	{ "pvmem/memory_block_size", 0444 },
	{ "pvmem/mode", 0444 },
	{ "pvmem/big_block_size", 0444 },
	{ "pvmem/plugged_size", 0444 },
	{ "pvmem/requested_size", 0444 },
	{ "pvmem/memmap_on_memory", 0444 },
	{ "pvmem/memmap_on_memory_blocks", 0444 },
	{ "pvmem/memmap_unplugged_bytes", 0444 },
	{ "pvmem/own_bytes", 0444 },
	{ "pvmem/state", 0444 },
	{ "pvmem/features", 0444 },
	{ "pvmem/broken_reason", 0444 },
	{ "pvmem/unplug_online", 0644 },
	{ "pvmem/offline_cap", 0644 },
	{ "pvmem/retry_min_ms", 0644 },
	{ "pvmem/retry_max_ms", 0644 },
	{ "pvmem/retry_now", 0200 },
	{ "pvmem/tidy_ms", 0644 },
	{ "pvmem_stats/requests_plug", 0444 },
	{ "pvmem_stats/requests_unplug", 0444 },
	{ "pvmem_stats/requests_unplug_all", 0444 },
	{ "pvmem_stats/requests_state", 0444 },
	{ "pvmem_stats/responses_ack", 0444 },
	{ "pvmem_stats/responses_nack", 0444 },
	{ "pvmem_stats/responses_busy", 0444 },
	{ "pvmem_stats/responses_error", 0444 },
	{ "pvmem_stats/responses_invalid", 0444 },
	{ "pvmem_stats/bytes_plugged", 0444 },
	{ "pvmem_stats/bytes_unplugged", 0444 },
	{ "pvmem_stats/unplug_failed_busy", 0444 },
	{ "pvmem_stats/unplug_failed_nomem", 0444 },
	{ "pvmem_stats/remove_failed", 0444 },
	{ "pvmem_stats/plug_paused_nomem", 0444 },
	{ "pvmem_stats/retries", 0444 },
	{ "pvmem_stats/tidied", 0444 },
	{ "pvmem_stats/emptied", 0444 },
	{ "pvmem_stats/bytes_unknown", 0444 },
};

TEST(attributes_exist_with_modes)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		ASSERT_EQ(0, stat(attr(attrs[i].name), &st))
		TH_LOG("%s", attrs[i].name);
		EXPECT_EQ(attrs[i].mode, st.st_mode & 0777)
		TH_LOG("%s", attrs[i].name);
		/* One value per file. */
		EXPECT_TRUE(!(attrs[i].mode & 0444) ||
			    one_line(attr(attrs[i].name)))
		TH_LOG("%s", attrs[i].name);
	}
	/* The multi-line ones live in debugfs. */
	EXPECT_NE(0, access(attr("pvmem/blocks"), F_OK));
	EXPECT_NE(0, access(attr("pvmem/last_request"), F_OK));
	EXPECT_STREQ("", attr_str("pvmem/broken_reason"));
}

static void agree_with_host(struct __test_metadata *_metadata, const char *dev,
			    uint64_t want)
{
	ASSERT_EQ(0, host_set(dev, want));
	ASSERT_EQ(0, host_wait_size(dev, want, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ((uint64_t)host_get(dev, "size"),
		  attr_u64("pvmem/plugged_size"));
	EXPECT_EQ((uint64_t)host_get(dev, "requested-size"),
		  attr_u64("pvmem/requested_size"));
	EXPECT_EQ((uint64_t)host_get(dev, "block-size"),
		  attr_u64("pvmem/block_size"));
	EXPECT_EQ((uint64_t)host_get(dev, "node"), attr_u64("pvmem/node"));
	EXPECT_EQ((uint64_t)host_get(dev, "memaddr"),
		  attr_u64("pvmem/region_start"));
	EXPECT_EQ((uint64_t)host_get(dev, "region-size"),
		  attr_u64("pvmem/region_size"));
	EXPECT_EQ(memory_block_size(), attr_u64("pvmem/memory_block_size"));
	EXPECT_STREQ("sub_block", attr_str("pvmem/mode"));
	EXPECT_EQ(0, attr_u64("pvmem/big_block_size"));
	EXPECT_STREQ("acpi_pxm", attr_str("pvmem/features"));
}

TEST(values_agree_with_host)
{
	const char *dev = first_dev();

	ASSERT_NE(NULL, dev);
	agree_with_host(_metadata, dev, GiB + 6 * MiB);
	EXPECT_NE(NULL, strstr(debug_str("last_request"), " plug ack"));
	EXPECT_NE(NULL, strstr(debug_str("blocks"), "online_movable 64/64"));
	/* 8 whole memory blocks and the one holding the 3 extra blocks. */
	EXPECT_NE(NULL, strstr(debug_str("blocks"), " online_movable 3/64\n"));
	/* pvmemstat shows the table and, with -b, the map from debugfs. */
	EXPECT_EQ(0, system("pvmemstat -b | grep -q ' idle '"));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_EQ(0, system("pvmemstat -b | grep -q '^    .* online_movable 3/64$'"));
	/* clang-format on */
	agree_with_host(_metadata, dev, 512 * MiB);
	EXPECT_NE(NULL, strstr(debug_str("last_request"), " unplug ack"));
	agree_with_host(_metadata, dev, 0);
	EXPECT_STREQ("", debug_str("blocks"));
}

/*
 * pvmem's own memory: at least a bit per device block of the region (it
 * tracks each), at most 1/65536 of the region, and the same whatever is
 * plugged: it is all taken at probe.
 */
TEST(own_bytes_small_and_fixed)
{
	const char *dev = first_dev();
	const uint64_t region = attr_u64("pvmem/region_size");
	const uint64_t blocks = region / attr_u64("pvmem/block_size");
	const uint64_t own = attr_u64("pvmem/own_bytes");

	ASSERT_NE(NULL, dev);
	TH_LOG("own_bytes %llu for %llu device blocks", (unsigned long long)own,
	       (unsigned long long)blocks);
	EXPECT_GE(own, blocks / 8);
	EXPECT_LE(own, region >> 16);
	agree_with_host(_metadata, dev, GiB);
	EXPECT_EQ(own, attr_u64("pvmem/own_bytes"));
	agree_with_host(_metadata, dev, 0);
}

/* Bad values get EINVAL and change nothing; good ones take effect. */
TEST(knobs_validate)
{
	static const struct {
		const char *name, *good;
		const char *bad[8];
	} knobs[] = {
		{ "pvmem/unplug_online",
		  "0",
		  { "-1", "abc", "\n", "2", "yes please" } },
		{ "pvmem/offline_cap",
		  "268435456",
		  { "-1", "abc", "\n", "0", "4096", "99999999999999999999999",
		    "18446744073709551615" } },
		{ "pvmem/retry_min_ms",
		  "50",
		  { "-1", "abc", "\n", "0", "9", "3600001", "99999999999" } },
		{ "pvmem/retry_max_ms",
		  "60000",
		  { "-1", "abc", "\n", "0", "49", "3600001", "99999999999" } },
		{ "pvmem/retry_now", NULL, { "0", "2", "abc", "\n", "-1" } },
		{ "pvmem/tidy_ms",
		  "15000",
		  { "-1", "abc", "\n", "9", "3600001", "99999999999" } },
	};
	char before[256];
	size_t i, j;

	/* Tidying is off unless asked for. */
	EXPECT_STREQ("0", attr_str("pvmem/tidy_ms"));
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		for (j = 0; j < ARRAY_SIZE(knobs[i].bad); j++) {
			const char *bad = knobs[i].bad[j] ? knobs[i].bad[j] :
							    "";

			if (!knobs[i].bad[j])
				break;
			if (knobs[i].good)
				snprintf(before, sizeof(before), "%s",
					 attr_str(knobs[i].name));
			EXPECT_EQ(-EINVAL, attr_write(knobs[i].name, bad))
			TH_LOG("%s <- \"%s\"", knobs[i].name, bad);
			if (knobs[i].good)
				EXPECT_STREQ(before, attr_str(knobs[i].name));
		}
		if (!knobs[i].good)
			continue;
		EXPECT_EQ(0, attr_write(knobs[i].name, knobs[i].good));
		EXPECT_STREQ(knobs[i].good, attr_str(knobs[i].name));
	}
	EXPECT_EQ(0, attr_write("pvmem/retry_now", "1"));
	/* Whole words only, any case. */
	EXPECT_EQ(0, attr_write("pvmem/unplug_online", "ON"));
	EXPECT_STREQ("1", attr_str("pvmem/unplug_online"));
	EXPECT_EQ(0, attr_write("pvmem/unplug_online", "false\n"));
	EXPECT_STREQ("0", attr_str("pvmem/unplug_online"));
	/* Back to the defaults for the tests after this one. */
	EXPECT_EQ(0, attr_write("pvmem/unplug_online", "1"));
	EXPECT_EQ(0, attr_write("pvmem/offline_cap", "1073741824"));
	EXPECT_EQ(0, attr_write("pvmem/retry_min_ms", "100"));
	EXPECT_EQ(0, attr_write("pvmem/retry_max_ms", "30000"));
	EXPECT_EQ(0, attr_write("pvmem/tidy_ms", "0"));
}

TEST(unplug_online_and_retry_now)
{
	const char *dev = first_dev();
	int i;

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, host_set(dev, GiB));
	ASSERT_EQ(0, host_wait_size(dev, GiB, 600));
	/* Forbidden to unplug online memory, with a 10-minute backoff. */
	ASSERT_EQ(0, attr_write("pvmem/retry_max_ms", "600000"));
	ASSERT_EQ(0, attr_write("pvmem/retry_min_ms", "600000"));
	ASSERT_EQ(0, attr_write("pvmem/unplug_online", "0"));
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, wait_state("waiting_for_retry", 300));
	EXPECT_EQ(GiB, attr_u64("pvmem/plugged_size"));
	/* Allowed again: nothing happens before the backoff ends... */
	ASSERT_EQ(0, attr_write("pvmem/unplug_online", "1"));
	for (i = 0; i < 30; i++) {
		EXPECT_EQ((int64_t)GiB, host_get(dev, "size"));
		usleep(100 * 1000);
	}
	/* ... unless retry_now says so. */
	ASSERT_EQ(0, attr_write("pvmem/retry_now", "1"));
	EXPECT_EQ(0, host_wait_size(dev, 0, 60));
	EXPECT_EQ(0, wait_state("idle", 300));
	EXPECT_EQ(0, attr_write("pvmem/retry_min_ms", "100"));
	EXPECT_EQ(0, attr_write("pvmem/retry_max_ms", "30000"));
}

TEST(offline_cap_pauses_plugging)
{
	const char *dev = first_dev();
	const uint64_t mb = memory_block_size();
	const char *auto_online =
		"/sys/devices/system/memory/auto_online_blocks";
	uint64_t addr;
	int i;

	ASSERT_NE(NULL, dev);
	addr = host_get(dev, "memaddr");
	ASSERT_EQ(0, sysfs_write(auto_online, "offline"));
	ASSERT_EQ(0,
		  attr_write("pvmem/offline_cap", "268435456")); /* 2 blocks */
	ASSERT_EQ(0, host_set(dev, 8 * mb));
	ASSERT_EQ(0, wait_state("waiting_for_online", 300));
	EXPECT_EQ((int64_t)(2 * mb), host_get(dev, "size"));
	/*
	 * Onlining what was added lets it go on, never more than two blocks
	 * offline (only this test onlines, so a count made before onlining
	 * anything is exact).  The order blocks come in is pvmem's business.
	 */
	for (i = 0; i < 200 && host_get(dev, "size") != (int64_t)(8 * mb);
	     i++) {
		char path[8][128], state[32];
		int b, offline = 0;
		bool off[8];

		usleep(100 * 1000);
		for (b = 0; b < 8; b++) {
			snprintf(path[b], sizeof(path[b]),
				 "/sys/devices/system/memory/memory%" PRIu64
				 "/state",
				 (addr + b * mb) / mb);
			read_line(state, sizeof(state), "%s", path[b]);
			off[b] = !strncmp(state, "offline", 7);
			offline += off[b];
		}
		EXPECT_GE(2, offline);
		for (b = 0; b < 8; b++)
			if (off[b])
				EXPECT_EQ(0, sysfs_write(path[b],
							 "online_movable"))
		TH_LOG("block %d", b);
	}
	EXPECT_EQ(0, host_wait_size(dev, 8 * mb, 60));
	EXPECT_EQ(0, sysfs_write(auto_online, "online_movable"));
	EXPECT_EQ(0, attr_write("pvmem/offline_cap", "1073741824"));
	ASSERT_EQ(0, host_set(dev, 0));
	EXPECT_EQ(0, host_wait_size(dev, 0, 600));
}

static const char *const stats[] = {
	"requests_plug",       "requests_unplug",
	"requests_unplug_all", "requests_state",
	"responses_ack",       "responses_nack",
	"responses_busy",      "responses_error",
	"responses_invalid",   "bytes_plugged",
	"bytes_unplugged",     "unplug_failed_busy",
	"unplug_failed_nomem", "remove_failed",
	"plug_paused_nomem",   "retries",
	"bytes_unknown",
};

static void read_stats(uint64_t *v)
{
	char name[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stats); i++) {
		snprintf(name, sizeof(name), "pvmem_stats/%s", stats[i]);
		v[i] = attr_u64(name);
	}
}

TEST(counters_go_up_and_add_up)
{
	const uint64_t steps[] = { 2 * GiB, 512 * MiB, 3 * GiB + 2 * MiB, 0 };
	uint64_t before[ARRAY_SIZE(stats)], after[ARRAY_SIZE(stats)];
	const char *dev = first_dev();
	size_t i, s;

	ASSERT_NE(NULL, dev);
	read_stats(before);
	for (s = 0; s < ARRAY_SIZE(steps); s++) {
		ASSERT_EQ(0, host_set(dev, steps[s]));
		ASSERT_EQ(0, host_wait_size(dev, steps[s], 600));
		ASSERT_EQ(0, wait_state("idle", 300));
		read_stats(after);
		for (i = 0; i < ARRAY_SIZE(stats); i++) {
			const char *name = stats[i] ? stats[i] : "?";

			EXPECT_GE(after[i], before[i])
			TH_LOG("%s went down", name);
		}
		/* bytes plugged - bytes unplugged = what is plugged now */
		EXPECT_EQ(attr_u64("pvmem/plugged_size"), after[9] - after[10]);
		EXPECT_EQ(steps[s], after[9] - after[10]);
		/* every request got exactly one answer */
		EXPECT_EQ(after[0] + after[1] + after[2] + after[3],
			  after[4] + after[5] + after[6] + after[7] + after[8]);
		memcpy(before, after, sizeof(before));
	}
	EXPECT_GT(after[0], 0);
	EXPECT_GT(after[1], 0);
}

/* Does the trace buffer have a line matching @re? */
static int trace_has(const char *re)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "grep -q '%s' /sys/kernel/tracing/trace",
		 re);
	return system(cmd) == 0;
}

TEST(tracepoints_fire_for_plug)
{
	const char *t = "/sys/kernel/tracing";
	const char *dev = first_dev();
	char path[128];

	ASSERT_NE(NULL, dev);
	snprintf(path, sizeof(path), "%s/events/pvmem/enable", t);
	if (access(path, F_OK))
		SKIP(return, "tracefs not mounted");
	ASSERT_EQ(0, sysfs_write(path, "1"));
	snprintf(path, sizeof(path), "%s/trace", t);
	ASSERT_EQ(0, sysfs_write(path, "\n"));
	ASSERT_EQ(0, host_set(dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(dev, 256 * MiB, 600));
	EXPECT_TRUE(trace_has("pvmem_request: virtio[0-9]* plug"));
	EXPECT_TRUE(trace_has("pvmem_response: .* plug .* resp=ack"));
	EXPECT_TRUE(trace_has("pvmem_block: .* unused -> adding"));
	snprintf(path, sizeof(path), "%s/events/pvmem/enable", t);
	EXPECT_EQ(0, sysfs_write(path, "0"));
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
}

/* Sleep in @state; the host wakes the guest @how 3 s later.  0 or -errno. */
static int sleep_and_wake(const char *state, const char *how)
{
	if (!strcmp(how, "tty") &&
	    sysfs_write("/sys/class/tty/ttyS1/power/wakeup", "enabled"))
		return -EIO;
	if (host_wake(3, how))
		return -EIO;
	return sysfs_write("/sys/power/state", state);
}

/* Plug @bytes, then back to nothing, checking the device answers. */
static void resize_works(struct __test_metadata *_metadata, const char *dev,
			 uint64_t bytes)
{
	ASSERT_EQ(0, host_set(dev, bytes));
	ASSERT_EQ(0, host_wait_size(dev, bytes, 600))
	TH_LOG("state %s", attr_str("pvmem/state"));
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
	EXPECT_STREQ("idle", attr_str("pvmem/state"));
}

/*
 * Suspend to idle keeps the device and its memory: allowed with memory
 * plugged; data survives, and a resize afterwards goes through the queue
 * pvmem re-created at resume.
 */
TEST(suspend_to_idle_keeps_plugged_memory)
{
	const char *dev = first_dev();

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, host_set(dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(dev, 256 * MiB, 600));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("dd if=/dev/urandom of=/tmp/s2i bs=1M count=64 2>/dev/null"));
	/* clang-format on */
	ASSERT_EQ(0, system("md5sum /tmp/s2i > /tmp/s2i.md5"));
	EXPECT_EQ(0, sleep_and_wake("freeze", "tty"));
	EXPECT_EQ(0, system("md5sum -c /tmp/s2i.md5 >/dev/null"));
	EXPECT_EQ((int64_t)(256 * MiB), host_get(dev, "size"));
	EXPECT_STRNE("broken", attr_str("pvmem/state"));
	unlink("/tmp/s2i");
	unlink("/tmp/s2i.md5");
	resize_works(_metadata, dev, 512 * MiB);
}

/*
 * Suspend to RAM may lose plugged memory unless the device keeps it
 * (VIRTIO_MEM_F_PERSISTENT_SUSPEND, which QEMU 7.2 does not offer):
 * refused while anything is plugged, allowed with nothing plugged, and
 * the device works after the resume.  Hibernation is refused while
 * anything is plugged.
 */
TEST(suspend_to_ram_and_hibernation_with_memory_plugged)
{
	const char *dev = first_dev();
	int rc;

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, host_set(dev, 256 * MiB));
	ASSERT_EQ(0, host_wait_size(dev, 256 * MiB, 600));
	if (strstr(attr_str("pvmem/features"), "persistent_suspend")) {
		/* A device that keeps it: allowed, memory and all. */
		EXPECT_EQ(0, sleep_and_wake("mem", "acpi"));
	} else {
		EXPECT_EQ(-EBUSY, sysfs_write("/sys/power/state", "mem"));
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		EXPECT_TRUE(dmesg_has("suspend to RAM refused: 256 MiB plugged"));
		/* clang-format on */
	}
	rc = sysfs_write("/sys/power/state", "disk");
	if (rc == -EPERM || rc == -EINVAL || rc == -ENODEV)
		TH_LOG("hibernation not available here (%d)", rc);
	else
		EXPECT_EQ(-EBUSY, rc);
	if (rc == -EBUSY)
		EXPECT_TRUE(dmesg_has("hibernation refused: 256 MiB plugged"));
	EXPECT_EQ((int64_t)(256 * MiB), host_get(dev, "size"));
	EXPECT_STREQ("idle", attr_str("pvmem/state"));

	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
	EXPECT_EQ(0, sleep_and_wake("mem", "acpi"));
	resize_works(_metadata, dev, 256 * MiB);
}

TEST(rmmod_refused_while_plugged_and_reload_ten_times)
{
	const char *dev = first_dev();
	int i, t;

	ASSERT_NE(NULL, dev);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, host_set(dev, 256 * MiB));
		ASSERT_EQ(0, host_wait_size(dev, 256 * MiB, 600));
		ASSERT_EQ(0, wait_state("idle", 300));
		/* Memory in use by Linux: the module is pinned. */
		EXPECT_NE(0, system("rmmod pvmem 2>/dev/null"))
		TH_LOG("round %d", i);
		EXPECT_EQ(256 * MiB, attr_u64("pvmem/plugged_size"));
		EXPECT_EQ((int64_t)(256 * MiB), host_get(dev, "size"));
		ASSERT_EQ(0, host_set(dev, 0));
		ASSERT_EQ(0, host_wait_size(dev, 0, 600));
		ASSERT_EQ(0, wait_state("idle", 300));
		ASSERT_EQ(0, system("rmmod pvmem")) TH_LOG("round %d", i);
		EXPECT_NE(0, access(DRV, F_OK));
		ASSERT_EQ(0, system("insmod /pvmem/pvmem.ko"))
		TH_LOG("round %d", i);
		for (t = 0; t < 100 && access(attr("pvmem/state"), F_OK); t++)
			usleep(100 * 1000);
		ASSERT_EQ(0, access(attr("pvmem/state"), F_OK))
		TH_LOG("round %d", i);
	}
}

/* Last: unloads and reloads the module. */
TEST(module_parameters_checked_at_load)
{
	const char *dev = first_dev();

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
	ASSERT_EQ(0, system("rmmod pvmem"));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko response_timeout=0 2>/dev/null"));
	/* clang-format on */
	EXPECT_TRUE(dmesg_has("response_timeout=0 is outside 1-3600 seconds"));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko retry_min_ms=500 retry_max_ms=99 2>&-"));
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko offline_cap_mb=0 2>/dev/null"));
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko tidy_ms=5 2>/dev/null"));
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko bbm_block_size=100000000 2>/dev/null"));
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko bbm_block_size=67108864 2>/dev/null"));
	EXPECT_NE(0, system("insmod /pvmem/pvmem.ko bbm_block_size=34359738368 2>/dev/null"));
	EXPECT_TRUE(dmesg_has("bbm_block_size=67108864: need 0 or a power of two"));
	/* clang-format on */
	EXPECT_TRUE(dmesg_has("tidy_ms=5: need 0 or 10-3600000"));
	/* Good parameters load, and become the device's knobs. */
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("insmod /pvmem/pvmem.ko unplug_online=0 retry_min_ms=200 tidy_ms=0"));
	/* clang-format on */
	EXPECT_STREQ("0", attr_str("pvmem/unplug_online"));
	EXPECT_STREQ("200", attr_str("pvmem/retry_min_ms"));
	EXPECT_STREQ("0", attr_str("pvmem/tidy_ms"));
	/* A good value loads and becomes the knob. */
	ASSERT_EQ(0, system("rmmod pvmem"));
	ASSERT_EQ(0, system("insmod /pvmem/pvmem.ko tidy_ms=20000"));
	EXPECT_STREQ("20000", attr_str("pvmem/tidy_ms"));
	/* Forced big blocks of 256 MiB on this 2 MiB-block device. */
	ASSERT_EQ(0, system("rmmod pvmem"));
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	ASSERT_EQ(0, system("insmod /pvmem/pvmem.ko force_bbm=1 bbm_block_size=268435456"));
	/* clang-format on */
	EXPECT_STREQ("big_block", attr_str("pvmem/mode"));
	EXPECT_EQ(256 * MiB, attr_u64("pvmem/big_block_size"));
	ASSERT_EQ(0, host_set(dev, 256 * MiB));
	EXPECT_EQ(0, host_wait_size(dev, 256 * MiB, 600));
	ASSERT_EQ(0, host_set(dev, 0));
	EXPECT_EQ(0, host_wait_size(dev, 0, 600));
	ASSERT_EQ(0, system("rmmod pvmem"));
	ASSERT_EQ(0, system("insmod /pvmem/pvmem.ko tidy_ms=20000"));
	ASSERT_EQ(0, host_set(dev, 128 * MiB));
	EXPECT_EQ(0, host_wait_size(dev, 128 * MiB, 600));
}

TEST_HARNESS_MAIN
