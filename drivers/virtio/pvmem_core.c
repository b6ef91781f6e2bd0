// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem core: config validation, block map, plug planner and wire encoding.
 *
 * Pure logic only: no allocation, no locking, no kernel-only headers.  The
 * same file is built into pvmem.ko and into the userspace unit tests in
 * tools/testing/pvmem/.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/log2.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#include <linux/virtio_byteorder.h>
#include "pvmem_core.h"

/* @align is a power of two. */
static bool pvmem_aligned(u64 v, u64 align)
{
	return !(v & (align - 1));
}

/**
 * pvmem_mb_size - the memory block size pvmem manages a region in
 * @cfg: a config whose block_size is a power of two
 * @lim: the guest's limits
 *
 * A Linux memory block, unless the device block is larger or big-block
 * mode is forced: then the device block or the forced big-block size,
 * whichever is larger (all powers of two, so a multiple of the others).
 *
 * Return: bytes.
 */
u64 pvmem_mb_size(const struct pvmem_cfg *cfg, const struct pvmem_limits *lim)
{
	u64 size = lim->mb_size;

	if (cfg->block_size > size)
		size = cfg->block_size;
	if (lim->bbm_size > size)
		size = lim->bbm_size;
	return size;
}

/* Everything about the immutable fields that can be wrong. */
static enum pvmem_cfg_err pvmem_cfg_check_region(const struct pvmem_cfg *cfg,
						 const struct pvmem_limits *lim)
{
	const u64 bs = cfg->block_size;
	u64 end, first, last, mb_size;

	if (!bs)
		return PVMEM_CFG_BS_ZERO;
	if (!is_power_of_2(bs))
		return PVMEM_CFG_BS_NOT_POW2;
	if (bs < lim->page_size)
		return PVMEM_CFG_BS_TOO_SMALL;
	if (bs > PVMEM_MAX_BIG_BLOCK)
		return PVMEM_CFG_BS_TOO_BIG;
	if (bs < lim->pageblock_size)
		return PVMEM_CFG_BS_BELOW_PAGEBLOCK;
	if (!pvmem_aligned(cfg->addr, bs))
		return PVMEM_CFG_ADDR_UNALIGNED;
	if (!cfg->region_size)
		return PVMEM_CFG_REGION_ZERO;
	if (!pvmem_aligned(cfg->region_size, bs))
		return PVMEM_CFG_REGION_UNALIGNED;
	end = cfg->addr + cfg->region_size;
	if (end < cfg->addr)
		return PVMEM_CFG_REGION_OVERFLOW;
	if (cfg->addr < lim->plug_start || end - 1 > lim->plug_end)
		return PVMEM_CFG_REGION_NOT_PLUGGABLE;

	/* Rounding cannot wrap: end <= plug_end + 1 and both are aligned. */
	mb_size = pvmem_mb_size(cfg, lim);
	first = (cfg->addr + mb_size - 1) & ~(mb_size - 1);
	last = end & ~(mb_size - 1);
	if (first < cfg->addr || last <= first)
		return PVMEM_CFG_REGION_NO_MB;
	if ((last - first) / bs > PVMEM_MAX_DEVICE_BLOCKS)
		return PVMEM_CFG_REGION_TOO_MANY;
	return PVMEM_CFG_OK;
}

/* Everything about the fields that may change that can be wrong. */
static enum pvmem_cfg_err pvmem_cfg_check_sizes(const struct pvmem_cfg *cfg)
{
	const u64 bs = cfg->block_size;

	if (!pvmem_aligned(cfg->usable_region_size, bs))
		return PVMEM_CFG_USABLE_UNALIGNED;
	if (cfg->usable_region_size > cfg->region_size)
		return PVMEM_CFG_USABLE_GT_REGION;
	if (!pvmem_aligned(cfg->plugged_size, bs))
		return PVMEM_CFG_PLUGGED_UNALIGNED;
	if (cfg->plugged_size > cfg->usable_region_size)
		return PVMEM_CFG_PLUGGED_GT_USABLE;
	if (!pvmem_aligned(cfg->requested_size, bs))
		return PVMEM_CFG_REQUESTED_UNALIGNED;
	if (cfg->requested_size > cfg->usable_region_size)
		return PVMEM_CFG_REQUESTED_GT_USABLE;
	return PVMEM_CFG_OK;
}

/**
 * pvmem_cfg_check - validate a config read at probe
 * @cfg: the config, in CPU byte order
 * @lim: what this kernel can take
 *
 * Return: PVMEM_CFG_OK, or the first thing found wrong.
 */
enum pvmem_cfg_err pvmem_cfg_check(const struct pvmem_cfg *cfg,
				   const struct pvmem_limits *lim)
{
	enum pvmem_cfg_err err = pvmem_cfg_check_region(cfg, lim);

	if (err)
		return err;
	return pvmem_cfg_check_sizes(cfg);
}

/**
 * pvmem_cfg_check_update - validate a config re-read at runtime
 * @old: the config accepted at probe
 * @cfg: the new config
 * @lim: what this kernel can take
 *
 * The fields the spec declares immutable must not have changed; the rest
 * must be valid on its own.
 *
 * Return: PVMEM_CFG_OK, or the first thing found wrong.
 */
