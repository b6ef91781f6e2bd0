// SPDX-License-Identifier: GPL-2.0
/*
 * Plugging into a guest that has almost no free boot memory.  Every memory
 * block hot-added needs its memory map (2 MiB per 128 MiB) from the kernel
 * zones, and memory onlined to ZONE_MOVABLE gives none back, so a starved
 * guest cannot plug its way out.  pvmem must add what fits, pause with a
 * message and retry with backoff instead of driving the guest into
 * allocation failures or the OOM killer, and finish once memory is freed.
 *
 * Rig scenario "pressure": one 8 GiB device, 1 GiB of boot memory,
 * hot-added memory onlined movable.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "pvmem_util.h"

/*
 * A process that takes anonymous memory, 1 MiB at a time, until the guest
 * has only @left bytes available, and holds it until killed.  There is no
 * swap, so nothing can reclaim it.  Returns its pid once it holds it all.
 */
static pid_t hog_start(int64_t left)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (!pid) {
		while (meminfo_field("/proc/meminfo", "MemAvailable") > left) {
			char *p = mmap(NULL, MiB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				_exit(2);
			memset(p, 0x5a, MiB);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	return pid;
}

/* The device, pvmem's view and MemTotal all agree on @size. */
static void agree(struct __test_metadata *_metadata, const char *dev,
		  int64_t base, int64_t size)
{
	EXPECT_EQ(size, (int64_t)attr_u64("pvmem/plugged_size"));
	EXPECT_EQ(size, mem_total() - base);
}

TEST(plug_into_starved_guest_pauses_then_finishes)
{
	const char *dev = first_dev();
	const uint64_t want = 8 * GiB;
	int64_t base, size, paused;
	int status;
	pid_t hog;

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
	ASSERT_EQ(0, wait_state("idle", 300));
	/* Retry every second at most, so freed memory is noticed soon. */
	ASSERT_EQ(0, attr_write("pvmem/retry_max_ms", "1000"));
	base = mem_total();
	paused = attr_u64("pvmem_stats/plug_paused_nomem");

	/*
	 * 40 MiB left: the 8 GiB asked for need 128 MiB of memory maps,
	 * and pvmem keeps 16 MiB for the guest, so only part of it fits.
	 */
	hog = hog_start(40 * MiB);
	ASSERT_LT(0, hog);
	TH_LOG("hog holds all but %" PRId64 " MiB",
	       meminfo_field("/proc/meminfo", "MemAvailable") / (int64_t)MiB);
	ASSERT_EQ(0, host_set(dev, want));

	/* pvmem stops short of the request and says why. */
	for (int i = 0;
	     i < 1200 &&
	     (int64_t)attr_u64("pvmem_stats/plug_paused_nomem") < paused + 3;
	     i++)
		usleep(100 * 1000);
	EXPECT_LE(paused + 3,
		  (int64_t)attr_u64("pvmem_stats/plug_paused_nomem"));
	EXPECT_EQ(0, wait_state("waiting_for_retry", 100));
	size = host_get(dev, "size");
	TH_LOG("plugged %" PRId64 " MiB of %" PRIu64 " MiB while starved",
	       size / (int64_t)MiB, want / MiB);
	EXPECT_LT(size, (int64_t)want);
	agree(_metadata, dev, base, size);
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_TRUE(dmesg_has("plugging paused: too little free memory for memory maps"));
	/* clang-format on */
	/* Nothing failed an allocation, nobody was killed. */
	EXPECT_EQ(0, waitpid(hog, &status, WNOHANG));
	EXPECT_FALSE(oom_seen());
	EXPECT_FALSE(dmesg_has("alloc failure"));
	EXPECT_FALSE(dmesg_has("page allocation failure"));

	/* Memory freed: the next retry plugs the rest. */
	ASSERT_EQ(0, kill(hog, SIGKILL));
	ASSERT_EQ(hog, waitpid(hog, &status, 0));
	ASSERT_EQ(0, host_wait_size(dev, want, 300));
	EXPECT_EQ(0, wait_state("idle", 300));
	agree(_metadata, dev, base, want);
	EXPECT_FALSE(oom_seen());

	ASSERT_EQ(0, host_set(dev, 0));
	ASSERT_EQ(0, host_wait_size(dev, 0, 600));
}

TEST_HARNESS_MAIN
