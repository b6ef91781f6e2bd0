/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem passes: the worker's plug and unplug loops, pure logic.
 *
 * One pass reads and checks the config, settles UNPLUGs still owed, then
 * plugs or unplugs towards requested_size and takes empty memory blocks
 * out of Linux.  It touches the device and the kernel's memory only
 * through a backend (struct pvmem_backend_ops): the module supplies one
 * that talks to the virtqueue and the memory layer (mm-hooks/), the unit
 * tests in tools/testing/pvmem/ one that fakes both.  Like pvmem_core.c,
 * this file needs no kernel-only header and is compiled unchanged into
 * pvmem.ko and into the userspace tests.
 *
 * The device state machine (enum pvmem_dev_state), changed only by
 * pvmem_ctl_set_state():
 *
 *   probe --> LEFTOVERS --UNPLUG_ALL acked--+
 *     |         (BUSY: stays, backoff)      |
 *     +-------------------------------------+--> IDLE
 *     |                                     |
 *   probe over memory a detached binding    |
 *   left --> ADOPTING --STATE checks done---+
 *
 *   probe in a crash kernel --> KDUMP (final: STATE requests only)
 *                                                 |  ^
 *                  config interrupt, kick, retry  v  | pass DONE
 *                                 PLUGGING / UNPLUGGING
 *                                   |      |       |
 *                    WAIT_ONLINE <--+      |       +--> RETRY --backoff--+
 *                    (onlining kicks)      |                             |
 *                                          +--> BROKEN (final)           |
 *                                  PLUGGING / UNPLUGGING <---------------+
 *
 * A pass ends in one enum pvmem_result; pvmem_ctl_settle() turns it into
 * the next state and the delay before the next pass.
 */
#ifndef _PVMEM_PASS_H
#define _PVMEM_PASS_H

#include <linux/compiler.h>

#include "pvmem_core.h"

/* What the device worker is doing; changed only by pvmem_ctl_set_state(). */
enum pvmem_dev_state {
	PVMEM_DEV_IDLE, /* plugged_size matches what can be reached */
	PVMEM_DEV_LEFTOVERS, /* memory plugged before probe: UNPLUG_ALL first */
	PVMEM_DEV_PLUGGING, /* plugging towards requested_size */
	PVMEM_DEV_UNPLUGGING, /* unplugging towards requested_size */
	PVMEM_DEV_WAIT_ONLINE, /* plugging paused: offline_cap reached */
	PVMEM_DEV_RETRY, /* waiting for the backoff to run again */
	PVMEM_DEV_BROKEN, /* device misbehaved; no request is sent */
	/* bound again over memory left in Linux: STATE checks it first */
	PVMEM_DEV_ADOPTING,
	/* in a crash kernel: only STATE is sent, nothing changes (final) */
	PVMEM_DEV_KDUMP,
	PVMEM_DEV_STATE_NR
};

/* How one request ended, as the backend's send() reports it. */
enum pvmem_answer {
	PVMEM_ANS_ACK, /* the device did it */
	PVMEM_ANS_NACK, /* PLUG refused for now (beyond requested_size) */
	PVMEM_ANS_BUSY, /* the device cannot now; nothing changed */
	PVMEM_ANS_ERROR, /* the device calls the request invalid */
	PVMEM_ANS_UNSENT, /* could not be queued; the device never saw it */
	PVMEM_ANS_TIMEOUT, /* no answer in time: outcome unknown */
	PVMEM_ANS_INVALID, /* an answer that makes no sense: outcome unknown */
	PVMEM_ANS_GONE, /* the device went away: outcome unknown */
	PVMEM_ANS_NR
};

/* How a pass ended. */
enum pvmem_result {
	PVMEM_RES_DONE, /* at the target, or as near as the region allows */
	PVMEM_RES_WAIT_ONLINE, /* paused at offline_cap; onlining kicks the worker */
	PVMEM_RES_AGAIN, /* config changed (run again now), or stopping */
	PVMEM_RES_RETRY, /* cannot go on now (see enum pvmem_why): backoff */
	PVMEM_RES_BROKEN, /* the device misbehaved: no request is sent again */
};

