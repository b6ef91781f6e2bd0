/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem core: the pure logic of the pvmem driver.
 *
 * Everything in here works on plain integers and caller-provided memory:
 * config validation, the device-block map of a device's region, the plug
 * planner and request/response encoding.  It uses only kernel headers
 * that have userspace stand-ins (types, bitmap, bitops, log2 from the
 * kernel's tools/include; <linux/virtio_mem.h> from uapi;
 * virtio_byteorder.h from tools/testing/pvmem/shim), so
 * tools/testing/pvmem/ compiles the very same file in userspace and tests
 * it under sanitizers.
 *
 * Nothing in here sleeps or locks; callers serialize access to a map.
 */
#ifndef _PVMEM_CORE_H
#define _PVMEM_CORE_H

#include <linux/bitops.h>
#include <linux/types.h>
#include <uapi/linux/pvmem.h>

/* Most device blocks one device may have (bounds the map: 8 MiB bitmap). */
#define PVMEM_MAX_DEVICE_BLOCKS (64ULL * 1024 * 1024)
/*
 * Most new memory blocks one plug run covers: one PLUG request and one
 * hot-add for up to 1 GiB at 128 MiB per memory block; small enough that
 * its memmap (16 MiB) rarely fails to allocate.
 */
#define PVMEM_PLUG_BATCH_MB 8
/* Most device blocks one request can carry (nb_blocks is 16 bit). */
#define PVMEM_MAX_REQ_BLOCKS 0xffffU
/*
 * Largest big block: a device block (or forced big block) above it is
 * refused.  Bigger than any huge page a host backs guests with (1 GiB);
 * a block's memory map (256 MiB here) is allocated in one hot-add.
 */
#define PVMEM_MAX_BIG_BLOCK (16ULL << 30)
/*
 * Pageblocks in use, at most, that pvmem takes out of a big block before
 * removing the rest of it whole (PVMEM_EMPTY_ROUNDS times at most); a big
 * block with more goes through the range allocator whole.
 */
#define PVMEM_EMPTY_PIECES 16

/* The device configuration in CPU byte order. */
struct pvmem_cfg {
	u64 block_size;
	u16 node_id;
	u64 addr;
	u64 region_size;
	u64 usable_region_size;
	u64 plugged_size;
	u64 requested_size;
};

/* What the guest kernel can take: filled by the driver, fixed per boot. */
struct pvmem_limits {
	u64 page_size;
	/*
	 * Pageblock size: alloc_contig_range() isolates whole pageblocks,
	 * so a device block smaller than one cannot be taken on its own.
	 */
	u64 pageblock_size;
	u64 mb_size; /* Linux memory block size, a power of two */
	u64 plug_start; /* first pluggable physical address */
	u64 plug_end; /* last pluggable physical address (inclusive) */
	/*
	 * Memory map of one memory block, if the kernel may place it inside
	 * the block itself (MHP_MEMMAP_ON_MEMORY); 0 if it never does.
	 */
	u64 memmap_size;
	/*
	 * Big-block size the admin forces (module parameters force_bbm and
	 * bbm_block_size): a power of two, at least mb_size; 0 if big-block
	 * mode is not forced.
	 */
	u64 bbm_size;
};