enum pvmem_cfg_err pvmem_cfg_check_update(const struct pvmem_cfg *old,
					  const struct pvmem_cfg *cfg,
					  const struct pvmem_limits *lim)
{
	if (cfg->block_size != old->block_size)
		return PVMEM_CFG_CHANGED_BLOCK_SIZE;
	if (cfg->node_id != old->node_id)
		return PVMEM_CFG_CHANGED_NODE;
	if (cfg->addr != old->addr)
		return PVMEM_CFG_CHANGED_ADDR;
	if (cfg->region_size != old->region_size)
		return PVMEM_CFG_CHANGED_REGION;
	return pvmem_cfg_check(cfg, lim);
}

/**
 * pvmem_cfg_err_mutable - is @err about a field the device may change?
 * @err: what pvmem_cfg_check_update() found
 *
 * Return: true for usable_region_size, plugged_size and requested_size
 * errors: a device may show those for a moment between two updates.
 */
bool pvmem_cfg_err_mutable(enum pvmem_cfg_err err)
{
	return err >= PVMEM_CFG_USABLE_UNALIGNED &&
	       err <= PVMEM_CFG_REQUESTED_GT_USABLE;
}

static const char *const pvmem_cfg_errs[PVMEM_CFG_ERR_NR] = {
	[PVMEM_CFG_OK] = "config is valid",
	[PVMEM_CFG_BS_ZERO] = "block_size is zero",
	[PVMEM_CFG_BS_NOT_POW2] = "block_size is not a power of two",
	[PVMEM_CFG_BS_TOO_SMALL] = "block_size is smaller than the page size",
	[PVMEM_CFG_BS_TOO_BIG] =
		"block_size is larger than 16 GiB (unsupported)",
	[PVMEM_CFG_BS_BELOW_PAGEBLOCK] =
		"block_size is smaller than a pageblock (unsupported)",
	[PVMEM_CFG_ADDR_UNALIGNED] = "addr is not aligned to block_size",
	[PVMEM_CFG_REGION_ZERO] = "region_size is zero",
	[PVMEM_CFG_REGION_UNALIGNED] =
		"region_size is not aligned to block_size",
	[PVMEM_CFG_REGION_OVERFLOW] = "addr + region_size overflows",
	[PVMEM_CFG_REGION_NOT_PLUGGABLE] =
		"region is outside the pluggable physical range",
	[PVMEM_CFG_REGION_NO_MB] = "region holds no whole memory block",
	[PVMEM_CFG_REGION_TOO_MANY] = "region has too many device blocks",
	[PVMEM_CFG_USABLE_UNALIGNED] =
		"usable_region_size is not aligned to block_size",
	[PVMEM_CFG_USABLE_GT_REGION] = "usable_region_size exceeds region_size",
	[PVMEM_CFG_PLUGGED_UNALIGNED] =
		"plugged_size is not aligned to block_size",
	[PVMEM_CFG_PLUGGED_GT_USABLE] =
		"plugged_size exceeds usable_region_size",
	[PVMEM_CFG_REQUESTED_UNALIGNED] =
		"requested_size is not aligned to block_size",
	[PVMEM_CFG_REQUESTED_GT_USABLE] =
		"requested_size exceeds usable_region_size",
	[PVMEM_CFG_CHANGED_BLOCK_SIZE] = "block_size changed at runtime",
	[PVMEM_CFG_CHANGED_NODE] = "node_id changed at runtime",
	[PVMEM_CFG_CHANGED_ADDR] = "addr changed at runtime",
	[PVMEM_CFG_CHANGED_REGION] = "region_size changed at runtime",
};

const char *pvmem_cfg_errstr(enum pvmem_cfg_err err)
{
	if ((unsigned int)err >= PVMEM_CFG_ERR_NR)
		return "unknown config error";
	return pvmem_cfg_errs[err];
}

/**
 * pvmem_req_encode - fill in a request in wire format
 * @req: the request buffer
 * @type: VIRTIO_MEM_REQ_*
 * @addr: first device block (PLUG, UNPLUG, STATE)
 * @nb_blocks: number of device blocks (PLUG, UNPLUG, STATE)
 */
void pvmem_req_encode(struct virtio_mem_req *req, u16 type, u64 addr,
		      u16 nb_blocks)
{
	/* VIRTIO_F_VERSION_1, which pvmem requires: little endian. */
	*req = (struct virtio_mem_req){
		.type = __cpu_to_virtio16(true, type),
	};
	/* PLUG, UNPLUG and STATE lay out their range alike. */
	req->u.plug.addr = __cpu_to_virtio64(true, addr);
	req->u.plug.nb_blocks = __cpu_to_virtio16(true, nb_blocks);
}

/* Which response types each request may get, per the spec. */
static const u8 pvmem_resp_valid[PVMEM_REQ_NR] = {
	[VIRTIO_MEM_REQ_PLUG] =
		1 << VIRTIO_MEM_RESP_ACK | 1 << VIRTIO_MEM_RESP_NACK |
		1 << VIRTIO_MEM_RESP_BUSY | 1 << VIRTIO_MEM_RESP_ERROR,
	[VIRTIO_MEM_REQ_UNPLUG] = 1 << VIRTIO_MEM_RESP_ACK |
				  1 << VIRTIO_MEM_RESP_BUSY |
				  1 << VIRTIO_MEM_RESP_ERROR,
	[VIRTIO_MEM_REQ_UNPLUG_ALL] = 1 << VIRTIO_MEM_RESP_ACK |
				      1 << VIRTIO_MEM_RESP_BUSY,
	[VIRTIO_MEM_REQ_STATE] = 1 << VIRTIO_MEM_RESP_ACK |
				 1 << VIRTIO_MEM_RESP_ERROR,
};

