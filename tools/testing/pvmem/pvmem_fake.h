/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake virtio-mem device and fake Linux memory, behind the backend ops
 * of pvmem_pass.h, so the unit tests and the fuzzer drive the driver's
 * real passes (drivers/virtio/pvmem_pass.c) in userspace.
 *
 * The device answers as QEMU's does (ACK, NACK beyond requested_size,
 * ERROR for a bad range), unless a script says otherwise for the n-th
 * request: BUSY, NACK, ERROR, not queued, an invalid answer, or no answer
 * in time (LATE: the device did it anyway; NEVER: it did not).  Its config
 * can change before any backend call.  The memory knows, per device
 * block, whether Linux has it (absent, held back, in the page allocator)
 * and per memory block whether it is added, pinned (will not migrate or
 * offline) and whether there is room to migrate or add.
 *
 * After every backend call the fake checks the invariants (see
 * fake_check()); the first one broken is kept in fake->err.
 */
#ifndef _PVMEM_FAKE_H
#define _PVMEM_FAKE_H

#include "pvmem_pass.h"

/* How the fake device treats a request. */
enum fake_act {
	FA_NORMAL, /* as the spec says */
	FA_BUSY,
	FA_NACK,
	FA_ERROR,
	FA_UNSENT, /* never reaches the device */
	FA_INVALID, /* done, but the answer is garbage */
	FA_LATE, /* done, the answer comes after the timeout */
	FA_NEVER, /* not done, no answer */
	FA_GONE, /* the device went away (maybe after doing it) */
	FA_NR
};

/* What Linux does with one device block. */
enum fake_lx {
	LX_ABSENT, /* its memory block is not added */
	LX_OFF, /* added, held back: offline, fake-offline or isolated */
	LX_BUDDY, /* in the page allocator: Linux may use it */
	LX_MEMMAP, /* holds its memory block's own memory map while added */
};

/* Linux's view of a memory block (the map's may say REMOVING). */
enum fake_zone {
	FZ_OFF, /* offline, or not added */
	FZ_KERNEL, /* online in a kernel zone */
	FZ_MOVABLE, /* online in ZONE_MOVABLE */
};

#define FAKE_SCRIPT 16
#define FAKE_LOG 1024

#define FAKE_PIN_ALL 1
#define FAKE_PIN_TOP 2

struct fake {
	/* The driver side: the real passes over a real map. */
	struct pvmem_ctl ctl;
	struct pvmem_map map;
	void *map_mem;

	/* The device. */
	struct pvmem_cfg dev; /* plugged_size kept up to date */
	u64 dev_blocks; /* device blocks in the region */
	u64 map_offset; /* device block of map block 0 */
	unsigned char *dev_plugged; /* per device block */
	unsigned char *unknown; /* a request of unknown outcome */
	bool changed; /* config interrupt pending */
	bool corrupt_addr; /* config reads see addr moved */
	struct {
		long at;
		enum fake_act act;
	} script[FAKE_SCRIPT];
	int nscript;
	enum fake_act all; /* for requests the script leaves */
	long sends; /* requests seen */
	long sends_locked; /* ... with the map lock held */
	long nr_type[PVMEM_REQ_NR];

	/* The next torn_reads config reads see usable_region_size torn_usable. */
	int torn_reads;
	u64 torn_usable;

	/* Config change before backend call number change_at (from 1). */
	long change_at;
	u64 change_to;

