// SPDX-License-Identifier: GPL-2.0
/*
 * The fake device and memory behind pvmem's passes; see pvmem_fake.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvmem_fake.h"

static const struct pvmem_limits fake_lim = {
	.page_size = 4096,
	/* Small blocks test the request caps; the module's minimum is 2 MiB. */
	.pageblock_size = 4096,
	.mb_size = 128 * FAKE_MiB,
	.plug_start = 0,
	.plug_end = (1ULL << 46) - 1,
};

/* Keep the first broken invariant. */
static void fake_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
}

static int fake_do_offline(struct fake *f, u32 mb);
static void fake_try_race(struct fake *f);

static struct fake *to_fake(void *be)
{
	return be;
}

static u64 fake_sbs(const struct fake *f)
{
	return (u64)f->map.nb_mb * f->map.sbs_per_mb;
}

static bool fake_map_plugged(const struct fake *f, u64 i)
{
	return pvmem_map_test(&f->map, i / f->map.sbs_per_mb,
			      i % f->map.sbs_per_mb, 1, true);
}

static bool fake_online_state(enum pvmem_mb_state s)
{
	return s == PVMEM_MB_KERNEL || s == PVMEM_MB_MOVABLE;
}

/* Every backend call: count it, and maybe change the config first. */
static void fake_tick(struct fake *f)
{
	f->calls++;
	f->pass_calls++;
	if (f->calls == f->change_at) {
		f->dev.requested_size = f->change_to;
		f->changed = true;
	}
	/* A pass that does not end would never come back: stop here. */
	if (f->pass_limit && f->pass_calls > f->pass_limit) {
		fprintf(stderr, "a pass made more than %ld backend calls\n",
			f->pass_limit);
		abort();
	}
}

static void fake_need_lock(struct fake *f, bool held, const char *op)
{
	if (f->locked != held)
		fake_fail(f, "%s called with the map lock %s", op,
			  held ? "not held" : "held");
}

/* --- the device --- */

static void fake_read_config(void *be, struct pvmem_cfg *cfg)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	f->changed = false;
	*cfg = f->dev;
	cfg->plugged_size = fake_dev_plugged(f) * f->dev.block_size;
	/* Caught between raising requested_size and usable_region_size. */
	if (f->torn_reads) {
		f->torn_reads--;
		cfg->usable_region_size = f->torn_usable;
	}
	if (f->corrupt_addr)
		cfg->addr += f->dev.block_size;
}

static bool fake_config_changed(void *be)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	return f->changed || f->storm;
}

static enum fake_act fake_act_for(struct fake *f)
{
	int i;

	for (i = 0; i < f->nscript; i++)
		if (f->script[i].at == f->sends)
			return f->script[i].act;
	return f->all;
}

/* Validate a PLUG/UNPLUG range as the device does: first block or -1. */
static long long fake_range(const struct fake *f, u64 addr, u16 nb, bool plug)
{
	const u64 bs = f->dev.block_size;
	u64 first, i;

	if (!nb || addr % bs || addr < f->dev.addr)
		return -1;
	first = (addr - f->dev.addr) / bs;
	if (first + nb > f->dev.usable_region_size / bs)
		return -1;
	for (i = first; i < first + nb; i++)
		if (f->dev_plugged[i] == plug)
			return -1; /* already in that state */
	return first;
}

/* Carry out a request; the answer a spec-abiding device gives. */
static enum pvmem_answer fake_do(struct fake *f, u16 type, u64 addr, u16 nb)
{
	const u64 bs = f->dev.block_size;
	long long first;
	u64 i;

	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
	case VIRTIO_MEM_REQ_UNPLUG:
		first = fake_range(f, addr, nb, type == VIRTIO_MEM_REQ_PLUG);
		if (first < 0)
			return PVMEM_ANS_ERROR;
		if (type == VIRTIO_MEM_REQ_PLUG &&
		    (fake_dev_plugged(f) + nb) * bs > f->dev.requested_size)
			return PVMEM_ANS_NACK;
		for (i = first; i < first + nb; i++)
			f->dev_plugged[i] = type == VIRTIO_MEM_REQ_PLUG;
		return PVMEM_ANS_ACK;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		memset(f->dev_plugged, 0, f->dev_blocks);
		return PVMEM_ANS_ACK;
	case VIRTIO_MEM_REQ_STATE:
		if (!nb || addr % bs || addr < f->dev.addr ||
		    (addr - f->dev.addr) / bs + nb >
			    f->dev.usable_region_size / bs)
			return PVMEM_ANS_ERROR;
		return PVMEM_ANS_ACK;
	default:
		return PVMEM_ANS_ERROR;
	}
}

/* The device blocks a request covers may now be in either state. */
static void fake_mark_unknown(struct fake *f, u16 type, u64 addr, u16 nb)
{
	u64 first, i;

	if (type == VIRTIO_MEM_REQ_STATE)
		return; /* it changes nothing */
	if (type == VIRTIO_MEM_REQ_UNPLUG_ALL) {
		memset(f->unknown, 1, f->dev_blocks);
		return;
	}
	if (addr < f->dev.addr || (addr - f->dev.addr) % f->dev.block_size)
		return;
	first = (addr - f->dev.addr) / f->dev.block_size;
	for (i = first; i < first + nb && i < f->dev_blocks; i++)
		f->unknown[i] = 1;
}