/**
 * pvmem_resp_decode - check and decode a response
 * @req_type: the request it answers
 * @resp: the response buffer as the device left it
 * @len: the length the device reported as written
 * @reply: the decoded response, valid only on PVMEM_RESP_OK
 *
 * Return: PVMEM_RESP_OK, or what is wrong with the response.
 */
enum pvmem_resp_err pvmem_resp_decode(u16 req_type,
				      const struct virtio_mem_resp *resp,
				      u32 len, struct pvmem_reply *reply)
{
	u16 type, state;

	if (req_type >= PVMEM_REQ_NR)
		return PVMEM_RESP_BAD_REQ;
	if (len != PVMEM_RESP_SIZE)
		return PVMEM_RESP_BAD_LEN;
	type = __virtio16_to_cpu(true, resp->type);
	if (type >= PVMEM_RESP_NR)
		return PVMEM_RESP_BAD_TYPE;
	if (!(pvmem_resp_valid[req_type] & (1 << type)))
		return PVMEM_RESP_BAD_FOR_REQ;
	state = 0;
	if (req_type == VIRTIO_MEM_REQ_STATE && type == VIRTIO_MEM_RESP_ACK) {
		state = __virtio16_to_cpu(true, resp->u.state.state);
		if (state >= PVMEM_STATE_NR)
			return PVMEM_RESP_BAD_STATE;
	}
	reply->type = type;
	reply->state = state;
	return PVMEM_RESP_OK;
}

static const char *const pvmem_resp_errs[PVMEM_RESP_ERR_NR] = {
	[PVMEM_RESP_OK] = "response is valid",
	[PVMEM_RESP_BAD_LEN] = "response length is not 10 bytes",
	[PVMEM_RESP_BAD_TYPE] = "response type is unknown",
	[PVMEM_RESP_BAD_FOR_REQ] = "response type is not valid for the request",
	[PVMEM_RESP_BAD_STATE] = "STATE response holds an unknown state",
	[PVMEM_RESP_BAD_REQ] = "request type is unknown",
};

const char *pvmem_resp_errstr(enum pvmem_resp_err err)
{
	if ((unsigned int)err >= PVMEM_RESP_ERR_NR)
		return "unknown response error";
	return pvmem_resp_errs[err];
}

const char *pvmem_req_name(u16 type)
{
	static const char *const names[PVMEM_REQ_NR] = {
		"plug",
		"unplug",
		"unplug_all",
		"state",
	};

	return type < PVMEM_REQ_NR ? names[type] : "unknown";
}

const char *pvmem_resp_name(u16 type)
{
	static const char *const names[PVMEM_RESP_NR] = {
		"ack",
		"nack",
		"busy",
		"error",
	};

	return type < PVMEM_RESP_NR ? names[type] : "unknown";
}

/**
 * pvmem_layout_init - place the memory blocks of a validated region
 * @lo: the layout to fill in
 * @cfg: a config that passed pvmem_cfg_check()
 * @lim: what this kernel can take
 *
 * A memory block can carry its own memory map only if that leaves device
 * blocks for memory: the map must fill fewer device blocks than the
 * memory block has.
 */
void pvmem_layout_init(struct pvmem_layout *lo, const struct pvmem_cfg *cfg,
		       const struct pvmem_limits *lim)
{
	const u64 mb_size = pvmem_mb_size(cfg, lim);
	const u64 first = (cfg->addr + mb_size - 1) & ~(mb_size - 1);
	const u64 last = (cfg->addr + cfg->region_size) & ~(mb_size - 1);
	const u64 memmap_sbs =
		(lim->memmap_size + cfg->block_size - 1) / cfg->block_size;

	lo->block_size = cfg->block_size;
	lo->mb_size = mb_size;
	lo->lmb_size = lim->mb_size;
	lo->first_mb_addr = first;
	lo->nb_mb = last > first ? (last - first) / mb_size : 0;
	lo->sbs_per_mb = mb_size / cfg->block_size;
	lo->bbm = mb_size != lim->mb_size || lim->bbm_size;
	/* A big block's map stays in boot memory: it is added whole. */
	lo->memmap_sbs = 0;
	if (memmap_sbs < lo->sbs_per_mb && !lo->bbm)
		lo->memmap_sbs = memmap_sbs;
}

/**
 * pvmem_layout_usable_blocks - device blocks of the map inside the usable
 *	region
 * @lo: the layout
 * @cfg: the current config
 *
 * Return: how many device blocks, counted from first_mb_addr, may be plugged.
 */
u64 pvmem_layout_usable_blocks(const struct pvmem_layout *lo,
			       const struct pvmem_cfg *cfg)
{
	const u64 end = cfg->addr + cfg->usable_region_size;
	const u64 all = (u64)lo->nb_mb * lo->sbs_per_mb;
	u64 n;

	if (end <= lo->first_mb_addr)
		return 0;
	n = (end - lo->first_mb_addr) / lo->block_size;
	return n < all ? n : all;
}

static void pvmem_bit_assign(unsigned long *map, u64 bit, bool val)
{
	if (val)
		__set_bit(bit, map);
	else
		__clear_bit(bit, map);
}

static u64 pvmem_bitmap_words(u32 nb_mb, u32 sbs_per_mb)
{
	return BITS_TO_LONGS((u64)nb_mb * sbs_per_mb);
}