	/* The memory. */
	unsigned char *lx; /* enum fake_lx per map block */
	unsigned char *added; /* per memory block */
	/*
	 * Per memory block: FAKE_PIN_ALL, nothing of it migrates;
	 * FAKE_PIN_TOP, its topmost device block does not.
	 */
	unsigned char *pinned;
	unsigned char *zone; /* enum fake_zone per memory block */
	unsigned char *used; /* data in its plugged memory (movable) */
	/*
	 * Per map block: pages of data in that device block alone, on top
	 * of its memory block's used; they migrate away when it is isolated.
	 */
	unsigned char *sb_used;
	bool stale_idle; /* in_use() says 0 even when in use */
	bool storm; /* config_changed() always says yes */
	long isolations; /* runs isolated */
	bool auto_online; /* hot-added memory goes online */
	bool kernel_zone; /* ... to a kernel zone, not movable */
	bool no_room; /* nowhere to migrate to */
	/* What an isolation migrates lands in its own memory block's rest. */
	bool land_in_block;
	/*
	 * Pageblocks in use take_used() took from memory block taken_mb
	 * (PVMEM_NO_MB: none), one per page in use; take_tries counts the
	 * calls, takes those that took something, and the next land_takes
	 * of them leave one page behind, landed in the block's free rest.
	 */
	u32 taken_mb;
	u32 taken;
	long take_tries;
	long takes;
	int land_takes;
	bool memmap_refused; /* asked for a memory map inside, Linux says no */
	u64 now_ms; /* the clock the passes read; tests move it */
	long selfmap_adds; /* memory blocks added with their map inside */
	u32 add_room; /* memory maps that fit (~0U: any) */
	int fail_add; /* additions to fail */
	int fail_remove; /* removals to fail */
	/*
	 * At every request and removal: try to online (or offline) race_mb,
	 * as a user would.
	 */
	u32 race_mb; /* PVMEM_NO_MB: nobody tries */
	bool race_online;
	long races_refused, races_done;
	long kicks; /* onlining or offlining asked the worker to run */
	/*
	 * Linux begins to offline this memory block (fake_offline_begin())
	 * when the map lock drops after a pass counted pages in use, that is
	 * after it planned an unplug (PVMEM_NO_MB: never).
	 */
	u32 offline_after_count;
	bool counted; /* in_use() was called under the lock held now */
	u32 add_log[FAKE_LOG]; /* memory blocks in the order added */
	u32 remove_log[FAKE_LOG]; /* ... and removed */
	int nadd, nremove;

	/* Bookkeeping. */
	bool locked;
	long calls, pass_calls, pass_limit;
	long events[PVMEM_EV_NR];
	u64 event_a[PVMEM_EV_NR], event_b[PVMEM_EV_NR]; /* of the last one */
	char err[256];
};

#define FAKE_MiB (1024ULL * 1024)
#define FAKE_GiB (1024ULL * FAKE_MiB)

/* A fake over a region of @region bytes of @block-byte blocks at 4 GiB. */
int fake_init(struct fake *f, u64 region, u64 block, u64 usable);
int fake_init_memmap(struct fake *f, u64 region, u64 block, u64 usable,
		     u64 memmap_size);
int fake_init_bbm(struct fake *f, u64 region, u64 block, u64 usable,
		  u64 bbm_size);
int fake_init_lim(struct fake *f, u64 region, u64 block, u64 usable,
		  const struct pvmem_limits *lim);
void fake_free(struct fake *f);
/* The host asks for @bytes (config interrupt). */
void fake_request(struct fake *f, u64 bytes);
/*
 * The host asks for @bytes, raising the usable region to it if needed;
 * the next @torn config reads still see the old usable region.
 */
void fake_grow(struct fake *f, u64 bytes, int torn);
/* Answer the @n-th request from now (0: the next) with @act. */
void fake_script(struct fake *f, long n, enum fake_act act);
/*
 * The worker: passes until it rests, waits for a backoff, or @max passes
 * ran; the last pass's result.
 */
enum pvmem_result fake_run(struct fake *f, int max);
/*
 * Unbind as pvmem_remove() does (teardown, and UNPLUG_ALL if nothing is
 * plugged, unless a pass was @running), then the DETACHED worker's reap
 * until it rests: memory blocks Linux still holds.  The device's blocks
 * count as unknown from then on.
 */
u32 fake_unbind(struct fake *f, bool running);
/* Bind again: the driver adopts the memory left in Linux. */
void fake_rebind(struct fake *f);
/* A user onlines (@movable or to a kernel zone) or offlines a block. */
int fake_online(struct fake *f, u32 mb, bool movable);
int fake_offline(struct fake *f, u32 mb);
int fake_offline_begin(struct fake *f, u32 mb);
void fake_offline_end(struct fake *f, bool done);
/* Check every invariant now; false (and f->err) if one is broken. */
bool fake_check(struct fake *f);
/* Device blocks the device has plugged. */
u64 fake_dev_plugged(const struct fake *f);
/* Map blocks Linux may use. */
u64 fake_usable(const struct fake *f);

#endif /* _PVMEM_FAKE_H */
