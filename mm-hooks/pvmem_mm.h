/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem memory layer: where a device's memory meets Linux memory hotplug.
 *
 * Below the driver, above the pure core: it owns the block map and its
 * lock, the memory notifier, the online page callback, the dynamic memory
 * group and the traced block-state setter.  It never calls into the
 * driver; the driver hears from it only through the callbacks it
 * registers (struct pvmem_mm_ops), the way page_reporting_register()
 * takes its callback.
 */
#ifndef _PVMEM_MM_H
#define _PVMEM_MM_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>

#include "pvmem_core.h"

struct seq_file;

/* The name every memory resource pvmem adds carries in /proc/iomem. */
#define PVMEM_RESOURCE_NAME "System RAM (pvmem)"

/*
 * Whether Linux places the memory map of a fully plugged memory block
 * inside it (MHP_MEMMAP_ON_MEMORY).  Starts at ASK (6.1), ON or OFF
 * (6.12 says up front); ASK becomes ON or OFF at the first addition that
 * asks.  Only the worker changes it, in pvmem_mm_add().
 */
enum pvmem_mm_selfmap {
	PVMEM_SELFMAP_OFF, /* maps stay in boot memory: cannot, or said no */
	PVMEM_SELFMAP_ASK, /* may be: the next full block's addition asks */
	PVMEM_SELFMAP_ON, /* Linux places them inside: pvmem asks every time */
};

/*
 * What holds the device blocks an unplug could not take (the map's held
 * bits), page by page: pvmem_mm_held().
 */
struct pvmem_mm_held {
	u64 bytes; /* held device blocks */
	unsigned long slab; /* pages of the slab allocator */
	unsigned long page_tables; /* page table pages */
	unsigned long movable; /* LRU or movable pages: pinned, or busy */
	unsigned long other; /* other kernel allocations: unmovable */
};

/* What the memory layer tells its user. */
struct pvmem_mm_ops {
	/*
	 * A memory block went online (plugging may go on), or Linux ended
	 * offlining one (what waited for that may go on).  Must not sleep.
	 */
	void (*kick)(void *data);
};

/**
 * struct pvmem_mm - the memory layer of one device
 * @lo: where the region's memory blocks are
 * @name: the device's name, for messages and traces
 * @mgid: the dynamic memory group all memory blocks are added to
 * @ops: callbacks to the layer's user, set by pvmem_mm_register()
 * @data: passed to @ops
 * @notifier: the memory notifier
 * @node: on the list the online page callback walks (RCU)
 * @lock: protects @map and @active against the notifier, which
 *	holds it from MEM_GOING_ONLINE until the matching MEM_ONLINE or
 *	MEM_CANCEL_ONLINE; the online page callback runs inside that
 *	window.  Offlining may take for ever, so the notifier marks the
 *	block in @map (offlining) instead of holding it.  Never held
 *	across pvmem_mm_add(), pvmem_mm_remove() or a device round trip
 *	(the passes drop it to send a request, and mark the memory block
 *	in flight in @map instead).
 * @map: plug state of every device block and state of every memory block
 * @map_mem: the buffer behind @map
 * @active: the notifier holds @lock between two calls (onlining)
 * @pinned: holds a module reference (Linux has memory of ours)
 * @selfmap: enum pvmem_mm_selfmap
 * @memmap_pages: pages of such a memory map, at the start of its block
 * @held: the last survey of what holds the held device blocks
 * @held_gen: the map's held_gen @held was taken at
 * @held_valid: @held is a survey at all
 * @taken_mb: the memory block pvmem_mm_take_used() took pageblocks of
 *	(PVMEM_NO_MB: none); under @lock
 * @taken: those pageblocks, one bit each from the block's start; under
 *	@lock
 */
struct pvmem_mm {
	struct pvmem_layout lo;
	char name[32];
	int mgid;
	const struct pvmem_mm_ops *ops;
	void *data;
	struct notifier_block notifier;
	struct list_head node;

	struct mutex lock; /* see above */
	struct pvmem_map map;
	void *map_mem;
	bool active;
	bool pinned;
	enum pvmem_mm_selfmap selfmap;
	unsigned long memmap_pages;
	struct pvmem_mm_held held;
	u32 held_gen;
	bool held_valid;
	u32 taken_mb;
	unsigned long *taken;
};

int pvmem_mm_init(struct pvmem_mm *mm, const struct pvmem_layout *lo,
		  u64 memmap_size, const char *name, int nid);
u64 pvmem_mm_memmap_size(void);
void pvmem_mm_exit(struct pvmem_mm *mm);
int pvmem_mm_register(struct pvmem_mm *mm, const struct pvmem_mm_ops *ops,
		      void *data);
void pvmem_mm_unregister(struct pvmem_mm *mm);

void pvmem_mm_lock(struct pvmem_mm *mm);
void pvmem_mm_unlock(struct pvmem_mm *mm);
void pvmem_mm_set_state(struct pvmem_mm *mm, u32 mb, enum pvmem_mb_state state);
int pvmem_mm_add(struct pvmem_mm *mm, u32 mb, u32 nr, bool *selfmap);
int pvmem_mm_remove(struct pvmem_mm *mm, u32 mb);
int pvmem_mm_isolate(struct pvmem_mm *mm, const struct pvmem_run *run);
void pvmem_mm_release(struct pvmem_mm *mm, const struct pvmem_run *run);
int pvmem_mm_take_used(struct pvmem_mm *mm, u32 mb);
void pvmem_mm_put_taken(struct pvmem_mm *mm, u32 mb);
u32 pvmem_mm_add_room(struct pvmem_mm *mm);
u32 pvmem_mm_in_use(struct pvmem_mm *mm, u32 mb, u32 sb, u32 nb);

u64 pvmem_mm_plugged_bytes(const struct pvmem_mm *mm);
u64 pvmem_mm_memmap_unplugged_bytes(struct pvmem_mm *mm);
void pvmem_mm_show_blocks(struct pvmem_mm *mm, struct seq_file *m);
void pvmem_mm_held(struct pvmem_mm *mm, struct pvmem_mm_held *held);
int pvmem_mm_held_blocks(struct pvmem_mm *mm, char *buf);

#endif /* _PVMEM_MM_H */