/**
 * pvmem_map_bytes - size of the buffer a map needs
 * @nb_mb: memory blocks
 * @sbs_per_mb: device blocks per memory block
 *
 * Return: bytes, for pvmem_map_init().
 */
u64 pvmem_map_bytes(u32 nb_mb, u32 sbs_per_mb)
{
	return (2 * pvmem_bitmap_words(nb_mb, sbs_per_mb) +
		2 * BITS_TO_LONGS(nb_mb)) *
		       sizeof(unsigned long) +
	       (u64)nb_mb * 2 * sizeof(u32) + nb_mb;
}

/**
 * pvmem_map_init - set up an empty map: nothing added, nothing plugged
 * @map: the map
 * @lo: the layout it is for
 * @mem: zeroed buffer of pvmem_map_bytes(), 8-byte aligned
 */
void pvmem_map_init(struct pvmem_map *map, const struct pvmem_layout *lo,
		    void *mem)
{
	const u32 nb_mb = lo->nb_mb;
	const u64 words = pvmem_bitmap_words(nb_mb, lo->sbs_per_mb);

	*map = (struct pvmem_map){
		.nb_mb = nb_mb,
		.sbs_per_mb = lo->sbs_per_mb,
		.bbm = lo->bbm,
		.memmap_sbs = lo->memmap_sbs,
		.plugged = mem,
		.inflight = PVMEM_NO_MB,
		.offlining = PVMEM_NO_MB,
	};
	map->held = map->plugged + words;
	map->busy = map->held + words;
	map->selfmap = map->busy + BITS_TO_LONGS(nb_mb);
	map->nr_plugged = (u32 *)(map->selfmap + BITS_TO_LONGS(nb_mb));
	map->in_use = map->nr_plugged + nb_mb;
	map->state = (u8 *)(map->in_use + nb_mb);
	map->count[PVMEM_MB_UNUSED] = nb_mb;
}

/**
 * pvmem_map_set_selfmap - record whether a memory block carries its own
 *	memory map
 * @map: the map
 * @mb: memory block index, being added (or added)
 * @selfmap: whether it does
 */
void pvmem_map_set_selfmap(struct pvmem_map *map, u32 mb, bool selfmap)
{
	if (test_bit(mb, map->selfmap) == selfmap)
		return;
	pvmem_bit_assign(map->selfmap, mb, selfmap);
	if (selfmap)
		map->nr_selfmap++;
	else
		map->nr_selfmap--;
}

/* Allowed memory block transitions, one bit per target state. */
static const u8 pvmem_mb_next[PVMEM_MB_STATE_NR] = {
	[PVMEM_MB_UNUSED] = 1 << PVMEM_MB_ADDING,
	[PVMEM_MB_ADDING] = 1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_KERNEL |
			    1 << PVMEM_MB_MOVABLE | 1 << PVMEM_MB_OWED,
	[PVMEM_MB_OFFLINE] = 1 << PVMEM_MB_KERNEL | 1 << PVMEM_MB_MOVABLE |
			     1 << PVMEM_MB_REMOVING,
	[PVMEM_MB_KERNEL] = 1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_MOVABLE |
			    1 << PVMEM_MB_REMOVING,
	[PVMEM_MB_MOVABLE] = 1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_KERNEL |
			     1 << PVMEM_MB_REMOVING,
	[PVMEM_MB_OWED] = 1 << PVMEM_MB_UNUSED,
	[PVMEM_MB_REMOVING] = 1 << PVMEM_MB_OWED | 1 << PVMEM_MB_UNUSED |
			      1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_KERNEL |
			      1 << PVMEM_MB_MOVABLE,
};

/**
 * pvmem_mb_transition_ok - may a memory block go from @from to @to?
 * @from: its state
 * @to: the state it would go to
 *
 * Return: true if the transition is one of enum pvmem_mb_state's diagram.
 */
bool pvmem_mb_transition_ok(enum pvmem_mb_state from, enum pvmem_mb_state to)
{
	if ((unsigned int)from >= PVMEM_MB_STATE_NR ||
	    (unsigned int)to >= PVMEM_MB_STATE_NR)
		return false;
	return pvmem_mb_next[from] & (1 << to);
}

/**
 * pvmem_map_set_state - the one place a memory block changes state
 * @map: the map
 * @mb: memory block index
 * @state: its new state
 *
 * Return: false, changing nothing, if the transition is not allowed.
 */
bool pvmem_map_set_state(struct pvmem_map *map, u32 mb,
			 enum pvmem_mb_state state)
{
	const enum pvmem_mb_state from = map->state[mb];

	if (!pvmem_mb_transition_ok(from, state))
		return false;
	/* Out of Linux: its memory map went with it. */
	if (state == PVMEM_MB_OWED || state == PVMEM_MB_UNUSED)
		pvmem_map_set_selfmap(map, mb, false);
	map->count[map->state[mb]]--;
	map->count[state]++;
	map->state[mb] = state;
	return true;
}

/**
 * pvmem_map_test - are device blocks all plugged (or all unplugged)?
 * @map: the map
 * @mb: memory block index
 * @sb: first device block inside the memory block
 * @nb: number of device blocks (may run into following memory blocks)
 * @plugged: which state to test for
 *
 * Return: true if every one of the blocks is in that state.
 */