static enum pvmem_answer fake_send(void *be, u16 type, u64 addr, u16 nb)
{
	struct fake *f = to_fake(be);
	enum fake_act act;
	enum pvmem_answer ans;

	fake_tick(f);
	act = fake_act_for(f);
	f->sends++;
	/* Onlining elsewhere would wait for the device: never. */
	if (f->locked) {
		f->sends_locked++;
		fake_fail(f, "a request was sent with the map lock held");
	}
	if (type < PVMEM_REQ_NR)
		f->nr_type[type]++;
	if (f->ctl.state == PVMEM_DEV_BROKEN)
		fake_fail(f, "a request was sent to a broken device");
	if (!f->locked)
		fake_try_race(f);
	switch (act) {
	case FA_BUSY:
		return PVMEM_ANS_BUSY;
	case FA_NACK:
		if (type == VIRTIO_MEM_REQ_PLUG)
			return PVMEM_ANS_NACK;
		/* NACK is no answer to anything else: the driver cannot tell. */
		fake_mark_unknown(f, type, addr, nb);
		return PVMEM_ANS_INVALID;
	case FA_ERROR:
		/* Not done, but the driver trusts the device no longer. */
		fake_mark_unknown(f, type, addr, nb);
		return PVMEM_ANS_ERROR;
	case FA_UNSENT:
		return PVMEM_ANS_UNSENT;
	case FA_NEVER:
		fake_mark_unknown(f, type, addr, nb);
		return PVMEM_ANS_TIMEOUT;
	case FA_GONE:
		fake_mark_unknown(f, type, addr, nb);
		fake_do(f, type, addr, nb);
		return PVMEM_ANS_GONE;
	case FA_LATE:
	case FA_INVALID:
		fake_mark_unknown(f, type, addr, nb);
		ans = fake_do(f, type, addr, nb);
		return act == FA_LATE ? PVMEM_ANS_TIMEOUT : PVMEM_ANS_INVALID;
	default:
		ans = fake_do(f, type, addr, nb);
		if (ans == PVMEM_ANS_ERROR)
			fake_fail(f, "the device answered ERROR to %s %#llx+%u",
				  pvmem_req_name(type),
				  (unsigned long long)addr, nb);
		return ans;
	}
}

/* A STATE request: answered from the device's blocks, or as scripted. */
static enum pvmem_answer fake_query(void *be, u64 addr, u16 nb, u16 *state)
{
	struct fake *f = to_fake(be);
	const u64 bs = f->dev.block_size;
	enum pvmem_answer ans;
	u64 first, i, plugged = 0;

	ans = fake_send(be, VIRTIO_MEM_REQ_STATE, addr, nb);
	if (ans != PVMEM_ANS_ACK)
		return ans;
	first = (addr - f->dev.addr) / bs;
	for (i = first; i < first + nb; i++)
		plugged += f->dev_plugged[i];
	*state = plugged == nb ? VIRTIO_MEM_STATE_PLUGGED :
		 !plugged      ? VIRTIO_MEM_STATE_UNPLUGGED :
				 VIRTIO_MEM_STATE_MIXED;
	return PVMEM_ANS_ACK;
}

/* --- the memory --- */

static void fake_lock(void *be)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	if (f->locked)
		fake_fail(f, "the map lock taken twice");
	f->locked = true;
}

static void fake_unlock(void *be)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	if (!f->locked)
		fake_fail(f, "the map lock dropped while not held");
	f->locked = false;
	/* A notifier waiting for the lock gets it now. */
	if (f->offline_after_count != PVMEM_NO_MB && f->counted) {
		if (!fake_offline_begin(f, f->offline_after_count))
			f->offline_after_count = PVMEM_NO_MB;
	}
	f->counted = false;
}

static void fake_set_state(void *be, u32 mb, enum pvmem_mb_state state)
{
	struct fake *f = to_fake(be);
	enum pvmem_mb_state from = f->map.state[mb];

	fake_tick(f);
	fake_need_lock(f, true, "set_state");
	if (!pvmem_map_set_state(&f->map, mb, state))
		fake_fail(f, "memory block %u: %s -> %s is not allowed", mb,
			  pvmem_mb_state_name(from),
			  pvmem_mb_state_name(state));
}

/* What the online page callback does: plugged blocks to the allocator. */
static void fake_give_plugged(struct fake *f, u32 mb)
{
	u64 i = (u64)mb * f->map.sbs_per_mb;
	const u64 end = i + f->map.sbs_per_mb;

	for (; i < end; i++)
		if (f->lx[i] != LX_MEMMAP)
			f->lx[i] = fake_map_plugged(f, i) ? LX_BUDDY : LX_OFF;
}