/* Every way a config can be wrong; each has one message. */
enum pvmem_cfg_err {
	PVMEM_CFG_OK,
	PVMEM_CFG_BS_ZERO, /* block_size is 0 */
	PVMEM_CFG_BS_NOT_POW2, /* block_size not a power of two */
	PVMEM_CFG_BS_TOO_SMALL, /* block_size below the page size */
	PVMEM_CFG_BS_TOO_BIG, /* block_size above PVMEM_MAX_BIG_BLOCK */
	PVMEM_CFG_BS_BELOW_PAGEBLOCK, /* block_size below the pageblock size */
	PVMEM_CFG_ADDR_UNALIGNED, /* addr not block aligned */
	PVMEM_CFG_REGION_ZERO, /* region_size is 0 */
	PVMEM_CFG_REGION_UNALIGNED, /* region_size not block aligned */
	PVMEM_CFG_REGION_OVERFLOW, /* addr + region_size wraps */
	PVMEM_CFG_REGION_NOT_PLUGGABLE, /* outside mhp_get_pluggable_range() */
	PVMEM_CFG_REGION_NO_MB, /* no whole memory block inside */
	PVMEM_CFG_REGION_TOO_MANY, /* more than PVMEM_MAX_DEVICE_BLOCKS */
	PVMEM_CFG_USABLE_UNALIGNED, /* usable_region_size not aligned */
	PVMEM_CFG_USABLE_GT_REGION, /* usable_region_size > region_size */
	PVMEM_CFG_PLUGGED_UNALIGNED, /* plugged_size not aligned */
	PVMEM_CFG_PLUGGED_GT_USABLE, /* plugged_size > usable_region_size */
	PVMEM_CFG_REQUESTED_UNALIGNED, /* requested_size not aligned */
	PVMEM_CFG_REQUESTED_GT_USABLE, /* requested_size > usable */
	PVMEM_CFG_CHANGED_BLOCK_SIZE, /* block_size changed at runtime */
	PVMEM_CFG_CHANGED_NODE, /* node_id changed at runtime */
	PVMEM_CFG_CHANGED_ADDR, /* addr changed at runtime */
	PVMEM_CFG_CHANGED_REGION, /* region_size changed at runtime */
	PVMEM_CFG_ERR_NR
};

enum pvmem_cfg_err pvmem_cfg_check(const struct pvmem_cfg *cfg,
				   const struct pvmem_limits *lim);
enum pvmem_cfg_err pvmem_cfg_check_update(const struct pvmem_cfg *old,
					  const struct pvmem_cfg *cfg,
					  const struct pvmem_limits *lim);
const char *pvmem_cfg_errstr(enum pvmem_cfg_err err);
bool pvmem_cfg_err_mutable(enum pvmem_cfg_err err);

/* A decoded response. */
struct pvmem_reply {
	u16 type; /* VIRTIO_MEM_RESP_* */
	u16 state; /* VIRTIO_MEM_STATE_*, STATE requests only */
};

/* Every way a response can be wrong; each has one message. */
enum pvmem_resp_err {
	PVMEM_RESP_OK,
	PVMEM_RESP_BAD_LEN, /* used length is not 10 bytes */
	PVMEM_RESP_BAD_TYPE, /* type is no PVMEM_RESP_* */
	PVMEM_RESP_BAD_FOR_REQ, /* type not valid for this request */
	PVMEM_RESP_BAD_STATE, /* STATE answer out of range */
	PVMEM_RESP_BAD_REQ, /* the request type itself is unknown */
	PVMEM_RESP_ERR_NR
};

void pvmem_req_encode(struct virtio_mem_req *req, u16 type, u64 addr,
		      u16 nb_blocks);
enum pvmem_resp_err pvmem_resp_decode(u16 req_type,
				      const struct virtio_mem_resp *resp,
				      u32 len, struct pvmem_reply *reply);
const char *pvmem_resp_errstr(enum pvmem_resp_err err);
const char *pvmem_req_name(u16 type);
const char *pvmem_resp_name(u16 type);

/*
 * Where the memory blocks of a region are: the unit pvmem adds to and
 * removes from Linux.  That is one Linux memory block, or in big-block
 * mode a big block: one device block or a forced big-block size if
 * larger, each a whole number of Linux memory blocks, plugged and added
 * whole or not at all.  Only memory blocks that lie wholly inside the
 * region are used; device blocks are numbered from the start of the first
 * one ("first_mb_addr").
 */
struct pvmem_layout {
	u64 block_size; /* device block size */
	u64 mb_size; /* memory block size: a Linux one or a big block */
	u64 lmb_size; /* Linux memory block size */
	u64 first_mb_addr; /* start of the first whole memory block */
	u32 nb_mb; /* whole memory blocks in the region */
	u32 sbs_per_mb; /* device blocks per memory block */
	bool bbm; /* big-block mode: memory blocks go whole */
	/*
	 * Device blocks at the start of a memory block that hold its memory
	 * map when the block carries its own; 0 if no block can.
	 */
	u32 memmap_sbs;
};

void pvmem_layout_init(struct pvmem_layout *lo, const struct pvmem_cfg *cfg,
		       const struct pvmem_limits *lim);