bool pvmem_map_test(const struct pvmem_map *map, u32 mb, u32 sb, u32 nb,
		    bool plugged)
{
	u64 bit = (u64)mb * map->sbs_per_mb + sb;
	const u64 end = bit + nb;

	for (; bit < end; bit++)
		if (test_bit(bit, map->plugged) != plugged)
			return false;
	return true;
}

/**
 * pvmem_map_set - mark device blocks plugged or unplugged
 * @map: the map
 * @mb: memory block index
 * @sb: first device block inside the memory block
 * @nb: number of device blocks (may run into following memory blocks)
 * @plugged: the new state
 */
void pvmem_map_set(struct pvmem_map *map, u32 mb, u32 sb, u32 nb, bool plugged)
{
	u64 bit = (u64)mb * map->sbs_per_mb + sb;
	const u64 end = bit + nb;

	for (; bit < end; bit++) {
		const u32 m = bit / map->sbs_per_mb;

		if (test_bit(bit, map->plugged) == plugged)
			continue;
		pvmem_bit_assign(map->plugged, bit, plugged);
		/* What is unplugged is no longer held. */
		if (!plugged && test_bit(bit, map->held)) {
			__clear_bit(bit, map->held);
			map->nr_held--;
			map->held_gen++;
		}
		if (plugged) {
			map->nr_plugged[m]++;
			map->total_plugged++;
		} else {
			map->nr_plugged[m]--;
			map->total_plugged--;
		}
	}
}

const char *pvmem_mb_state_name(enum pvmem_mb_state state)
{
	static const char *const names[PVMEM_MB_STATE_NR] = {
		"unused",	  "adding", "offline",	"online_kernel",
		"online_movable", "owed",   "removing",
	};

	return (unsigned int)state < PVMEM_MB_STATE_NR ? names[state] :
							 "unknown";
}

/**
 * pvmem_map_set_busy - skip a memory block for the rest of this pass
 * @map: the map
 * @mb: memory block index
 */
void pvmem_map_set_busy(struct pvmem_map *map, u32 mb)
{
	pvmem_bit_assign(map->busy, mb, true);
}

/**
 * pvmem_map_clear_busy - start a new pass: every memory block may be tried
 * @map: the map
 */
void pvmem_map_clear_busy(struct pvmem_map *map)
{
	bitmap_zero(map->busy, map->nb_mb);
}

/**
 * pvmem_map_hold - an unplug could not take a run: record it as held
 * @map: the map
 * @run: plugged device blocks of one memory block
 *
 * Every call changes @map->held_gen, even if the run was held already:
 * what holds it may have changed since the last attempt.
 */
void pvmem_map_hold(struct pvmem_map *map, const struct pvmem_run *run)
{
	u64 bit = (u64)run->mb * map->sbs_per_mb + run->sb;
	const u64 end = bit + run->nb;

	for (; bit < end; bit++) {
		if (!test_bit(bit, map->plugged) || test_bit(bit, map->held))
			continue;
		__set_bit(bit, map->held);
		map->nr_held++;
	}
	map->held_gen++;
}

/**
 * pvmem_map_clear_held - forget what was held: a pass plugs
 * @map: the map
 */
void pvmem_map_clear_held(struct pvmem_map *map)
{
	if (!map->nr_held)
		return;
	bitmap_zero(map->held, (u64)map->nb_mb * map->sbs_per_mb);
	map->nr_held = 0;
	map->held_gen++;
}

/**
 * pvmem_mb_held - does memory block @mb have held device blocks?
 * @map: the map
 * @mb: memory block index
 */
bool pvmem_mb_held(const struct pvmem_map *map, u32 mb)
{
	const u64 first = (u64)mb * map->sbs_per_mb;
	u32 i;

	for (i = 0; map->nr_held && i < map->sbs_per_mb; i++)
		if (test_bit(first + i, map->held))
			return true;
	return false;
}

/**
 * pvmem_map_unplugged_in_linux - device blocks Linux keeps a memory map for
 *	although they are not plugged
 * @map: the map
 *
 * Every memory block Linux holds (being added, added, being removed) has
 * a memory map for all of it; the part for its unplugged device blocks is
 * what a partly plugged memory block costs beyond its memory.
 *
 * Return: how many unplugged device blocks lie in memory blocks Linux
 * holds.
 */
u64 pvmem_map_unplugged_in_linux(const struct pvmem_map *map)
{
	u64 n = 0;
	u32 mb;

	for (mb = 0; mb < map->nb_mb; mb++)
		if (map->state[mb] != PVMEM_MB_UNUSED &&
		    map->state[mb] != PVMEM_MB_OWED)
			n += map->sbs_per_mb - map->nr_plugged[mb];
	return n;
}

/* A memory block at most this full (1/4) is worth emptying into others. */
#define PVMEM_TIDY_SHIFT 2

/**
 * pvmem_plan_tidy - choose a sparsely plugged memory block to empty
 * @map: the map, at rest (plugged as requested)
 * @mb: the memory block, valid if true is returned
 *
 * A memory block Linux holds keeps the memory map of all of it, plugged
 * or not.  One that is online, at most a quarter plugged (besides its
 * own map) and not busy is worth emptying if the holes of the other added
 * blocks can take what it holds: its device blocks are unplugged (their
 * data migrated), the block removed, and the next plug fills those
 * holes, so the guest keeps its memory and one memory map less.  The
 * sparsest such block goes first, the highest address on a tie.
 *
 * Return: true if there is one.
 */