/* Linux holds the device block: data, or a memory map. */
static bool fake_lx_held(unsigned char lx)
{
	return lx == LX_BUDDY || lx == LX_MEMMAP;
}

/*
 * Pages in use in device blocks [@sb, @sb + @nb) of @mb: its data (used,
 * spread over all it has, and sb_used of each device block) and what is
 * pinned.  Only memory Linux has can hold data; a memory map inside is
 * not data.
 */
static u32 fake_used_pages(const struct fake *f, u32 mb, u32 sb, u32 nb)
{
	const u64 first = (u64)mb * f->map.sbs_per_mb;
	u32 n = 0, i;

	for (i = sb; i < sb + nb; i++) {
		if (f->lx[first + i] != LX_BUDDY)
			continue;
		n += f->used[mb] + f->sb_used[first + i];
		if (f->pinned[mb] == FAKE_PIN_ALL ||
		    (f->pinned[mb] == FAKE_PIN_TOP &&
		     i == f->map.sbs_per_mb - 1))
			n++;
	}
	return n;
}

/* Pages in use in plugged memory of @mb (data, pinned or not)? */
static bool fake_in_use(const struct fake *f, u32 mb)
{
	return fake_used_pages(f, mb, 0, f->map.sbs_per_mb);
}

/*
 * Would the memory notifier refuse to online (@online) or offline @mb?
 * It refuses a block with an UNPLUG in flight over it, onlining a block
 * being removed, and offlining one being removed while any of it is
 * plugged; and offlining one whose unplugged device blocks Linux uses,
 * which pvmem must never let happen (the kernel would BUG there).
 */
static bool fake_refused(struct fake *f, u32 mb, bool online)
{
	const enum pvmem_mb_state st = f->map.state[mb];
	u64 i = (u64)mb * f->map.sbs_per_mb;
	const u64 end = i + f->map.sbs_per_mb;

	if (f->map.inflight == mb)
		return true;
	/* A block being removed goes offline only if nothing is in use. */
	if (st == PVMEM_MB_REMOVING && (online || fake_in_use(f, mb)))
		return true;
	for (; !online && i < end; i++) {
		if (!fake_map_plugged(f, i) && f->lx[i] == LX_BUDDY) {
			/* Strings stay whole (checkpatch), after the call. */
			/* clang-format off */
			fake_fail(f, "offlining memory block %u: device block %llu %s",
				  mb, (unsigned long long)i, "is unplugged in the map but in use");
			/* clang-format on */
			return true;
		}
	}
	return false;
}

/* The memory notifier and the callback, as onlining runs them. */
static int fake_do_online(struct fake *f, u32 mb, bool movable)
{
	const enum pvmem_mb_state to = movable ? PVMEM_MB_MOVABLE :
						 PVMEM_MB_KERNEL;

	if (!f->added[mb] || f->zone[mb])
		return -EINVAL;
	if (fake_refused(f, mb, true))
		return -EBUSY;
	if (!pvmem_mb_transition_ok(f->map.state[mb], to))
		return -EINVAL;
	pvmem_map_set_state(&f->map, mb, to);
	f->zone[mb] = movable ? FZ_MOVABLE : FZ_KERNEL;
	fake_give_plugged(f, mb);
	if (pvmem_ctl_kick(&f->ctl))
		f->kicks++;
	return 0;
}

/* A user (or another agent) tries to online or offline a block. */
static void fake_try_race(struct fake *f)
{
	int rc;

	/* Linux offlines one block at a time. */
	if (f->race_mb == PVMEM_NO_MB || f->map.offlining != PVMEM_NO_MB)
		return;
	rc = f->race_online ? fake_do_online(f, f->race_mb, true) :
			      fake_do_offline(f, f->race_mb);
	if (rc == -EBUSY)
		f->races_refused++;
	else if (!rc)
		f->races_done++;
}

int fake_online(struct fake *f, u32 mb, bool movable)
{
	/* Onlining would wait for the lock, or for the offlining. */
	if (f->locked || f->map.offlining != PVMEM_NO_MB)
		return -EAGAIN;
	return fake_do_online(f, mb, movable);
}

/*
 * Offlining: what is in use migrates away (a user's offlining of pinned
 * memory fails, after a while); the rest was held back.
 */
static int fake_do_offline(struct fake *f, u32 mb)
{
	u64 i = (u64)mb * f->map.sbs_per_mb;
	const u64 end = i + f->map.sbs_per_mb;

	if (!f->added[mb] || !f->zone[mb])
		return -EINVAL;
	if (fake_refused(f, mb, false))
		return -EBUSY;
	if (f->pinned[mb] && fake_in_use(f, mb))
		return -EBUSY;
	for (; i < end; i++) {
		if (f->lx[i] != LX_MEMMAP)
			f->lx[i] = LX_OFF;
		f->sb_used[i] = 0;
	}
	f->zone[mb] = FZ_OFF;
	if (f->map.state[mb] != PVMEM_MB_REMOVING)
		pvmem_map_set_state(&f->map, mb, PVMEM_MB_OFFLINE);
	return 0;
}