u64 pvmem_layout_usable_blocks(const struct pvmem_layout *lo,
			       const struct pvmem_cfg *cfg);

u64 pvmem_mb_size(const struct pvmem_cfg *cfg, const struct pvmem_limits *lim);

/* Physical address of memory block @mb of the layout. */
static inline u64 pvmem_layout_mb_addr(const struct pvmem_layout *lo, u32 mb)
{
	return lo->first_mb_addr + (u64)mb * lo->mb_size;
}

/*
 * State of one Linux memory block of the region.  The transitions
 * pvmem_map_set_state() allows:
 *
 *   UNUSED --plug--> ADDING --added--> OFFLINE <--online/offline--> KERNEL
 *                     |  \--added, auto-onlined--> KERNEL, MOVABLE   MOVABLE
 *                     \--add failed--> OWED
 *   OFFLINE, KERNEL, MOVABLE --chosen for removal--> REMOVING
 *   REMOVING --removed, plugged--> OWED --UNPLUG acked--> UNUSED
 *   REMOVING --removed, empty--> UNUSED
 *   REMOVING --removal failed--> OFFLINE, KERNEL or MOVABLE (as Linux has it)
 *   KERNEL <--its Linux memory blocks go online or offline--> MOVABLE
 *
 * A big block is as its Linux memory blocks are: OFFLINE while none is
 * online, MOVABLE while all are online in ZONE_MOVABLE, else KERNEL (some
 * online, not all of them movable).
 *
 * pvmem removes only memory that holds no page in use: an offline block,
 * or an online one whose pages are all free or fake-offline, which the
 * memory notifier checks when the block is about to go offline (its
 * pageblocks are isolated then, so nothing new lands in it).  Memory in
 * use is first emptied with the range allocator and unplugged; it is
 * never offlined "as is", which could migrate for ever on a pinned page.
 */
enum pvmem_mb_state {
	PVMEM_MB_UNUSED, /* not added to Linux, nothing plugged */
	PVMEM_MB_ADDING, /* device blocks plugged, being added */
	PVMEM_MB_OFFLINE, /* added to Linux, offline */
	PVMEM_MB_KERNEL, /* added and online in a kernel zone (or in part) */
	PVMEM_MB_MOVABLE, /* added and online in ZONE_MOVABLE */
	PVMEM_MB_OWED, /* removed from Linux, still plugged: owes UNPLUG */
	/*
	 * Chosen for removal: Linux may not online it, and may offline it
	 * only while no page of it is in use.
	 */
	PVMEM_MB_REMOVING,
	PVMEM_MB_STATE_NR
};

/*
 * Plug state of every device block plus the state of every memory block.
 * The arrays live in one buffer of pvmem_map_bytes() the caller provides.
 */
struct pvmem_map {
	u32 nb_mb;
	u32 sbs_per_mb;
	bool bbm; /* the layout's: memory blocks are plugged whole */
	u8 *state; /* enum pvmem_mb_state per memory block */
	u32 *nr_plugged; /* plugged device blocks per memory block */
	/*
	 * Pages in use in the plugged device blocks of each online memory
	 * block, as the memory layer last counted them (pvmem_ctl's unplug
	 * recounts before it plans, and after each migration): what
	 * unplugging it would have to migrate.  A hint for the order only.
	 */
	u32 *in_use;
	unsigned long *plugged; /* bitmap of plugged device blocks */
	unsigned long *busy; /* memory blocks that failed this pass */
	/*
	 * Plugged device blocks whose last unplug attempt failed: pages in
	 * them are in use and would not migrate.  Cleared when they are
	 * unplugged, and all at once when a pass plugs.
	 */
	unsigned long *held;
	u64 nr_held; /* device blocks set in held */
	/* Changes with held and every attempt that holds: a survey is stale. */
	u32 held_gen;
	/*
	 * Added memory blocks that carry their own memory map in their
	 * first memmap_sbs device blocks, which stay plugged while the block
	 * is added and go only with it (pvmem_mb_pinned()).
	 */
	unsigned long *selfmap;
	u32 memmap_sbs; /* the layout's */
	u32 nr_selfmap; /* memory blocks set in selfmap */
	/*
	 * The memory block a PLUG into its holes or an UNPLUG of its (then
	 * isolated) pages awaits the device's answer for (PVMEM_NO_MB:
	 * none); Linux may not online or offline it.
	 */
	u32 inflight;
	/*
	 * The memory block Linux is offlining (PVMEM_NO_MB: none), from
	 * MEM_GOING_OFFLINE to the MEM_OFFLINE or MEM_CANCEL_OFFLINE that
	 * ends it.  Offlining migrates for as long as a page will not move,
	 * so the memory notifier does not hold the map lock meanwhile; pvmem
	 * plugs, unplugs and removes nothing there, and adds or removes no
	 * memory block at all (that would wait for the hotplug locks).
	 */
	u32 offlining;
	u32 count[PVMEM_MB_STATE_NR]; /* memory blocks per state */
	u64 total_plugged; /* plugged device blocks in all */
};