bool pvmem_plan_tidy(const struct pvmem_map *map, u32 *mb)
{
	const u32 sparse = map->sbs_per_mb >> PVMEM_TIDY_SHIFT;
	u64 holes = 0;
	u32 i, best = PVMEM_NO_MB, n;

	for (i = 0; i < map->nb_mb; i++) {
		if (!pvmem_mb_added(map, i))
			continue;
		holes += map->sbs_per_mb - map->nr_plugged[i];
		n = map->nr_plugged[i] - pvmem_mb_pinned(map, i);
		if (map->state[i] == PVMEM_MB_OFFLINE || !n || n > sparse ||
		    test_bit(i, map->busy) || map->inflight == i ||
		    pvmem_mb_offlining(map, i))
			continue;
		if (best == PVMEM_NO_MB ||
		    map->nr_plugged[i] <= map->nr_plugged[best])
			best = i;
	}
	if (best == PVMEM_NO_MB ||
	    holes - (map->sbs_per_mb - map->nr_plugged[best]) <
		    map->nr_plugged[best])
		return false;
	*mb = best;
	return true;
}

/* Is memory block @mb added to Linux (offline or online)? */
bool pvmem_mb_added(const struct pvmem_map *map, u32 mb)
{
	return map->state[mb] == PVMEM_MB_OFFLINE ||
	       map->state[mb] == PVMEM_MB_KERNEL ||
	       map->state[mb] == PVMEM_MB_MOVABLE;
}

/* Cap a run at @want blocks, the usable region and the request limit. */
static bool pvmem_run_fit(const struct pvmem_map *map, u64 want,
			  u64 usable_blocks, struct pvmem_run *run)
{
	const u64 first = (u64)run->mb * map->sbs_per_mb + run->sb;
	u64 nb = run->nb;

	if (first >= usable_blocks)
		return false;
	if (nb > usable_blocks - first)
		nb = usable_blocks - first;
	if (nb > want)
		nb = want;
	if (nb > PVMEM_MAX_REQ_BLOCKS)
		nb = PVMEM_MAX_REQ_BLOCKS;
	/* Big blocks are plugged whole (new ones only: none has holes). */
	if (map->bbm)
		nb -= nb % map->sbs_per_mb;
	run->nb = nb;
	return nb > 0;
}

/*
 * The memory block to plug last in this pass, the keeper; nb_mb if none.
 *
 * Linux 6.1 rechecks a zone for holes after every memory block it onlines
 * (set_zone_contiguous()), walking from the zone's start to the first
 * hole.  Started in address order, new memory blocks leave no hole, so
 * each walk covers the whole zone and onlining N blocks costs O(N^2).
 * Leaving one unused memory block just above plugged memory for last
 * keeps a hole near the zone's start until the pass ends, so each walk
 * stops there.  What is plugged in the end is the same.
 */
static u32 pvmem_plug_keeper(const struct pvmem_map *map, u64 want,
			     u64 usable_blocks)
{
	bool used_below = false, unused_below = false;
	u32 mb;

	/* Worth it only if a whole other memory block is started first. */
	if (want < 2 * (u64)map->sbs_per_mb)
		return map->nb_mb;
	/*
	 * The lowest unused memory block above one in use; or, with none in
	 * use below, the second unused one: the first then starts the zone.
	 */
	for (mb = 0; mb < map->nb_mb; mb++) {
		if (map->state[mb] != PVMEM_MB_UNUSED) {
			used_below = true;
			continue;
		}
		if (used_below || unused_below)
			break;
		unused_below = true;
	}
	if (mb >= map->nb_mb || (u64)(mb + 1) * map->sbs_per_mb > usable_blocks)
		return map->nb_mb;
	return mb;
}

/*
 * The lowest unused memory block other than @keeper and up to
 * PVMEM_PLUG_BATCH_MB unused ones after it, for @want device blocks.
 */
static bool pvmem_plan_new(const struct pvmem_map *map, u64 want,
			   u64 usable_blocks, u32 max_new_mb, u32 keeper,
			   struct pvmem_run *run)
{
	u32 mb, end;

	for (mb = 0; mb < map->nb_mb; mb++) {
		if (map->state[mb] != PVMEM_MB_UNUSED || mb == keeper)
			continue;
		for (end = mb + 1;
		     end < map->nb_mb && end != keeper &&
		     end - mb < PVMEM_PLUG_BATCH_MB && end - mb < max_new_mb &&
		     map->state[end] == PVMEM_MB_UNUSED &&
		     (u64)(end - mb) * map->sbs_per_mb < want;
		     end++)
			;
		/* At most 2^26 device blocks in all: fits; capped below. */
		*run = (struct pvmem_run){
			.mb = mb,
			.nb = (end - mb) * map->sbs_per_mb,
		};
		return pvmem_run_fit(map, want, usable_blocks, run);
	}
	return false;
}

/**
 * pvmem_plan_plug - choose the next device blocks to plug
 * @map: the map
 * @want: device blocks still to plug (> 0)
 * @usable_blocks: device blocks that lie in the usable region
 * @max_new_mb: how many unused memory blocks may be started (the offline
 *	cap); 0 only fills holes
 * @run: the chosen run, valid if true is returned
 *
 * Policy: first fill holes in memory blocks already added to Linux (not
 * in the one Linux is offlining), which costs no new memmap and no
 * hot-add, lowest address first; then start the
 * lowest unused memory block, and take up to PVMEM_PLUG_BATCH_MB unused
 * memory blocks after it in the same run (one PLUG, one hot-add).  The
 * keeper (see pvmem_plug_keeper()) is skipped while at least one other
 * whole memory block is wanted besides it; those runs take whole memory
 * blocks only, so what is plugged in the end matches address order.  In
 * big-block mode only whole unused big blocks are plugged, as many as fit
 * in @want.
 *
 * Return: true if there is something to plug.
 */