int fake_offline(struct fake *f, u32 mb)
{
	if (f->locked || f->map.offlining != PVMEM_NO_MB)
		return -EAGAIN;
	return fake_do_offline(f, mb);
}

/*
 * A user's offlining that goes on (migrating a pinned page, say): the
 * notifier has said yes and marked the block, and Linux holds the hotplug
 * locks until fake_offline_end().  Meanwhile pvmem may not touch the block
 * nor add or remove any (fake_hotplug_ok(), fake_run_ok()).
 */
int fake_offline_begin(struct fake *f, u32 mb)
{
	if (f->locked)
		return -EAGAIN;
	if (!f->added[mb] || !f->zone[mb] || f->map.offlining != PVMEM_NO_MB)
		return -EINVAL;
	if (fake_refused(f, mb, false))
		return -EBUSY;
	f->map.offlining = mb;
	return 0;
}

/*
 * It ends: the block goes offline (@done; unless something there still
 * will not move), or the user gives up.
 */
void fake_offline_end(struct fake *f, bool done)
{
	const u32 mb = f->map.offlining;

	f->map.offlining = PVMEM_NO_MB;
	if (done)
		fake_do_offline(f, mb);
	if (pvmem_ctl_kick(&f->ctl))
		f->kicks++;
}

/* Adding or removing memory now would wait for the hotplug locks. */
static bool fake_hotplug_ok(struct fake *f, const char *op, u32 mb)
{
	if (f->map.offlining == PVMEM_NO_MB)
		return true;
	fake_fail(f, "%s of memory block %u while Linux offlines %u: %s", op,
		  mb, f->map.offlining, "it waits for the hotplug locks");
	return false;
}

/* As the memory layer does: a memory map inside, marked before onlining. */
static bool fake_add_selfmap(struct fake *f, u32 mb, u32 nr)
{
	if (nr != 1 || f->map.nr_plugged[mb] != f->map.sbs_per_mb ||
	    !f->map.memmap_sbs) {
		fake_fail(f,
			  "memory map asked inside %u+%u, not one full block",
			  mb, nr);
		return false;
	}
	if (f->memmap_refused)
		return false;
	pvmem_map_set_selfmap(&f->map, mb, true);
	f->selfmap_adds++;
	return true;
}

static int fake_add(void *be, u32 mb, u32 nr, bool *selfmap)
{
	struct fake *f = to_fake(be);
	u32 i;

	fake_tick(f);
	fake_need_lock(f, false, "add");
	if (!fake_hotplug_ok(f, "add", mb))
		return -EBUSY;
	if (mb + nr > f->map.nb_mb) {
		fake_fail(f, "add of memory blocks %u+%u beyond the map", mb,
			  nr);
		return -EINVAL;
	}
	for (i = mb; i < mb + nr; i++) {
		if (f->added[i] || f->map.state[i] != PVMEM_MB_ADDING) {
			fake_fail(f, "add of memory block %u while %s", i,
				  pvmem_mb_state_name(f->map.state[i]));
			return -EEXIST;
		}
		if (f->map.bbm && f->map.nr_plugged[i] != f->map.sbs_per_mb) {
			fake_fail(f,
				  "add of big block %u with %u of %u plugged",
				  i, f->map.nr_plugged[i], f->map.sbs_per_mb);
			return -EINVAL;
		}
	}
	if (f->fail_add) {
		f->fail_add--;
		return -ENOMEM;
	}
	if (*selfmap)
		*selfmap = fake_add_selfmap(f, mb, nr);
	/* Each memory block's memory map takes its room. */
	if (f->add_room != ~0U && !*selfmap)
		f->add_room = f->add_room > nr ? f->add_room - nr : 0;
	for (i = mb; i < mb + nr; i++) {
		if (f->nadd < FAKE_LOG)
			f->add_log[f->nadd++] = i;
		f->added[i] = 1;
		f->zone[i] = FZ_OFF;
		memset(f->lx + (u64)i * f->map.sbs_per_mb, LX_OFF,
		       f->map.sbs_per_mb);
		if (*selfmap)
			memset(f->lx + (u64)i * f->map.sbs_per_mb, LX_MEMMAP,
			       f->map.memmap_sbs);
		if (f->auto_online)
			fake_do_online(f, i, !f->kernel_zone);
	}
	return 0;
}