/* No memory block (struct pvmem_map's inflight). */
#define PVMEM_NO_MB (~0U)

u64 pvmem_map_bytes(u32 nb_mb, u32 sbs_per_mb);
void pvmem_map_init(struct pvmem_map *map, const struct pvmem_layout *lo,
		    void *mem);
void pvmem_map_set_selfmap(struct pvmem_map *map, u32 mb, bool selfmap);
bool pvmem_mb_transition_ok(enum pvmem_mb_state from, enum pvmem_mb_state to);
bool pvmem_map_set_state(struct pvmem_map *map, u32 mb,
			 enum pvmem_mb_state state);
bool pvmem_map_test(const struct pvmem_map *map, u32 mb, u32 sb, u32 nb,
		    bool plugged);
void pvmem_map_set(struct pvmem_map *map, u32 mb, u32 sb, u32 nb, bool plugged);
const char *pvmem_mb_state_name(enum pvmem_mb_state state);

/*
 * Device blocks of memory block @mb that hold its own memory map: they
 * may not be unplugged while the block is added.
 */
static inline u32 pvmem_mb_pinned(const struct pvmem_map *map, u32 mb)
{
	return test_bit(mb, map->selfmap) ? map->memmap_sbs : 0;
}

/* Is Linux offlining memory block @mb (struct pvmem_map's offlining)? */
static inline bool pvmem_mb_offlining(const struct pvmem_map *map, u32 mb)
{
	return map->offlining == mb;
}

/*
 * A contiguous run of device blocks, starting at device block @sb of memory
 * block @mb.  Plug runs over unused memory blocks and UNPLUG runs over owed
 * ones may continue into the following memory blocks; all others stay
 * inside one memory block.
 */
struct pvmem_run {
	u32 mb;
	u32 sb;
	u32 nb;
};

/* Physical address of the first device block of @run. */
static inline u64 pvmem_layout_run_addr(const struct pvmem_layout *lo,
					const struct pvmem_run *run)
{
	return pvmem_layout_mb_addr(lo, run->mb) +
	       (u64)run->sb * lo->block_size;
}

bool pvmem_plan_plug(const struct pvmem_map *map, u64 want, u64 usable_blocks,
		     u32 max_new_mb, struct pvmem_run *run);
bool pvmem_plan_unplug(const struct pvmem_map *map, u64 want, bool online,
		       struct pvmem_run *run);
void pvmem_plan_unplug_in(const struct pvmem_map *map, u32 mb, u64 want,
			  struct pvmem_run *run);
bool pvmem_plan_remove(const struct pvmem_map *map, u32 *mb);
bool pvmem_plan_owed(const struct pvmem_map *map, struct pvmem_run *run);
bool pvmem_mb_added(const struct pvmem_map *map, u32 mb);
void pvmem_map_set_busy(struct pvmem_map *map, u32 mb);
u32 pvmem_memmap_room(u64 avail, u64 margin, u64 per_mb);
void pvmem_map_clear_busy(struct pvmem_map *map);
void pvmem_map_hold(struct pvmem_map *map, const struct pvmem_run *run);
void pvmem_map_clear_held(struct pvmem_map *map);
bool pvmem_mb_held(const struct pvmem_map *map, u32 mb);
u64 pvmem_map_unplugged_in_linux(const struct pvmem_map *map);
bool pvmem_plan_tidy(const struct pvmem_map *map, u32 *mb);

#endif /* _PVMEM_CORE_H */