bool pvmem_plan_plug(const struct pvmem_map *map, u64 want, u64 usable_blocks,
		     u32 max_new_mb, struct pvmem_run *run)
{
	u32 mb, sb, end, keeper;
	u64 run_want;

	if (!want)
		return false;
	for (mb = 0; mb < map->nb_mb; mb++) {
		if (!pvmem_mb_added(map, mb) ||
		    map->nr_plugged[mb] == map->sbs_per_mb ||
		    pvmem_mb_offlining(map, mb))
			continue;
		for (sb = 0; pvmem_map_test(map, mb, sb, 1, true); sb++)
			;
		end = sb + 1;
		while (end < map->sbs_per_mb &&
		       pvmem_map_test(map, mb, end, 1, false))
			end++;
		*run = (struct pvmem_run){ .mb = mb, .sb = sb, .nb = end - sb };
		if (pvmem_run_fit(map, want, usable_blocks, run))
			return true;
	}
	if (!max_new_mb)
		return false;
	keeper = pvmem_plug_keeper(map, want, usable_blocks);
	if (keeper < map->nb_mb) {
		/* Whole memory blocks, one left for the keeper. */
		run_want = (want / map->sbs_per_mb - 1) * map->sbs_per_mb;
		if (pvmem_plan_new(map, run_want, usable_blocks, max_new_mb,
				   keeper, run))
			return true;
		/* Nothing else will fit: the keeper after all. */
		*run = (struct pvmem_run){ .mb = keeper,
					   .nb = map->sbs_per_mb };
		return pvmem_run_fit(map, want, usable_blocks, run);
	}
	return pvmem_plan_new(map, want, usable_blocks, max_new_mb, keeper,
			      run);
}

/**
 * pvmem_memmap_room - how many memory blocks may be hot-added
 * @avail: pages the kernel zones can give without pressure
 * @margin: pages to leave to the rest of the guest
 * @per_mb: pages of memory map one memory block needs
 *
 * Every hot-added memory block needs its memory map from the kernel zones
 * before any of its memory is usable, so a guest short of memory cannot
 * plug itself out of trouble; pvmem adds only as many memory blocks as
 * fit above @margin and retries the rest later.
 *
 * Return: the number of memory blocks whose memory maps fit.
 */
u32 pvmem_memmap_room(u64 avail, u64 margin, u64 per_mb)
{
	u64 n;

	if (!per_mb || avail <= margin)
		return 0;
	n = (avail - margin) / per_mb;
	return n > (u32)~0U ? (u32)~0U : (u32)n;
}

/* Unplug tiers, cheapest first; -1: never unplug from this state. */
static int pvmem_unplug_tier(enum pvmem_mb_state state, bool online)
{
	switch (state) {
	case PVMEM_MB_OFFLINE:
		return 0; /* nothing to migrate */
	case PVMEM_MB_MOVABLE:
		return online ? 1 : -1; /* migration should succeed */
	case PVMEM_MB_KERNEL:
		return online ? 2 : -1; /* unmovable pages may sit there */
	default:
		return -1;
	}
}

/* Tiers of pvmem_unplug_tier(); a block's own memory map ranks after. */
#define PVMEM_UNPLUG_TIERS 3

/*
 * Where memory block @mb ranks for giving up device blocks now, for @want
 * of them (lower goes first); -1 if it cannot.  Inside its tier a block
 * that held pages in use at its last attempt goes after the others: what
 * held it (slab, page tables) is likely still there.  A memory map inside
 * the block goes only with the whole block: a block that holds nothing
 * else but more than @want comes last, after every block that could meet
 * @want exactly (taking it unplugs more than asked, and the next pass
 * plugs the difference elsewhere).
 */
static int pvmem_unplug_rank(const struct pvmem_map *map, u32 mb, u64 want,
			     bool online)
{
	const int tier = pvmem_unplug_tier(map->state[mb], online);
	int rank;

	if (tier < 0 || !map->nr_plugged[mb] || test_bit(mb, map->busy) ||
	    pvmem_mb_offlining(map, mb))
		return -1;
	/* A big block goes whole or not at all. */
	if (map->bbm && map->nr_plugged[mb] > want)
		return -1;
	rank = 2 * tier + pvmem_mb_held(map, mb);
	if (map->nr_plugged[mb] == pvmem_mb_pinned(map, mb) &&
	    want < map->nr_plugged[mb])
		rank += 2 * PVMEM_UNPLUG_TIERS;
	return rank;
}

/*
 * Inside one rank: does memory block @mb go before @best, the one chosen
 * so far from the blocks below it?  Fewer pages in use, then fewer
 * plugged device blocks; on a tie the higher one (@mb).
 */
static bool pvmem_unplug_before(const struct pvmem_map *map, u32 mb, u32 best)
{
	if (map->in_use[mb] != map->in_use[best])
		return map->in_use[mb] < map->in_use[best];
	return map->nr_plugged[mb] <= map->nr_plugged[best];
}