static int fake_remove(void *be, u32 mb)
{
	struct fake *f = to_fake(be);
	static const u8 back[] = {
		[FZ_OFF] = PVMEM_MB_OFFLINE,
		[FZ_KERNEL] = PVMEM_MB_KERNEL,
		[FZ_MOVABLE] = PVMEM_MB_MOVABLE,
	};
	int rc = 0;

	fake_tick(f);
	fake_need_lock(f, false, "remove");
	if (!fake_hotplug_ok(f, "remove", mb))
		return -EBUSY;
	if (!f->added[mb] || f->map.state[mb] != PVMEM_MB_REMOVING) {
		fake_fail(f, "remove of memory block %u while %s%s", mb,
			  pvmem_mb_state_name(f->map.state[mb]),
			  f->added[mb] ? "" : ", not added");
		return -EINVAL;
	}
	/* Between marking and removal, a user may try its luck. */
	fake_try_race(f);
	if (f->fail_remove) {
		f->fail_remove--;
		rc = -EBUSY;
	} else if (f->zone[mb]) {
		rc = fake_do_offline(f, mb);
	}
	if (rc) {
		/* The memory layer puts it back as Linux has it. */
		pvmem_map_set_state(&f->map, mb, back[f->zone[mb]]);
		return rc;
	}
	if (f->nremove < FAKE_LOG)
		f->remove_log[f->nremove++] = mb;
	/* What was taken of it goes with it. */
	if (f->taken_mb == mb) {
		f->taken_mb = PVMEM_NO_MB;
		f->taken = 0;
	}
	f->added[mb] = 0;
	memset(f->lx + (u64)mb * f->map.sbs_per_mb, LX_ABSENT,
	       f->map.sbs_per_mb);
	return 0;
}

static bool fake_run_ok(struct fake *f, const struct pvmem_run *run,
			const char *op)
{
	if (run->sb + run->nb > f->map.sbs_per_mb || !run->nb ||
	    !fake_online_state(f->map.state[run->mb]) || !f->zone[run->mb]) {
		fake_fail(f, "%s of %u+%u+%u outside one online memory block",
			  op, run->mb, run->sb, run->nb);
		return false;
	}
	if (!pvmem_map_test(&f->map, run->mb, run->sb, run->nb, true)) {
		fake_fail(f, "%s of %u+%u+%u, not all plugged", op, run->mb,
			  run->sb, run->nb);
		return false;
	}
	if (pvmem_mb_offlining(&f->map, run->mb)) {
		fake_fail(f, "%s of %u+%u+%u while Linux offlines the block",
			  op, run->mb, run->sb, run->nb);
		return false;
	}
	return true;
}

/*
 * What migrates out of @run lands in the topmost device block of the same
 * memory block that is plugged, given to Linux and outside @run, if any.
 */
static void fake_land(struct fake *f, const struct pvmem_run *run)
{
	const u64 base = (u64)run->mb * f->map.sbs_per_mb;
	unsigned int moved = 0;
	u32 i;

	for (i = run->sb; i < run->sb + run->nb; i++)
		moved += f->sb_used[base + i];
	for (i = f->map.sbs_per_mb; moved && i-- > 0;) {
		if ((i >= run->sb && i < run->sb + run->nb) ||
		    !fake_map_plugged(f, base + i) ||
		    f->lx[base + i] != LX_BUDDY)
			continue;
		moved += f->sb_used[base + i];
		f->sb_used[base + i] = moved > 255 ? 255 : moved;
		return;
	}
}

static int fake_isolate(void *be, const struct pvmem_run *run)
{
	struct fake *f = to_fake(be);
	const u64 first = (u64)run->mb * f->map.sbs_per_mb + run->sb;

	fake_tick(f);
	fake_need_lock(f, true, "isolate");
	if (!fake_run_ok(f, run, "isolate"))
		return -EINVAL;
	if (memchr(f->lx + first, LX_MEMMAP, run->nb)) {
		fake_fail(f, "isolate of %u+%u+%u: a memory map in use",
			  run->mb, run->sb, run->nb);
		return -EINVAL;
	}
	/* Linux refuses to isolate a pageblock twice. */
	if (f->taken_mb == run->mb) {
		fake_fail(f, "isolate of %u+%u+%u: pieces of it are taken",
			  run->mb, run->sb, run->nb);
		return -EBUSY;
	}
	if (f->pinned[run->mb] == FAKE_PIN_ALL ||
	    (f->pinned[run->mb] == FAKE_PIN_TOP &&
	     run->sb + run->nb == f->map.sbs_per_mb))
		return -EBUSY;
	if (f->no_room)
		return -ENOMEM;
	f->isolations++;
	if (f->land_in_block)
		fake_land(f, run);
	memset(f->lx + first, LX_OFF, run->nb);
	memset(f->sb_used + first, 0, run->nb);
	return 0;
}

/*
 * The pageblocks of @mb that hold pages in use go through the range
 * allocator, each page at worst in a pageblock of its own: what is in use
 * migrates away, unless the block is pinned.
 */
static int fake_take_used(void *be, u32 mb)
{
	struct fake *f = to_fake(be);
	const struct pvmem_run all = { .mb = mb, .nb = f->map.sbs_per_mb };
	const u64 first = (u64)mb * f->map.sbs_per_mb;
	u32 used;

	fake_tick(f);
	fake_need_lock(f, true, "take_used");
	f->take_tries++;
	if (!fake_run_ok(f, &all, "take_used"))
		return -EINVAL;
	if (f->taken_mb != PVMEM_NO_MB && f->taken_mb != mb) {
		fake_fail(f, "take_used of %u while %u has pieces taken", mb,
			  f->taken_mb);
		return -EINVAL;
	}
	used = fake_used_pages(f, mb, 0, f->map.sbs_per_mb);
	if (f->taken + used > PVMEM_EMPTY_PIECES)
		return -E2BIG;
	if (f->pinned[mb])
		return -EBUSY;
	if (f->no_room)
		return -ENOMEM;
	f->taken_mb = mb;
	if (!used)
		return 0;
	f->taken += used;
	f->takes++;
	f->used[mb] = 0;
	memset(f->sb_used + first, 0, f->map.sbs_per_mb);
	if (f->land_takes) {
		f->land_takes--;
		f->sb_used[first + f->map.sbs_per_mb - 1] = 1;
	}
	return 0;
}