/* Why a pass wants a retry (PVMEM_RES_RETRY), or why a block was skipped. */
enum pvmem_why {
	PVMEM_WHY_NONE,
	PVMEM_WHY_BUSY, /* the device answered BUSY */
	PVMEM_WHY_NACK, /* the device answered NACK */
	PVMEM_WHY_UNSENT, /* the request could not be queued */
	PVMEM_WHY_ADD, /* adding memory to Linux failed */
	PVMEM_WHY_MEMMAP, /* too little free memory for memory maps */
	PVMEM_WHY_ISOLATE_BUSY, /* a range would not migrate (skipped) */
	PVMEM_WHY_ISOLATE_NOMEM, /* no room to migrate a range to (skipped) */
	PVMEM_WHY_STUCK, /* nothing more can be unplugged this pass */
	PVMEM_WHY_REMOVE, /* an empty memory block would not go */
	PVMEM_WHY_CONFIG, /* the config contradicts itself (for now) */
	/* Linux offlines a memory block of the region (skipped; no hotplug) */
	PVMEM_WHY_OFFLINING,
	PVMEM_WHY_NR
};

/* What the passes tell the operator; the driver words each message. */
enum pvmem_event {
	PVMEM_EV_BROKEN, /* ctl->broken_reason says why */
	PVMEM_EV_CONFIG_REJECTED, /* a: enum pvmem_cfg_err */
	PVMEM_EV_PLUGGED_MISMATCH, /* a: device's plugged_size, b: pvmem's */
	PVMEM_EV_LEFTOVERS_CLEARED, /* UNPLUG_ALL of memory plugged before probe */
	PVMEM_EV_ADD_FAILED, /* a: address, b: size, err: errno */
	PVMEM_EV_PLUG_PAUSED, /* once per stall for memory maps */
	PVMEM_EV_PLUG_OUTSIDE, /* request reaches outside whole memory blocks */
	PVMEM_EV_ADOPTED, /* a: bytes taken over, b: leftover bytes unplugged */
	PVMEM_EV_ADOPT_LOST, /* a: address, b: size the device lost */
	PVMEM_EV_RESIZE, /* new requested_size; a: plugged, b: requested */
	PVMEM_EV_UNPLUG_ALL_FAILED, /* at teardown: the host sees memory plugged */
	PVMEM_EV_NR
};

/* Counters the passes keep; read with READ_ONCE() through pvmem_ctl_stat(). */
enum pvmem_stat {
	PVMEM_STAT_ISOLATE_BUSY, /* unplug runs that would not migrate */
	PVMEM_STAT_ISOLATE_NOMEM, /* ... that found no memory to migrate to */
	PVMEM_STAT_REMOVE_FAILED, /* empty memory blocks not yet removed */
	PVMEM_STAT_PLUG_NOMEM, /* plug passes paused for memory maps */
	PVMEM_STAT_RETRIES, /* backoff retries scheduled */
	/* Device blocks of requests with no clean answer: kept from Linux. */
	PVMEM_STAT_UNKNOWN_BLOCKS,
	PVMEM_STAT_TIDIED, /* sparse memory blocks emptied into others */
	/* Memory blocks removed after unplugging only their pages in use. */
	PVMEM_STAT_EMPTIED,
	PVMEM_STAT_NR
};

/*
 * Everything a pass needs from outside.  @be is the backend's own pointer.
 * Calls marked "locked" come with the map lock held (lock()/unlock()),
 * all others without it.
 */
struct pvmem_backend_ops {
	/* The device. */
	void (*read_config)(void *be, struct pvmem_cfg *cfg);
	bool (*config_changed)(void *be); /* since the last read_config */
	enum pvmem_answer (*send)(void *be, u16 type, u64 addr, u16 nb);
	/* A STATE request; *@state is a VIRTIO_MEM_STATE_* if it is acked. */
	enum pvmem_answer (*query)(void *be, u64 addr, u16 nb, u16 *state);