/**
 * pvmem_plan_unplug - choose the next device blocks to unplug
 * @map: the map
 * @want: device blocks still to unplug (> 0)
 * @online: whether online memory blocks may be unplugged from
 * @run: the chosen run, valid if true is returned
 *
 * Policy: offline memory blocks first (no migration), then online movable
 * ones, then online kernel ones; in each, blocks that held pages in use
 * at the last attempt after the rest.  Within a tier the memory block with
 * the fewest pages in use goes first (@map->in_use: least to migrate, and
 * one with none goes by removal, with no migration and no zeroing), then
 * the one with the fewest plugged device blocks (it empties soonest, so
 * its memmap is freed), the highest address on a tie.  Inside
 * the block the topmost contiguous plugged run is taken, cut to @want from
 * the top.  Memory blocks marked busy this pass, and the one Linux is
 * offlining, are skipped.  In
 * big-block mode a big block is taken only if @want covers all of it.
 *
 * The device blocks holding a block's own memory map (pvmem_mb_pinned())
 * are part of a run only if it takes everything plugged there: such a run
 * goes only by removing the block, and may exceed @want (see
 * pvmem_unplug_rank()).
 *
 * Return: true if there is something to unplug.
 */
bool pvmem_plan_unplug(const struct pvmem_map *map, u64 want, bool online,
		       struct pvmem_run *run)
{
	u32 mb, best = 0;
	int rank, best_rank = -1;

	if (!want)
		return false;
	for (mb = 0; mb < map->nb_mb; mb++) {
		rank = pvmem_unplug_rank(map, mb, want, online);
		if (rank < 0)
			continue;
		if (best_rank < 0 || rank < best_rank ||
		    (rank == best_rank && pvmem_unplug_before(map, mb, best))) {
			best = mb;
			best_rank = rank;
		}
	}
	if (best_rank < 0)
		return false;

	pvmem_plan_unplug_in(map, best, want, run);
	return true;
}

/**
 * pvmem_plan_unplug_in - the next run to unplug inside one memory block
 * @map: the map
 * @mb: a memory block with device blocks plugged
 * @want: device blocks still to unplug (> 0)
 * @run: the run
 *
 * The topmost contiguous plugged run, cut to @want from the top; the
 * device blocks of the block's own memory map only if @want covers all
 * that is plugged there (see pvmem_plan_unplug()).
 */
void pvmem_plan_unplug_in(const struct pvmem_map *map, u32 mb, u64 want,
			  struct pvmem_run *run)
{
	const u32 pinned = pvmem_mb_pinned(map, mb);
	u32 end, start, floor, nb;

	if (map->nr_plugged[mb] == pinned) {
		/* Only its memory map is left: the whole block goes. */
		*run = (struct pvmem_run){ .mb = mb, .nb = pinned };
		return;
	}
	floor = want >= map->nr_plugged[mb] ? 0 : pinned;
	for (end = map->sbs_per_mb; !pvmem_map_test(map, mb, end - 1, 1, true);
	     end--)
		;
	for (start = end - 1;
	     start > floor && pvmem_map_test(map, mb, start - 1, 1, true);
	     start--)
		;
	nb = end - start;
	if (nb > want)
		nb = want;
	if (nb > PVMEM_MAX_REQ_BLOCKS)
		nb = PVMEM_MAX_REQ_BLOCKS;
	*run = (struct pvmem_run){ .mb = mb, .sb = end - nb, .nb = nb };
}

/**
 * pvmem_plan_remove - find an added memory block with nothing plugged
 * @map: the map
 * @mb: the memory block, valid if true is returned
 *
 * Such a block only costs memmap; it is taken out of Linux.  Blocks marked
 * busy this pass, and the one Linux is offlining, are skipped.
 *
 * Return: true if there is one.
 */
bool pvmem_plan_remove(const struct pvmem_map *map, u32 *mb)
{
	u32 i;

	for (i = 0; i < map->nb_mb; i++) {
		if (pvmem_mb_added(map, i) && !map->nr_plugged[i] &&
		    !test_bit(i, map->busy) && !pvmem_mb_offlining(map, i)) {
			*mb = i;
			return true;
		}
	}
	return false;
}

/**
 * pvmem_plan_owed - the next UNPLUG owed by memory blocks already removed
 * @map: the map
 * @run: the run, valid if true is returned
 *
 * The run starts at the first plugged device block of the first owed
 * memory block and continues through following owed memory blocks while
 * their device blocks are plugged: one request for many memory blocks.
 *
 * Return: true if an UNPLUG is owed.
 */
bool pvmem_plan_owed(const struct pvmem_map *map, struct pvmem_run *run)
{
	const u32 sbs = map->sbs_per_mb;
	u64 bit, end;
	u32 mb;

	for (mb = 0; mb < map->nb_mb; mb++)
		if (map->state[mb] == PVMEM_MB_OWED && map->nr_plugged[mb])
			break;
	if (mb == map->nb_mb)
		return false;
	for (bit = (u64)mb * sbs; !test_bit(bit, map->plugged); bit++)
		;
	for (end = bit + 1;
	     end < (u64)map->nb_mb * sbs && end - bit < PVMEM_MAX_REQ_BLOCKS &&
	     map->state[end / sbs] == PVMEM_MB_OWED &&
	     test_bit(end, map->plugged);
	     end++)
		;
	*run = (struct pvmem_run){
		.mb = bit / sbs,
		.sb = bit % sbs,
		.nb = end - bit,
	};
	return true;
}