static void fake_put_taken(void *be, u32 mb)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	fake_need_lock(f, true, "put_taken");
	if (f->taken_mb != PVMEM_NO_MB && f->taken_mb != mb)
		fake_fail(f, "put_taken of %u while %u has pieces taken", mb,
			  f->taken_mb);
	f->taken_mb = PVMEM_NO_MB;
	f->taken = 0;
}

static void fake_release(void *be, const struct pvmem_run *run)
{
	struct fake *f = to_fake(be);
	const u64 first = (u64)run->mb * f->map.sbs_per_mb + run->sb;

	fake_tick(f);
	fake_need_lock(f, true, "release");
	if (fake_run_ok(f, run, "release"))
		memset(f->lx + first, LX_BUDDY, run->nb);
}

static u32 fake_in_use_op(void *be, u32 mb, u32 sb, u32 nb)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	fake_need_lock(f, true, "in_use");
	f->counted = true;
	if (mb >= f->map.nb_mb || sb > f->map.sbs_per_mb ||
	    nb > f->map.sbs_per_mb - sb) {
		fake_fail(f, "in_use of %u+%u+%u: outside the map", mb, sb, nb);
		return 0;
	}
	return f->stale_idle ? 0 : fake_used_pages(f, mb, sb, nb);
}

static u32 fake_add_room(void *be)
{
	struct fake *f = to_fake(be);

	fake_tick(f);
	return f->add_room;
}

static u64 fake_now_ms(void *be)
{
	return to_fake(be)->now_ms;
}

static void fake_report(void *be, enum pvmem_event ev, u64 a, u64 b, int err)
{
	struct fake *f = to_fake(be);

	if ((unsigned int)ev < PVMEM_EV_NR) {
		f->events[ev]++;
		f->event_a[ev] = a;
		f->event_b[ev] = b;
	}
}

static const struct pvmem_backend_ops fake_ops = {
	.read_config = fake_read_config,
	.config_changed = fake_config_changed,
	.send = fake_send,
	.query = fake_query,
	.lock = fake_lock,
	.unlock = fake_unlock,
	.set_state = fake_set_state,
	.add = fake_add,
	.remove = fake_remove,
	.isolate = fake_isolate,
	.take_used = fake_take_used,
	.put_taken = fake_put_taken,
	.release = fake_release,
	.in_use = fake_in_use_op,
	.add_room = fake_add_room,
	.now_ms = fake_now_ms,
	.report = fake_report,
};

/* --- invariants --- */

static void fake_check_device(struct fake *f)
{
	u64 d, i;

	/* Leftovers are the device's until UNPLUG_ALL clears them. */
	if (f->ctl.state == PVMEM_DEV_LEFTOVERS)
		return;
	for (d = 0; d < f->dev_blocks; d++) {
		const bool in_map = d >= f->map_offset &&
				    d - f->map_offset < fake_sbs(f);
		const bool mine = in_map &&
				  fake_map_plugged(f, d - f->map_offset);

		if (f->dev_plugged[d] != mine && !f->unknown[d]) {
			/* Strings stay whole (checkpatch), after the call. */
			/* clang-format off */
			fake_fail(f, "device block %llu: device %s, pvmem believes %s",
				  (unsigned long long)d,
				  f->dev_plugged[d] ? "plugged" : "unplugged",
				  mine ? "plugged" : "unplugged");
			/* clang-format on */
			return;
		}
	}
	for (i = 0; i < fake_sbs(f); i++) {
		if (fake_lx_held(f->lx[i]) && !fake_map_plugged(f, i)) {
			/* Strings stay whole (checkpatch), after the call. */
			/* clang-format off */
			fake_fail(f, "Linux uses device block %llu, unplugged in the map",
				  (unsigned long long)i);
			/* clang-format on */
			return;
		}
		if (fake_lx_held(f->lx[i]) &&
		    !f->dev_plugged[i + f->map_offset]) {
			/* Strings stay whole (checkpatch), after the call. */
			/* clang-format off */
			fake_fail(f, "Linux holds device block %llu, which is unplugged",
				  (unsigned long long)i);
			/* clang-format on */
			return;
		}
	}
}