	/* The memory layer. */
	void (*lock)(void *be);
	void (*unlock)(void *be);
	/* locked: a memory block changes state (traced, checked). */
	void (*set_state)(void *be, u32 mb, enum pvmem_mb_state state);
	/*
	 * Add memory blocks [mb, mb + nr) to Linux: 0 or -errno.  *selfmap
	 * in: the block (nr is 1) is fully plugged and may carry its own
	 * memory map; out: whether it does (then the memory layer has set
	 * it in the map's selfmap before Linux could online it).
	 */
	int (*add)(void *be, u32 mb, u32 nr, bool *selfmap);
	/*
	 * Remove one memory block marked REMOVING, offlining it first if it
	 * is online, which the memory layer refuses (-EBUSY) if any page of
	 * it is in use: 0 or -errno.  On
	 * failure the memory layer has set the block to the state Linux has
	 * it in.
	 */
	int (*remove)(void *be, u32 mb);
	/* locked: take plugged device blocks of an online block from Linux. */
	int (*isolate)(void *be, const struct pvmem_run *run);
	/* locked: hand device blocks of an online block to Linux. */
	void (*release)(void *be, const struct pvmem_run *run);
	/*
	 * locked: take from Linux, with the range allocator, the pageblocks
	 * of online memory block mb that hold pages in use (at most
	 * PVMEM_EMPTY_PIECES, with those taken before), so that its removal
	 * finds nothing in use: 0; -E2BIG if more hold some; -EBUSY or
	 * -ENOMEM as isolate().  What is taken stays taken until remove()
	 * takes it with the block, or put_taken() hands it back.
	 */
	int (*take_used)(void *be, u32 mb);
	/* locked: hand what take_used() took of mb back to Linux. */
	void (*put_taken)(void *be, u32 mb);
	/*
	 * locked: pages in use in the plugged device blocks [sb, sb + nb)
	 * of a block, its online part only (racy; 0: it looks idle).
	 */
	u32 (*in_use)(void *be, u32 mb, u32 sb, u32 nb);
	/* How many memory blocks' memory maps fit now. */
	u32 (*add_room)(void *be);
	/* A monotonic clock, in milliseconds. */
	u64 (*now_ms)(void *be);

	/* Something the operator should hear about. */
	void (*report)(void *be, enum pvmem_event ev, u64 a, u64 b, int err);
};

/* Knobs: written with WRITE_ONCE() (sysfs), read with READ_ONCE(). */
struct pvmem_knobs {
	bool unplug_online; /* may unplug online memory */
	u64 offline_cap; /* bytes added but not onlined, at most */
	unsigned int retry_min_ms; /* first backoff */
	unsigned int retry_max_ms; /* backoff cap */
	/* At rest, empty a sparse memory block this often; 0: never. */
	unsigned int tidy_ms;
};

/* Ranges the retry knobs are checked against. */
#define PVMEM_RETRY_MS_MIN 10
#define PVMEM_RETRY_MS_MAX 3600000

/* Config reads per pass before a contradiction counts as a bad pass. */
#define PVMEM_CFG_READS 3
/* Bad passes in a row after which the device is marked broken. */
#define PVMEM_CFG_BAD_PASSES 5

/* Owed memory blocks that make pvmem send their UNPLUG (1 GiB at 128 MiB). */
#define PVMEM_OWED_BATCH 8

/*
 * Runs of device blocks in use, at most, that pvmem empties out of a
 * memory block one by one before removing the rest of it whole; a block
 * with more goes through the range allocator in one run.
 */
#define PVMEM_EMPTY_RUNS 4
/* Attempts to remove the free rest of a block emptied of what is in use. */
#define PVMEM_EMPTY_ROUNDS 3

/* Memory blocks in use pvmem_ctl_teardown() empties at most (512 MiB). */
#define PVMEM_TEARDOWN_MIGRATE 4

/* pvmem_ctl_settle(): no pass is due until a config interrupt or a kick. */
#define PVMEM_NO_PASS (~0U)

/**
 * struct pvmem_ctl - the passes' view of one device
 * @ops: the backend
 * @be: the backend's pointer, passed to every op
 * @lim: what the guest kernel can take
 * @lo: where the region's memory blocks are
 * @boot_cfg: the config accepted at probe
 * @cfg: the last validated config
 * @map: the block map; the memory layer's, read and changed under
 *	@ops->lock() only
 * @knobs: the operator's settings
 * @state: what the worker is doing; only pvmem_ctl_set_state() changes it
 * @why: why the last pass asked for a retry
 * @broken_reason: why the device was marked broken (state BROKEN)
 * @retry_ms: the next backoff
 * @kicked: pvmem_ctl_kick() ran since this pass began (memory got onlined)
 * @cfg_bad: passes in a row whose config contradicted itself
 * @stop: the device is going away: passes end after the run in hand
 * @keep_blocks: pvmem_ctl_teardown() is running: memory blocks stay in
 *	Linux, since removing them takes hotplug locks remove() may be under
 * @migrate_budget: memory blocks in use the teardown may still empty
 * @tidy_at: @ops->now_ms() before which no memory block is tidied
 * @tidy_wait: set by a pass at rest: ms until a sparse memory block is
 *	due to be emptied, PVMEM_NO_PASS if none is
 * @selfmap_off: an addition that asked for a memory map inside its block
 *	did not get one: the kernel keeps memory maps in boot memory, so
 *	memory blocks are added in batches again
 * @recount: pages migrated since the map's in_use was counted: an unplug
 *	counts again before it plans
 * @stats: counters, enum pvmem_stat
 *
 * All but @knobs, @kicked and @stop belong to the worker: only it runs
 * passes.  Others may
 * read @state, @cfg and @stats racily for reporting.
 */