static void fake_check_map(struct fake *f)
{
	const struct pvmem_map *map = &f->map;
	u32 count[PVMEM_MB_STATE_NR] = { 0 }, mb, s, n;
	u64 total = 0, i;

	for (mb = 0; mb < map->nb_mb; mb++) {
		const enum pvmem_mb_state st = map->state[mb];
		bool memmap;

		if (st >= PVMEM_MB_STATE_NR) {
			fake_fail(f, "memory block %u in state %u", mb, st);
			return;
		}
		count[st]++;
		for (n = 0, s = 0; s < map->sbs_per_mb; s++)
			n += pvmem_map_test(map, mb, s, 1, true);
		if (n != map->nr_plugged[mb])
			fake_fail(f, "memory block %u: %u plugged, counted %u",
				  mb, n, map->nr_plugged[mb]);
		total += n;
		if ((st == PVMEM_MB_UNUSED || st == PVMEM_MB_OWED) &&
		    f->added[mb])
			fake_fail(f, "memory block %u is %s but added", mb,
				  pvmem_mb_state_name(st));
		if ((st == PVMEM_MB_OFFLINE || fake_online_state(st) ||
		     st == PVMEM_MB_REMOVING) &&
		    !f->added[mb])
			fake_fail(f, "memory block %u is %s but not added", mb,
				  pvmem_mb_state_name(st));
		if (st == PVMEM_MB_UNUSED && n)
			fake_fail(f, "memory block %u unused with %u plugged",
				  mb, n);
		/* Between passes nothing is half done. */
		if (st == PVMEM_MB_ADDING || st == PVMEM_MB_REMOVING ||
		    (st == PVMEM_MB_OWED && !n))
			fake_fail(f, "memory block %u left %s with %u plugged",
				  mb, pvmem_mb_state_name(st), n);
		memmap = f->lx[(u64)mb * map->sbs_per_mb] == LX_MEMMAP;
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		if (!!test_bit(mb, map->selfmap) != memmap)
			fake_fail(f, "memory block %u: map and Linux disagree on its memory map",
				  mb);
		/* clang-format on */
		if (f->added[mb] && !!f->zone[mb] != fake_online_state(st))
			fake_fail(f, "memory block %u is %s, Linux has it %s",
				  mb, pvmem_mb_state_name(st),
				  f->zone[mb] ? "online" : "offline");
		for (i = (u64)mb * map->sbs_per_mb;
		     i < (u64)(mb + 1) * map->sbs_per_mb; i++) {
			if (f->lx[i] == LX_BUDDY && !fake_online_state(st))
				/* Strings stay whole (checkpatch), after the call. */
				/* clang-format off */
				fake_fail(f, "memory block %u is %s, yet Linux uses it",
					  mb, pvmem_mb_state_name(st));
			/* clang-format on */
			/* Plugged and online is Linux's: nothing is lost. */
			if (fake_online_state(st) && fake_map_plugged(f, i) &&
			    !fake_lx_held(f->lx[i]))
				/* Strings stay whole (checkpatch), after the call. */
				/* clang-format off */
				fake_fail(f, "device block %llu plugged and online, not usable",
					  (unsigned long long)i);
			/* clang-format on */
		}
	}
	if (map->inflight != PVMEM_NO_MB)
		fake_fail(f, "memory block %u left in flight", map->inflight);
	if (f->taken_mb != PVMEM_NO_MB)
		fake_fail(f, "memory block %u left with pieces taken",
			  f->taken_mb);
	for (s = 0; s < PVMEM_MB_STATE_NR; s++)
		if (count[s] != map->count[s])
			fake_fail(f, "%u memory blocks %s, counted %u",
				  count[s], pvmem_mb_state_name(s),
				  map->count[s]);
	if (total != map->total_plugged)
		fake_fail(f, "%llu plugged, counted %llu",
			  (unsigned long long)total,
			  (unsigned long long)map->total_plugged);
}

bool fake_check(struct fake *f)
{
	if (f->locked)
		fake_fail(f, "the map lock is still held");
	fake_check_map(f);
	fake_check_device(f);
	return !f->err[0];
}

/* --- set-up and driving --- */

u64 fake_dev_plugged(const struct fake *f)
{
	u64 n = 0, d;

	for (d = 0; d < f->dev_blocks; d++)
		n += f->dev_plugged[d];
	return n;
}

u64 fake_usable(const struct fake *f)
{
	u64 n = 0, i;

	for (i = 0; i < fake_sbs(f); i++)
		n += f->lx[i] == LX_BUDDY;
	return n;
}

int fake_init(struct fake *f, u64 region, u64 block, u64 usable)
{
	return fake_init_memmap(f, region, block, usable, 0);
}

/* As fake_init(), where memory maps of @memmap_size may sit inside blocks. */
int fake_init_memmap(struct fake *f, u64 region, u64 block, u64 usable,
		     u64 memmap_size)
{
	struct pvmem_limits lim = fake_lim;

	lim.memmap_size = memmap_size;
	return fake_init_lim(f, region, block, usable, &lim);
}

/* As fake_init(), big-block mode forced with big blocks of @bbm_size. */
int fake_init_bbm(struct fake *f, u64 region, u64 block, u64 usable,
		  u64 bbm_size)
{
	struct pvmem_limits lim = fake_lim;

	lim.bbm_size = bbm_size;
	return fake_init_lim(f, region, block, usable, &lim);
}