struct pvmem_ctl {
	const struct pvmem_backend_ops *ops;
	void *be;
	struct pvmem_limits lim;
	struct pvmem_layout lo;
	struct pvmem_cfg boot_cfg;
	struct pvmem_cfg cfg;
	struct pvmem_map *map;
	struct pvmem_knobs knobs;
	enum pvmem_dev_state state;
	enum pvmem_why why;
	const char *broken_reason;
	unsigned int retry_ms;
	bool kicked;
	unsigned int cfg_bad;
	bool stop;
	bool keep_blocks;
	unsigned int migrate_budget;
	u64 tidy_at;
	unsigned int tidy_wait;
	bool selfmap_off;
	bool recount;
	u64 stats[PVMEM_STAT_NR];
};

void pvmem_ctl_init(struct pvmem_ctl *ctl, const struct pvmem_backend_ops *ops,
		    void *be, struct pvmem_map *map);
enum pvmem_result pvmem_ctl_pass(struct pvmem_ctl *ctl);
unsigned int pvmem_ctl_settle(struct pvmem_ctl *ctl, enum pvmem_result res);
bool pvmem_ctl_kick(struct pvmem_ctl *ctl);
void pvmem_ctl_stop(struct pvmem_ctl *ctl, bool stop);
bool pvmem_ctl_teardown(struct pvmem_ctl *ctl);
u32 pvmem_ctl_reap(struct pvmem_ctl *ctl, bool *again);
void pvmem_ctl_rebind(struct pvmem_ctl *ctl, const struct pvmem_cfg *cfg);
s64 pvmem_ctl_survey(struct pvmem_ctl *ctl, unsigned long *plugged);

const char *pvmem_dev_state_name(enum pvmem_dev_state state);

/* For reporting (sysfs): racy reads of what the worker keeps. */
static inline enum pvmem_dev_state pvmem_ctl_state(const struct pvmem_ctl *ctl)
{
	return READ_ONCE(ctl->state);
}

/* Why the device is broken; "" while it is not. */
static inline const char *pvmem_ctl_broken_reason(const struct pvmem_ctl *ctl)
{
	const char *why = READ_ONCE(ctl->broken_reason);

	return pvmem_ctl_state(ctl) == PVMEM_DEV_BROKEN && why ? why : "";
}

static inline u64 pvmem_ctl_stat(const struct pvmem_ctl *ctl,
				 enum pvmem_stat stat)
{
	return READ_ONCE(ctl->stats[stat]);
}

/* requested_size or usable_region_size as last read and validated. */
static inline u64 pvmem_ctl_requested(const struct pvmem_ctl *ctl)
{
	return READ_ONCE(ctl->cfg.requested_size);
}

static inline u64 pvmem_ctl_usable(const struct pvmem_ctl *ctl)
{
	return READ_ONCE(ctl->cfg.usable_region_size);
}

/* Memory blocks Linux holds (added, or being added or removed). */
static inline u32 pvmem_ctl_in_linux(const struct pvmem_ctl *ctl)
{
	const struct pvmem_map *map = ctl->map;

	return map->nb_mb - map->count[PVMEM_MB_UNUSED] -
	       map->count[PVMEM_MB_OWED];
}

static inline u64 pvmem_ctl_mb_addr(const struct pvmem_ctl *ctl, u32 mb)
{
	return pvmem_layout_mb_addr(&ctl->lo, mb);
}

#endif /* _PVMEM_PASS_H */