int fake_init_lim(struct fake *f, u64 region, u64 block, u64 usable,
		  const struct pvmem_limits *lim)
{
	memset(f, 0, sizeof(*f));
	f->dev = (struct pvmem_cfg){
		.block_size = block,
		.addr = 4 * FAKE_GiB,
		.region_size = region,
		.usable_region_size = usable,
	};
	if (pvmem_cfg_check(&f->dev, lim))
		return -EINVAL;
	f->ctl.lim = *lim;
	f->ctl.boot_cfg = f->dev;
	f->ctl.knobs = (struct pvmem_knobs){
		.unplug_online = true,
		.offline_cap = region,
		.retry_min_ms = 100,
		.retry_max_ms = 30000,
	};
	pvmem_ctl_init(&f->ctl, &fake_ops, f, &f->map);
	f->map_mem = calloc(1, pvmem_map_bytes(f->ctl.lo.nb_mb,
					       f->ctl.lo.sbs_per_mb));
	f->dev_blocks = region / block;
	f->map_offset = (f->ctl.lo.first_mb_addr - f->dev.addr) / block;
	f->dev_plugged = calloc(1, f->dev_blocks);
	f->unknown = calloc(1, f->dev_blocks);
	f->lx = calloc(1, (u64)f->ctl.lo.nb_mb * f->ctl.lo.sbs_per_mb + 1);
	f->added = calloc(1, f->ctl.lo.nb_mb);
	f->pinned = calloc(1, f->ctl.lo.nb_mb);
	f->zone = calloc(1, f->ctl.lo.nb_mb);
	f->used = calloc(1, f->ctl.lo.nb_mb);
	f->sb_used = calloc(1, (u64)f->ctl.lo.nb_mb * f->ctl.lo.sbs_per_mb + 1);
	if (!f->map_mem || !f->dev_plugged || !f->unknown || !f->lx ||
	    !f->added || !f->pinned || !f->zone || !f->used || !f->sb_used)
		return -ENOMEM;
	pvmem_map_init(&f->map, &f->ctl.lo, f->map_mem);
	f->auto_online = true;
	f->add_room = ~0U;
	f->race_mb = PVMEM_NO_MB;
	f->offline_after_count = PVMEM_NO_MB;
	f->taken_mb = PVMEM_NO_MB;
	/* A pass touches each device and memory block a few times at most. */
	f->pass_limit = 40 * (fake_sbs(f) + f->map.nb_mb) + 200;
	return 0;
}

void fake_free(struct fake *f)
{
	free(f->map_mem);
	free(f->dev_plugged);
	free(f->unknown);
	free(f->lx);
	free(f->added);
	free(f->pinned);
	free(f->zone);
	free(f->used);
	free(f->sb_used);
}

void fake_request(struct fake *f, u64 bytes)
{
	f->dev.requested_size = bytes;
	f->changed = true;
}

void fake_grow(struct fake *f, u64 bytes, int torn)
{
	f->torn_usable = f->dev.usable_region_size;
	f->torn_reads = torn;
	if (f->dev.usable_region_size < bytes)
		f->dev.usable_region_size = bytes;
	fake_request(f, bytes);
}

void fake_script(struct fake *f, long n, enum fake_act act)
{
	if (f->nscript < FAKE_SCRIPT)
		f->script[f->nscript++] = (typeof(f->script[0])){
			.at = f->sends + n,
			.act = act,
		};
}

u32 fake_unbind(struct fake *f, bool running)
{
	bool again = true;
	u32 left = 0;
	int i;

	if (!running)
		pvmem_ctl_teardown(&f->ctl);
	fake_check(f);
	/* Detached: what the device does from now on, the driver never hears. */
	memset(f->unknown, 1, f->dev_blocks);
	for (i = 0; i < 8 && again; i++)
		left = pvmem_ctl_reap(&f->ctl, &again);
	fake_check(f);
	return left;
}

void fake_rebind(struct fake *f)
{
	f->changed = true;
	pvmem_ctl_rebind(&f->ctl, &f->dev);
}

enum pvmem_result fake_run(struct fake *f, int max)
{
	enum pvmem_result res = PVMEM_RES_DONE;
	unsigned int delay;
	long kicks;

	while (max-- > 0) {
		kicks = f->kicks;
		f->pass_calls = 0;
		res = pvmem_ctl_pass(&f->ctl);
		delay = pvmem_ctl_settle(&f->ctl, res);
		if (!fake_check(f))
			break;
		/* Resting: only a config interrupt or a kick runs it again. */
		if (delay == PVMEM_NO_PASS && !f->changed && f->kicks == kicks)
			break;
		/* A backoff: the caller says when it is over (run again). */
		if (res == PVMEM_RES_RETRY && delay)
			break;
		/* At rest until a timer (tidy_ms): likewise. */
		if (res == PVMEM_RES_DONE && delay && delay != PVMEM_NO_PASS)
			break;
	}
	return res;
}
