// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem passes: bring plugged_size towards requested_size, one pass at a
 * time, through a backend (see pvmem_pass.h).
 *
 * Every loop here ends: each turn either plugs, unplugs or removes
 * something, marks a memory block busy for the rest of the pass, or
 * leaves the loop.  Requests go out one at a time; an answer that is not
 * an ACK ends the pass with a retry, or marks the device broken.  What a
 * lost answer (timeout, nonsense) may have done is assumed the worst for
 * the guest: memory it covers stays away from Linux.
 */
#include <asm/barrier.h>
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/types.h>
#include "pvmem_pass.h"

static const char *const pvmem_state_names[PVMEM_DEV_STATE_NR] = {
	[PVMEM_DEV_IDLE] = "idle",
	[PVMEM_DEV_LEFTOVERS] = "unplug_all",
	[PVMEM_DEV_PLUGGING] = "plugging",
	[PVMEM_DEV_UNPLUGGING] = "unplugging",
	[PVMEM_DEV_WAIT_ONLINE] = "waiting_for_online",
	[PVMEM_DEV_RETRY] = "waiting_for_retry",
	[PVMEM_DEV_BROKEN] = "broken",
	[PVMEM_DEV_ADOPTING] = "adopting",
	[PVMEM_DEV_KDUMP] = "kdump",
};

const char *pvmem_dev_state_name(enum pvmem_dev_state state)
{
	return (unsigned int)state < PVMEM_DEV_STATE_NR ?
		       pvmem_state_names[state] :
		       "unknown";
}

/*
 * The one place the device state changes.  BROKEN is final for a binding;
 * only a new one (@bind: pvmem_ctl_init(), pvmem_ctl_rebind()) starts over.
 */
static void pvmem_ctl_move(struct pvmem_ctl *ctl, enum pvmem_dev_state state,
			   bool bind)
{
	if (ctl->state == PVMEM_DEV_BROKEN && !bind)
		return;
	WRITE_ONCE(ctl->state, state);
}

static void pvmem_ctl_set_state(struct pvmem_ctl *ctl,
				enum pvmem_dev_state state)
{
	pvmem_ctl_move(ctl, state, false);
}

static void pvmem_count(struct pvmem_ctl *ctl, enum pvmem_stat stat)
{
	WRITE_ONCE(ctl->stats[stat], ctl->stats[stat] + 1);
}

static void pvmem_report(struct pvmem_ctl *ctl, enum pvmem_event ev, u64 a,
			 u64 b, int err)
{
	ctl->ops->report(ctl->be, ev, a, b, err);
}

/* A pass cannot go on now: say why, for the retry. */
static enum pvmem_result pvmem_retry(struct pvmem_ctl *ctl, enum pvmem_why why)
{
	ctl->why = why;
	return PVMEM_RES_RETRY;
}

/*
 * May memory be added to or removed from Linux now?  Not while Linux
 * offlines a block of the region: that holds the hotplug locks adding and
 * removing take, for as long as a page there will not migrate.  (Only
 * offlining in the region is seen; the check and the call are not atomic,
 * so an offlining that starts in between is still waited for.)  Map lock
 * held.
 */
static bool pvmem_may_hotplug(const struct pvmem_ctl *ctl)
{
	return ctl->map->offlining == PVMEM_NO_MB;
}

/* Stop talking to the device for good, and say why once. */
static enum pvmem_result pvmem_broken(struct pvmem_ctl *ctl, const char *reason)
{
	if (ctl->state != PVMEM_DEV_BROKEN) {
		WRITE_ONCE(ctl->broken_reason, reason);
		pvmem_ctl_set_state(ctl, PVMEM_DEV_BROKEN);
		pvmem_report(ctl, PVMEM_EV_BROKEN, 0, 0, 0);
	}
	return PVMEM_RES_BROKEN;
}

/* What a request's answer means for the pass: the policy, in one place. */
static enum pvmem_result pvmem_answer_result(struct pvmem_ctl *ctl,
					     enum pvmem_answer ans)
{
	switch (ans) {
	case PVMEM_ANS_ACK:
		return PVMEM_RES_DONE;
	case PVMEM_ANS_NACK:
		return pvmem_retry(ctl, PVMEM_WHY_NACK);
	case PVMEM_ANS_BUSY:
		return pvmem_retry(ctl, PVMEM_WHY_BUSY);
	case PVMEM_ANS_UNSENT:
		return pvmem_retry(ctl, PVMEM_WHY_UNSENT);
	case PVMEM_ANS_ERROR:
		return pvmem_broken(ctl, "device answered ERROR");
	case PVMEM_ANS_TIMEOUT:
		return pvmem_broken(ctl, "no response within response_timeout");
	case PVMEM_ANS_GONE:
		return pvmem_broken(ctl, "the device went away");
	default:
		return pvmem_broken(ctl, "invalid response");
	}
}

/* Did the device certainly not act on the request? */
static bool pvmem_answer_untouched(enum pvmem_answer ans)
{
	return ans == PVMEM_ANS_NACK || ans == PVMEM_ANS_BUSY ||
	       ans == PVMEM_ANS_UNSENT;
}

/*
 * Count device blocks a request without a clean answer covered: the
 * device may or may not have acted, so they stay away from Linux for good.
 */
static void pvmem_note_unknown(struct pvmem_ctl *ctl, enum pvmem_answer ans,
			       u32 nb)
{
	if (ans != PVMEM_ANS_ACK && !pvmem_answer_untouched(ans))
		WRITE_ONCE(ctl->stats[PVMEM_STAT_UNKNOWN_BLOCKS],
			   ctl->stats[PVMEM_STAT_UNKNOWN_BLOCKS] + nb);
}

static enum pvmem_answer pvmem_send_run(struct pvmem_ctl *ctl, u16 type,
					const struct pvmem_run *run)
{
	return ctl->ops->send(ctl->be, type,
			      pvmem_layout_run_addr(&ctl->lo, run), run->nb);
}

static enum pvmem_answer
pvmem_query_run(struct pvmem_ctl *ctl, const struct pvmem_run *run, u16 *state)
{
	return ctl->ops->query(ctl->be, pvmem_layout_run_addr(&ctl->lo, run),
			       run->nb, state);
}

static void pvmem_lock(struct pvmem_ctl *ctl)
{
	ctl->ops->lock(ctl->be);
}

static void pvmem_unlock(struct pvmem_ctl *ctl)
{
	ctl->ops->unlock(ctl->be);
}

static void pvmem_set_mb(struct pvmem_ctl *ctl, u32 mb,
			 enum pvmem_mb_state state)
{
	ctl->ops->set_state(ctl->be, mb, state);
}

static bool pvmem_mb_online(const struct pvmem_map *map, u32 mb)
{
	return map->state[mb] == PVMEM_MB_KERNEL ||
	       map->state[mb] == PVMEM_MB_MOVABLE;
}

/* Pages in use in plugged device blocks [@sb, @sb + @nb) of @mb.  Locked. */
static u32 pvmem_in_use(struct pvmem_ctl *ctl, u32 mb, u32 sb, u32 nb)
{
	return ctl->ops->in_use(ctl->be, mb, sb, nb);
}

/* Does online memory block @mb look free of pages in use?  Locked. */
static bool pvmem_mb_idle(struct pvmem_ctl *ctl, u32 mb)
{
	return !pvmem_in_use(ctl, mb, 0, ctl->map->sbs_per_mb);
}

/*
 * Count the pages in use of every online memory block with plugged
 * memory, for the unplug order (struct pvmem_map's in_use).  Locked.
 */
static void pvmem_count_in_use(struct pvmem_ctl *ctl)
{
	struct pvmem_map *map = ctl->map;
	u32 mb;

	for (mb = 0; mb < map->nb_mb; mb++)
		map->in_use[mb] =
			pvmem_mb_online(map, mb) && map->nr_plugged[mb] ?
				pvmem_in_use(ctl, mb, 0, map->sbs_per_mb) :
				0;
	ctl->recount = false;
}

/*
 * Send the UNPLUGs owed by memory blocks already taken out of Linux, one
 * request per contiguous run, which may span many memory blocks.  A lost
 * answer leaves them owed: they are out of Linux either way.
 */
static enum pvmem_result pvmem_settle_owed(struct pvmem_ctl *ctl)
{
	struct pvmem_map *map = ctl->map;
	enum pvmem_answer ans;
	struct pvmem_run run;
	bool found;
	u32 mb;

	for (;;) {
		pvmem_lock(ctl);
		found = pvmem_plan_owed(map, &run);
		pvmem_unlock(ctl);
		if (!found)
			return PVMEM_RES_DONE;
		ans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_UNPLUG, &run);
		if (ans != PVMEM_ANS_ACK)
			return pvmem_answer_result(ctl, ans);
		pvmem_lock(ctl);
		pvmem_map_set(map, run.mb, run.sb, run.nb, false);
		for (mb = run.mb;
		     mb < map->nb_mb && map->state[mb] == PVMEM_MB_OWED; mb++)
			if (!map->nr_plugged[mb])
				pvmem_set_mb(ctl, mb, PVMEM_MB_UNUSED);
		pvmem_unlock(ctl);
	}
}

/*
 * Add memory blocks [@mb, @mb + @nr) whose device blocks were just
 * plugged, as one addition (@selfmap false) or as one fully plugged block
 * that may carry its own memory map (@selfmap true, @nr 1).  If Linux
 * will not take them they owe their UNPLUG.
 */
static int pvmem_add_group(struct pvmem_ctl *ctl, u32 mb, u32 nr, bool selfmap)
{
	const bool asked = selfmap;
	u32 i;
	int rc;

	pvmem_lock(ctl);
	for (i = mb; i < mb + nr; i++)
		pvmem_set_mb(ctl, i, PVMEM_MB_ADDING);
	pvmem_unlock(ctl);
	rc = ctl->ops->add(ctl->be, mb, nr, &selfmap);
	pvmem_lock(ctl);
	for (i = mb; i < mb + nr; i++) {
		/* Still ADDING unless onlined right away. */
		if (rc)
			pvmem_set_mb(ctl, i, PVMEM_MB_OWED);
		else if (ctl->map->state[i] == PVMEM_MB_ADDING)
			pvmem_set_mb(ctl, i, PVMEM_MB_OFFLINE);
	}
	pvmem_unlock(ctl);
	/* The kernel keeps memory maps in boot memory: batch again. */
	if (!rc && asked && !selfmap)
		ctl->selfmap_off = true;
	if (rc)
		pvmem_report(ctl, PVMEM_EV_ADD_FAILED,
			     pvmem_ctl_mb_addr(ctl, mb),
			     (u64)nr * ctl->lo.mb_size, rc);
	return rc;
}

/*
 * Add the memory blocks [@mb, @mb + @nr) a plug run covered.  Where memory
 * maps may sit inside their memory blocks, each fully plugged block is
 * added on its own with its map inside (Linux 6.1 takes that only one
 * memory block at a time); a partly plugged one keeps its map in boot
 * memory.  Otherwise all go in one addition.  After a failure the blocks
 * not tried yet owe their UNPLUG too.
 */
static int pvmem_add_mbs(struct pvmem_ctl *ctl, u32 mb, u32 nr)
{
	const u32 end = mb + nr;
	bool selfmap;
	u32 i;
	int rc = 0;

	if (!ctl->lo.memmap_sbs || ctl->selfmap_off)
		return pvmem_add_group(ctl, mb, nr, false);
	for (i = mb; i < end && !rc; i++) {
		selfmap = ctl->map->nr_plugged[i] == ctl->lo.sbs_per_mb &&
			  !ctl->selfmap_off;
		rc = pvmem_add_group(ctl, i, 1, selfmap);
	}
	pvmem_lock(ctl);
	for (; i < end; i++) {
		pvmem_set_mb(ctl, i, PVMEM_MB_ADDING);
		pvmem_set_mb(ctl, i, PVMEM_MB_OWED);
	}
	pvmem_unlock(ctl);
	return rc;
}

/*
 * Plug one run, then make it usable: over unused memory blocks (possibly
 * several) add each; inside an added one, release the pages if it is
 * online (an offline one is released by the online page callback later).
 * What could not be added is unplugged again at once.
 */
static enum pvmem_result pvmem_plug_run(struct pvmem_ctl *ctl,
					const struct pvmem_run *run)
{
	struct pvmem_map *map = ctl->map;
	enum pvmem_answer ans;
	enum pvmem_result res;
	bool hole;
	u32 last;

	/* A hole's block is in flight: Linux may not offline it meanwhile. */
	pvmem_lock(ctl);
	hole = map->state[run->mb] != PVMEM_MB_UNUSED;
	if (hole && pvmem_mb_offlining(map, run->mb)) {
		pvmem_unlock(ctl);
		return pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
	}
	if (hole)
		map->inflight = run->mb;
	pvmem_unlock(ctl);
	ans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_PLUG, run);
	pvmem_lock(ctl);
	if (hole)
		map->inflight = PVMEM_NO_MB;
	pvmem_unlock(ctl);
	if (ans != PVMEM_ANS_ACK) {
		/* Maybe plugged after all: never handed to Linux. */
		pvmem_note_unknown(ctl, ans, run->nb);
		return pvmem_answer_result(ctl, ans);
	}

	pvmem_lock(ctl);
	pvmem_map_set(map, run->mb, run->sb, run->nb, true);
	if (map->state[run->mb] != PVMEM_MB_UNUSED) {
		if (pvmem_mb_online(map, run->mb))
			ctl->ops->release(ctl->be, run);
		pvmem_unlock(ctl);
		return PVMEM_RES_DONE;
	}
	pvmem_unlock(ctl);

	last = run->mb + (run->sb + run->nb - 1) / ctl->lo.sbs_per_mb;
	if (!pvmem_add_mbs(ctl, run->mb, last - run->mb + 1))
		return PVMEM_RES_DONE;
	/* The memory never reached Linux: give it straight back. */
	res = pvmem_settle_owed(ctl);
	return res != PVMEM_RES_DONE ? res : pvmem_retry(ctl, PVMEM_WHY_ADD);
}

/* How many more memory blocks may be added before offline_cap is hit. */
static u32 pvmem_new_mb_allowed(const struct pvmem_ctl *ctl)
{
	const u64 cap = READ_ONCE(ctl->knobs.offline_cap) / ctl->lo.mb_size;
	const u64 offline = ctl->map->count[PVMEM_MB_OFFLINE] +
			    ctl->map->count[PVMEM_MB_ADDING];

	if (cap <= offline)
		return 0;
	return cap - offline > (u32)~0U ? (u32)~0U : (u32)(cap - offline);
}

/*
 * No room for another memory map: retry with backoff.  Said once per
 * stall (until a run is plugged again), counted every pass.
 */
static enum pvmem_result pvmem_plug_starved(struct pvmem_ctl *ctl)
{
	if (ctl->why != PVMEM_WHY_MEMMAP)
		pvmem_report(ctl, PVMEM_EV_PLUG_PAUSED, 0, 0, 0);
	pvmem_count(ctl, PVMEM_STAT_PLUG_NOMEM);
	return pvmem_retry(ctl, PVMEM_WHY_MEMMAP);
}

/* Plug @want device blocks, one run at a time. */
static enum pvmem_result pvmem_plug(struct pvmem_ctl *ctl, u64 want)
{
	const u64 usable = pvmem_layout_usable_blocks(&ctl->lo, &ctl->cfg);
	bool found, hotplug, done = false;
	enum pvmem_result res;
	struct pvmem_run run;
	u32 capped, room, new_mb;

	pvmem_ctl_set_state(ctl, PVMEM_DEV_PLUGGING);
	while (want) {
		/*
		 * A new request may lower the target: start over, but only
		 * after one run, so a storm of config interrupts cannot keep
		 * a pass from getting anywhere.
		 */
		if (done &&
		    (ctl->ops->config_changed(ctl->be) || READ_ONCE(ctl->stop)))
			return PVMEM_RES_AGAIN;
		room = ctl->ops->add_room(ctl->be);
		pvmem_lock(ctl);
		capped = pvmem_new_mb_allowed(ctl);
		hotplug = pvmem_may_hotplug(ctl);
		new_mb = capped < room ? capped : room;
		found = pvmem_plan_plug(ctl->map, want, usable,
					hotplug ? new_mb : 0, &run);
		pvmem_unlock(ctl);
		if (!found && !hotplug)
			return pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
		if (!found && !capped)
			return PVMEM_RES_WAIT_ONLINE;
		if (!found && !room)
			return pvmem_plug_starved(ctl);
		if (!found) {
			pvmem_report(ctl, PVMEM_EV_PLUG_OUTSIDE, 0, 0, 0);
			return PVMEM_RES_DONE;
		}
		res = pvmem_plug_run(ctl, &run);
		if (res != PVMEM_RES_DONE)
			return res;
		ctl->why = PVMEM_WHY_NONE; /* a stall for memory maps ended */
		want -= run.nb;
		done = true;
	}
	return PVMEM_RES_DONE;
}

/* A memory block would not give up memory now: skip it this pass. */
static bool pvmem_skipped(const struct pvmem_ctl *ctl, enum pvmem_result res)
{
	return res == PVMEM_RES_RETRY && (ctl->why == PVMEM_WHY_ISOLATE_BUSY ||
					  ctl->why == PVMEM_WHY_ISOLATE_NOMEM ||
					  ctl->why == PVMEM_WHY_OFFLINING);
}

/* Did the attempt end because pages in use would not migrate? */
static bool pvmem_held_back(const struct pvmem_ctl *ctl, enum pvmem_result res)
{
	return res == PVMEM_RES_RETRY && ctl->why == PVMEM_WHY_ISOLATE_BUSY;
}

/* Isolation failed (@nomem: for lack of room): count it, skip the block. */
static enum pvmem_result pvmem_isolate_failed(struct pvmem_ctl *ctl, bool nomem)
{
	pvmem_count(ctl,
		    nomem ? PVMEM_STAT_ISOLATE_NOMEM : PVMEM_STAT_ISOLATE_BUSY);
	return pvmem_retry(ctl, nomem ? PVMEM_WHY_ISOLATE_NOMEM :
					PVMEM_WHY_ISOLATE_BUSY);
}

/*
 * Unplug one run of plugged device blocks: isolate it if its memory block
 * is online, tell the device, then mark it unplugged.  The request goes
 * out without the map lock, so onlining elsewhere need not wait for the
 * device; the memory block itself is marked in flight meanwhile, and the
 * memory notifier refuses to online or offline it.  If the device
 * certainly did nothing, online memory goes back to Linux intact; if the
 * outcome is unknown it stays isolated and is marked unplugged, so Linux
 * never touches it again.  Called and returns with the map lock held.
 */
static enum pvmem_result pvmem_unplug_run(struct pvmem_ctl *ctl,
					  const struct pvmem_run *run)
{
	const bool online = pvmem_mb_online(ctl->map, run->mb);
	enum pvmem_answer ans;
	int rc;

	/* Planned before Linux began to offline it: skipped. */
	if (pvmem_mb_offlining(ctl->map, run->mb))
		return pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
	if (online) {
		rc = ctl->ops->isolate(ctl->be, run);
		/* Pages in use that would not go: held, until they do. */
		if (rc && rc != -ENOMEM)
			pvmem_map_hold(ctl->map, run);
		if (rc)
			return pvmem_isolate_failed(ctl, rc == -ENOMEM);
		/* What was in use moved, perhaps into other plugged blocks. */
		ctl->recount = true;
	}
	ctl->map->inflight = run->mb;
	pvmem_unlock(ctl);
	ans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_UNPLUG, run);
	pvmem_lock(ctl);
	ctl->map->inflight = PVMEM_NO_MB;
	if (pvmem_answer_untouched(ans)) {
		if (online)
			ctl->ops->release(ctl->be, run);
		return pvmem_answer_result(ctl, ans);
	}
	pvmem_note_unknown(ctl, ans, run->nb);
	pvmem_map_set(ctl->map, run->mb, run->sb, run->nb, false);
	return pvmem_answer_result(ctl, ans);
}

/*
 * A run of online memory would not migrate as a whole: try the plugged
 * device blocks of its memory block one at a time, from the run's top
 * down to the block's own memory map, until @want went (the run itself
 * first, unless it was one device block, which was that attempt).
 * Return how many went; @res is DONE if @want did, else how the last
 * failure ended.
 */
static u32 pvmem_unplug_singly(struct pvmem_ctl *ctl,
			       const struct pvmem_run *run, u64 want,
			       enum pvmem_result *res)
{
	const u32 floor = pvmem_mb_pinned(ctl->map, run->mb);
	struct pvmem_run one = { .mb = run->mb, .nb = 1 };
	enum pvmem_result failed = *res, r;
	u32 done = 0, sb = run->sb + run->nb - (run->nb == 1);

	while (sb-- > floor && done < want) {
		if (!pvmem_map_test(ctl->map, run->mb, sb, 1, true))
			continue;
		one.sb = sb;
		r = pvmem_unplug_run(ctl, &one);
		if (r == PVMEM_RES_DONE) {
			done++;
			continue;
		}
		failed = r;
		if (!pvmem_skipped(ctl, r))
			break;
	}
	*res = done < want ? failed : PVMEM_RES_DONE;
	return done;
}

/*
 * Take a memory block marked REMOVING out of Linux.  Offlining it, if it
 * is online, cannot wait on a page in use: the memory notifier lets it
 * go offline only if every page is free or fake-offline, so nothing has
 * to migrate.  Once removed it owes the UNPLUG of whatever is still
 * plugged (sent by pvmem_settle_owed(), batched with its neighbours); if
 * it would not go, the memory layer has put it back in the state Linux
 * has it in.  Called and returns without the map lock.
 */
static int pvmem_remove_marked(struct pvmem_ctl *ctl, u32 mb)
{
	int rc;

	rc = ctl->ops->remove(ctl->be, mb);
	if (!rc) {
		pvmem_lock(ctl);
		pvmem_set_mb(ctl, mb,
			     ctl->map->nr_plugged[mb] ? PVMEM_MB_OWED :
							PVMEM_MB_UNUSED);
		pvmem_unlock(ctl);
	}
	return rc;
}

/*
 * Mark memory block @mb REMOVING and take it out of Linux (see
 * pvmem_remove_marked()).  Called and returns with the map lock held; it
 * is dropped meanwhile.
 */
static int pvmem_remove_locked(struct pvmem_ctl *ctl, u32 mb)
{
	int rc;

	pvmem_set_mb(ctl, mb, PVMEM_MB_REMOVING);
	pvmem_unlock(ctl);
	rc = pvmem_remove_marked(ctl, mb);
	pvmem_lock(ctl);
	return rc;
}

/* Take added memory blocks with nothing plugged out of Linux. */
static enum pvmem_result pvmem_remove_empty(struct pvmem_ctl *ctl)
{
	bool found, hotplug, failed = false;
	u32 mb;

	if (ctl->keep_blocks)
		return PVMEM_RES_DONE;
	for (;;) {
		/* Marked under the same lock it was chosen under. */
		pvmem_lock(ctl);
		found = pvmem_plan_remove(ctl->map, &mb);
		hotplug = pvmem_may_hotplug(ctl);
		if (found && hotplug)
			pvmem_set_mb(ctl, mb, PVMEM_MB_REMOVING);
		pvmem_unlock(ctl);
		if (found && !hotplug)
			return pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
		if (!found)
			break;
		if (pvmem_remove_marked(ctl, mb)) {
			pvmem_count(ctl, PVMEM_STAT_REMOVE_FAILED);
			failed = true;
			pvmem_lock(ctl);
			pvmem_map_set_busy(ctl->map, mb);
			pvmem_unlock(ctl);
		}
	}
	return failed ? pvmem_retry(ctl, PVMEM_WHY_REMOVE) : PVMEM_RES_DONE;
}

/*
 * May the run go by removing its memory block first, with no migration?
 * It must be all that is plugged there, and the block offline, or online
 * and (by a racy look) holding no page in use.  The memory notifier makes
 * the final call when the block is about to go offline.  Map lock held.
 */
static bool pvmem_unplug_by_removal(struct pvmem_ctl *ctl,
				    const struct pvmem_run *run)
{
	const struct pvmem_map *map = ctl->map;

	if (ctl->keep_blocks || run->nb != map->nr_plugged[run->mb])
		return false;
	return map->state[run->mb] == PVMEM_MB_OFFLINE ||
	       (pvmem_mb_online(map, run->mb) && pvmem_mb_idle(ctl, run->mb));
}

/* Is device block @sb of @mb plugged and, for @busy, in use?  Locked. */
static bool pvmem_sb_busy(struct pvmem_ctl *ctl, u32 mb, u32 sb, bool busy)
{
	return pvmem_map_test(ctl->map, mb, sb, 1, true) &&
	       !!pvmem_in_use(ctl, mb, sb, 1) == busy;
}

/*
 * The next run of plugged device blocks of @mb in use (@busy) or free
 * (!@busy) and not held, below device block @top, down to @floor: true
 * and @run set if there is one.  Map lock held.
 */
static bool pvmem_next_kind(struct pvmem_ctl *ctl, u32 mb, u32 top, u32 floor,
			    bool busy, struct pvmem_run *run)
{
	const u64 first = (u64)mb * ctl->map->sbs_per_mb;
	u32 sb = top;

	while (sb > floor && (!pvmem_sb_busy(ctl, mb, sb - 1, busy) ||
			      test_bit(first + sb - 1, ctl->map->held)))
		sb--;
	if (sb == floor)
		return false;
	*run = (struct pvmem_run){ .mb = mb, .sb = sb - 1, .nb = 1 };
	while (run->sb > floor && run->nb < PVMEM_MAX_REQ_BLOCKS &&
	       pvmem_sb_busy(ctl, mb, run->sb - 1, busy) &&
	       !test_bit(first + run->sb - 1, ctl->map->held)) {
		run->sb--;
		run->nb++;
	}
	return true;
}

/*
 * May memory block @run->mb, all of which goes (@run is everything plugged
 * there) but which holds pages in use, be emptied instead: only what is in
 * use through the range allocator, then the rest, all free, by removal?
 * Only its few runs of device blocks in use (PVMEM_EMPTY_RUNS at most),
 * or in big-block mode its few pageblocks in use (PVMEM_EMPTY_PIECES at
 * most; the memory layer counts them, the pass cannot).  Not if some of it was held at an
 * earlier attempt: that is likely still there, and the removal would
 * fail.  Map lock held.
 */
static bool pvmem_unplug_may_empty(struct pvmem_ctl *ctl,
				   const struct pvmem_run *run)
{
	const struct pvmem_map *map = ctl->map;
	const u32 floor = pvmem_mb_pinned(map, run->mb);
	struct pvmem_run busy = { .sb = map->sbs_per_mb };
	u32 runs = 0;

	if (ctl->keep_blocks || !pvmem_may_hotplug(ctl) ||
	    run->nb != map->nr_plugged[run->mb] ||
	    !pvmem_mb_online(map, run->mb) || pvmem_mb_held(map, run->mb))
		return false;
	/* take_used() counts its pageblocks in use: pages say too little. */
	if (map->bbm)
		return true;
	while (runs <= PVMEM_EMPTY_RUNS &&
	       pvmem_next_kind(ctl, run->mb, busy.sb, floor, true, &busy))
		runs++;
	return runs && runs <= PVMEM_EMPTY_RUNS;
}

/*
 * Unplug the runs of @mb of one kind (see pvmem_next_kind()), from the
 * top, each through the range allocator with its own UNPLUG.  A run in
 * use that will not migrate is tried device block by device block; what
 * will not go stays held.  Return how many device blocks went; @res is
 * DONE, or RETRY (ISOLATE_BUSY) if something stays held, or how the
 * last attempt failed otherwise.  Map lock held.
 */
static u32 pvmem_unplug_kind(struct pvmem_ctl *ctl, u32 mb, bool busy,
			     enum pvmem_result *res)
{
	const u32 floor = pvmem_mb_pinned(ctl->map, mb);
	struct pvmem_run run = { .sb = ctl->map->sbs_per_mb }, one;
	bool held = false;
	u32 done = 0;

	while (pvmem_next_kind(ctl, mb, run.sb, floor, busy, &run)) {
		*res = pvmem_unplug_run(ctl, &run);
		if (*res == PVMEM_RES_DONE) {
			done += run.nb;
			continue;
		}
		if (!pvmem_held_back(ctl, *res))
			return done;
		held = true;
		for (one = run, one.nb = 1;
		     run.nb > 1 && one.sb < run.sb + run.nb; one.sb++) {
			*res = pvmem_unplug_run(ctl, &one);
			if (*res == PVMEM_RES_DONE)
				done++;
			else if (!pvmem_held_back(ctl, *res))
				return done;
		}
	}
	*res = held ? pvmem_retry(ctl, PVMEM_WHY_ISOLATE_BUSY) : PVMEM_RES_DONE;
	return done;
}

/*
 * Empty memory block @mb (see pvmem_unplug_may_empty()): its runs in use
 * go first, so only they are migrated and zeroed (Debian's kernels zero
 * what the range allocator takes: init_on_alloc); then the free rest goes
 * by removal, untouched, and is owed.  If something in use would not go,
 * the free runs around it go through the range allocator instead.  What
 * migrated may have landed in the free rest (the range allocator keeps
 * only its own range from the targets), and the removal then finds it.
 * Chasing it could go on for ever, so after a failed removal the runs
 * still free go through the range allocator first (nothing can land in
 * them any more), then the runs in use again.  At most PVMEM_EMPTY_ROUNDS
 * rounds, then the block waits for the next attempt.  Return how many
 * device blocks went; @res says how it ended.  Called and returns with the
 * map lock held.
 */
static u32 pvmem_unplug_emptied(struct pvmem_ctl *ctl, u32 mb,
				enum pvmem_result *res)
{
	u32 done = 0, rest, round;

	for (round = 0; round < PVMEM_EMPTY_ROUNDS; round++) {
		if (round) {
			done += pvmem_unplug_kind(ctl, mb, false, res);
			if (*res != PVMEM_RES_DONE)
				return done;
		}
		done += pvmem_unplug_kind(ctl, mb, true, res);
		if (pvmem_held_back(ctl, *res)) {
			done += pvmem_unplug_kind(ctl, mb, false, res);
			/* What is held is still there. */
			*res = pvmem_retry(ctl, PVMEM_WHY_ISOLATE_BUSY);
			return done;
		}
		rest = ctl->map->nr_plugged[mb];
		if (*res != PVMEM_RES_DONE || !rest)
			return done;
		if (!pvmem_may_hotplug(ctl)) {
			*res = pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
			return done;
		}
		if (!pvmem_remove_locked(ctl, mb)) {
			pvmem_count(ctl, PVMEM_STAT_EMPTIED);
			return done + rest;
		}
	}
	*res = pvmem_retry(ctl, PVMEM_WHY_ISOLATE_BUSY);
	return done;
}

/*
 * Empty big block @mb (see pvmem_unplug_may_empty()): the memory layer
 * takes the pageblocks that hold pages in use through the range
 * allocator, so only they are migrated and zeroed, and removal takes the
 * rest untouched; the block then owes its UNPLUG.  What migrated may have
 * landed in the free rest, and the removal then finds it: the next round
 * takes that too, up to PVMEM_EMPTY_ROUNDS.  If the block would not go,
 * what was taken goes back to Linux.  Return whether it went; @res is
 * DONE, unless the pass must retry.  Called and returns with the map lock
 * held.
 */
static bool pvmem_unplug_pieces(struct pvmem_ctl *ctl, u32 mb,
				enum pvmem_result *res)
{
	u32 round;

	*res = PVMEM_RES_DONE;
	for (round = 0; round < PVMEM_EMPTY_ROUNDS; round++) {
		if (ctl->ops->take_used(ctl->be, mb))
			break;
		/* What was in use moved, perhaps into other plugged blocks. */
		ctl->recount = true;
		if (!pvmem_may_hotplug(ctl)) {
			*res = pvmem_retry(ctl, PVMEM_WHY_OFFLINING);
			break;
		}
		if (!pvmem_remove_locked(ctl, mb)) {
			pvmem_count(ctl, PVMEM_STAT_EMPTIED);
			return true;
		}
	}
	ctl->ops->put_taken(ctl->be, mb);
	return false;
}

/* May the teardown empty one more memory block in use?  Uses the budget. */
static bool pvmem_teardown_migrates(struct pvmem_ctl *ctl)
{
	if (!ctl->migrate_budget)
		return false;
	ctl->migrate_budget--;
	return true;
}

/*
 * Unplug the run the planner chose.  If it is all a memory block holds
 * and nothing there is in use, the block is removed first and unplugged
 * after: no migration, no zeroing, and its UNPLUG joins its neighbours'.
 * If it is all the block holds but a few runs there are in use, only
 * those go through the range allocator, and the rest by removal
 * (pvmem_unplug_emptied()); in big-block mode a few pageblocks in use
 * (pvmem_unplug_pieces()), and if that fails, the whole block.
 * Otherwise online memory goes through the range allocator, as a whole
 * run or, if that will not migrate, one device block at a time, and its
 * memory block is removed once nothing in it is plugged.  Return how many
 * device blocks went; @res says how the last attempt ended.
 */
static u32 pvmem_unplug_one(struct pvmem_ctl *ctl, const struct pvmem_run *run,
			    u64 want, enum pvmem_result *res)
{
	struct pvmem_run above;
	u32 done, pinned;

	pvmem_lock(ctl);
	if (pvmem_may_hotplug(ctl) && pvmem_unplug_by_removal(ctl, run)) {
		if (!pvmem_remove_locked(ctl, run->mb)) {
			pvmem_unlock(ctl);
			*res = PVMEM_RES_DONE;
			return run->nb;
		}
		/* Something is in use after all: empty it first. */
	}
	if (pvmem_unplug_may_empty(ctl, run)) {
		if (!ctl->map->bbm) {
			done = pvmem_unplug_emptied(ctl, run->mb, res);
			goto out;
		}
		if (pvmem_unplug_pieces(ctl, run->mb, res)) {
			pvmem_unlock(ctl);
			return run->nb;
		}
		if (*res != PVMEM_RES_DONE) {
			done = 0;
			goto out;
		}
	}
	/* Teardown empties only a few blocks in use: migration takes long. */
	if (ctl->keep_blocks && pvmem_mb_online(ctl->map, run->mb) &&
	    !pvmem_mb_idle(ctl, run->mb) && !pvmem_teardown_migrates(ctl)) {
		pvmem_map_set_busy(ctl->map, run->mb);
		pvmem_unlock(ctl);
		*res = pvmem_retry(ctl, PVMEM_WHY_ISOLATE_BUSY);
		return 0;
	}
	/* A memory map inside the block goes only with the whole block. */
	pinned = pvmem_mb_pinned(ctl->map, run->mb);
	if (run->sb < pinned) {
		if (run->sb + run->nb <= pinned) {
			pvmem_map_set_busy(ctl->map, run->mb);
			pvmem_unlock(ctl);
			*res = pvmem_retry(ctl, PVMEM_WHY_ISOLATE_BUSY);
			return 0;
		}
		above = (struct pvmem_run){ .mb = run->mb,
					    .sb = pinned,
					    .nb = run->sb + run->nb - pinned };
		run = &above;
	}
	*res = pvmem_unplug_run(ctl, run);
	done = *res == PVMEM_RES_DONE ? run->nb : 0;
	/* Device blocks one by one, unless the block goes whole or not. */
	if (*res == PVMEM_RES_RETRY && ctl->why == PVMEM_WHY_ISOLATE_BUSY &&
	    !ctl->lo.bbm)
		done = pvmem_unplug_singly(ctl, run, want, res);
out:
	if (done < want && pvmem_skipped(ctl, *res))
		pvmem_map_set_busy(ctl->map, run->mb);
	pvmem_unlock(ctl);
	return done;
}

/*
 * Unplug @want device blocks, policy in pvmem_plan_unplug().  Memory
 * blocks that fail are skipped for the rest of the pass; if nothing is
 * left to try, the pass ends in a retry with backoff.
 */
static enum pvmem_result pvmem_unplug(struct pvmem_ctl *ctl, u64 want,
				      bool online)
{
	enum pvmem_result res = PVMEM_RES_DONE, owed;
	bool found, tried = false;
	struct pvmem_run run;
	u32 done;

	pvmem_ctl_set_state(ctl, PVMEM_DEV_UNPLUGGING);
	ctl->recount = true;
	while (want) {
		/* A new request may have raised the target: as for plugging. */
		if (tried && (ctl->ops->config_changed(ctl->be) ||
			      READ_ONCE(ctl->stop))) {
			res = PVMEM_RES_AGAIN;
			break;
		}
		pvmem_lock(ctl);
		if (ctl->recount)
			pvmem_count_in_use(ctl);
		found = pvmem_plan_unplug(ctl->map, want, online, &run);
		pvmem_unlock(ctl);
		if (!found) {
			res = pvmem_retry(ctl, PVMEM_WHY_STUCK);
			break;
		}
		done = pvmem_unplug_one(ctl, &run, want, &res);
		tried = true;
		if (res != PVMEM_RES_DONE && !pvmem_skipped(ctl, res))
			break;
		res = PVMEM_RES_DONE;
		/* A memory map's block may take more than wanted. */
		want -= done < want ? done : want;
		/* Let the host have memory back as we go, in batches. */
		if (ctl->map->count[PVMEM_MB_OWED] >= PVMEM_OWED_BATCH) {
			res = pvmem_settle_owed(ctl);
			if (res != PVMEM_RES_DONE)
				break;
		}
		if (ctl->map->state[run.mb] != PVMEM_MB_OWED &&
		    !ctl->map->nr_plugged[run.mb]) {
			res = pvmem_remove_empty(ctl);
			if (res != PVMEM_RES_DONE)
				break;
		}
	}
	if (res == PVMEM_RES_BROKEN)
		return res;
	owed = pvmem_settle_owed(ctl);
	return res != PVMEM_RES_DONE ? res : owed;
}

/*
 * Empty memory block @mb: unplug its runs the way unplugging does (by
 * removal if nothing in it is in use, else through the range allocator),
 * then take it out of Linux.  Stops at the first run that will not go.
 */
static enum pvmem_result pvmem_tidy_block(struct pvmem_ctl *ctl, u32 mb)
{
	enum pvmem_result res = PVMEM_RES_DONE;
	struct pvmem_run run;
	u32 left;

	pvmem_ctl_set_state(ctl, PVMEM_DEV_UNPLUGGING);
	for (;;) {
		pvmem_lock(ctl);
		left = ctl->map->state[mb] == PVMEM_MB_OWED ?
			       0 :
			       ctl->map->nr_plugged[mb];
		if (left)
			pvmem_plan_unplug_in(ctl->map, mb, left, &run);
		pvmem_unlock(ctl);
		if (!left)
			break;
		if (!pvmem_unplug_one(ctl, &run, left, &res))
			break;
		if (res != PVMEM_RES_DONE)
			break;
	}
	if (res == PVMEM_RES_BROKEN)
		return res;
	if (!ctl->map->nr_plugged[mb] && ctl->map->state[mb] != PVMEM_MB_OWED)
		pvmem_remove_empty(ctl);
	res = pvmem_settle_owed(ctl);
	return res != PVMEM_RES_DONE ? res : PVMEM_RES_AGAIN;
}

/*
 * At rest: every tidy_ms, empty one sparsely plugged memory block whose
 * memory the other blocks' holes can take (pvmem_plan_tidy()), so its
 * memory map goes; the next pass plugs what it held back into those
 * holes.  Sets ctl->tidy_wait for pvmem_ctl_settle().
 */
static enum pvmem_result pvmem_tidy(struct pvmem_ctl *ctl)
{
	const unsigned int every = READ_ONCE(ctl->knobs.tidy_ms);
	bool found;
	u64 now;
	u32 mb;

	ctl->tidy_wait = PVMEM_NO_PASS;
	/* Not while the device goes away: passes end after the run in hand. */
	if (!every || READ_ONCE(ctl->stop) ||
	    !READ_ONCE(ctl->knobs.unplug_online))
		return PVMEM_RES_DONE;
	pvmem_lock(ctl);
	found = pvmem_plan_tidy(ctl->map, &mb);
	pvmem_unlock(ctl);
	if (!found)
		return PVMEM_RES_DONE;
	now = ctl->ops->now_ms(ctl->be);
	if (now < ctl->tidy_at) {
		ctl->tidy_wait =
			ctl->tidy_at - now < every ? ctl->tidy_at - now : every;
		return PVMEM_RES_DONE;
	}
	ctl->tidy_at = now + every;
	pvmem_count(ctl, PVMEM_STAT_TIDIED);
	return pvmem_tidy_block(ctl, mb);
}

/* Clear what the device still had plugged when we bound to it. */
static enum pvmem_result pvmem_unplug_leftovers(struct pvmem_ctl *ctl)
{
	enum pvmem_answer ans;

	ans = ctl->ops->send(ctl->be, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0);
	if (ans != PVMEM_ANS_ACK)
		return pvmem_answer_result(ctl, ans);
	pvmem_ctl_set_state(ctl, PVMEM_DEV_IDLE);
	pvmem_report(ctl, PVMEM_EV_LEFTOVERS_CLEARED, 0, 0, 0);
	return PVMEM_RES_DONE;
}

/* Unplug device blocks pvmem does not count as plugged: none is in Linux. */
static enum pvmem_result pvmem_adopt_unplug(struct pvmem_ctl *ctl,
					    const struct pvmem_run *run,
					    u64 *freed)
{
	enum pvmem_answer ans;

	ans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_UNPLUG, run);
	if (ans != PVMEM_ANS_ACK)
		return pvmem_answer_result(ctl, ans);
	*freed += run->nb;
	return PVMEM_RES_DONE;
}

/* Memory Linux holds is not plugged at the device: nothing can repair that. */
static enum pvmem_result pvmem_adopt_lost(struct pvmem_ctl *ctl,
					  const struct pvmem_run *run)
{
	pvmem_report(ctl, PVMEM_EV_ADOPT_LOST,
		     pvmem_layout_run_addr(&ctl->lo, run),
		     (u64)run->nb * ctl->lo.block_size, 0);
	return pvmem_broken(ctl, "the device lost memory Linux holds");
}

/*
 * Check one run the map has all plugged or all unplugged against the
 * device.  Plugged: the device must agree, or memory Linux holds is gone,
 * which nothing can repair.  Unplugged: whatever the device still has
 * there (a request whose answer was lost, the rest of a removed block) is
 * not in Linux and is unplugged now, device block by device block if the
 * run is mixed.
 */
static enum pvmem_result pvmem_adopt_run(struct pvmem_ctl *ctl,
					 const struct pvmem_run *run,
					 bool plugged, u64 *freed)
{
	struct pvmem_run one = { .mb = run->mb, .nb = 1 };
	enum pvmem_result res = PVMEM_RES_DONE;
	enum pvmem_answer ans;
	u16 state;
	u32 i;

	ans = pvmem_query_run(ctl, run, &state);
	if (ans != PVMEM_ANS_ACK)
		return pvmem_answer_result(ctl, ans);
	if (plugged && state != VIRTIO_MEM_STATE_PLUGGED)
		return pvmem_adopt_lost(ctl, run);
	if (plugged || state == VIRTIO_MEM_STATE_UNPLUGGED)
		return PVMEM_RES_DONE;
	if (state == VIRTIO_MEM_STATE_PLUGGED)
		return pvmem_adopt_unplug(ctl, run, freed);
	for (i = 0; i < run->nb && res == PVMEM_RES_DONE; i++) {
		one.sb = run->sb + i;
		ans = pvmem_query_run(ctl, &one, &state);
		if (ans != PVMEM_ANS_ACK)
			return pvmem_answer_result(ctl, ans);
		if (state != VIRTIO_MEM_STATE_UNPLUGGED)
			res = pvmem_adopt_unplug(ctl, &one, freed);
	}
	return res;
}

/*
 * The longest run from device block @sb of memory block @mb in one plug
 * state (*@plugged), ending at the memory block or at @usable, counted
 * from the first memory block.  Map lock held.
 */
static u32 pvmem_adopt_next(const struct pvmem_ctl *ctl, u32 mb, u32 sb,
			    u64 usable, bool *plugged)
{
	const struct pvmem_map *map = ctl->map;
	const u64 first = (u64)mb * map->sbs_per_mb;
	u32 end;

	*plugged = pvmem_map_test(map, mb, sb, 1, true);
	end = sb + 1;
	while (end < map->sbs_per_mb && first + end < usable &&
	       pvmem_map_test(map, mb, end, 1, true) == *plugged)
		end++;
	return end - sb;
}

/*
 * Bound again over memory an earlier binding left in Linux: its map is
 * still right about what Linux holds, but not necessarily about what
 * the device has (answers lost at unbind, memory forgotten since).  Ask
 * the device (STATE) about every run before any other request: memory
 * Linux holds must be plugged, and anything else plugged is unplugged.
 * Beyond the usable region nothing is plugged.
 */
static enum pvmem_result pvmem_adopt(struct pvmem_ctl *ctl)
{
	const struct pvmem_map *map = ctl->map;
	const u64 usable = pvmem_layout_usable_blocks(&ctl->lo, &ctl->boot_cfg);
	const u64 bs = ctl->lo.block_size;
	struct pvmem_run run;
	enum pvmem_result res;
	u64 freed = 0;
	bool plugged;

	for (run.mb = 0; run.mb < map->nb_mb; run.mb++) {
		for (run.sb = 0; run.sb < map->sbs_per_mb; run.sb += run.nb) {
			pvmem_lock(ctl);
			run.nb = pvmem_adopt_next(ctl, run.mb, run.sb, usable,
						  &plugged);
			pvmem_unlock(ctl);
			if ((u64)run.mb * map->sbs_per_mb + run.sb < usable)
				res = pvmem_adopt_run(ctl, &run, plugged,
						      &freed);
			else
				res = plugged ? pvmem_adopt_lost(ctl, &run) :
						PVMEM_RES_DONE;
			if (res != PVMEM_RES_DONE)
				return res;
		}
	}
	pvmem_ctl_set_state(ctl, PVMEM_DEV_IDLE);
	pvmem_report(ctl, PVMEM_EV_ADOPTED, map->total_plugged * bs, freed * bs,
		     0);
	return PVMEM_RES_DONE;
}

/*
 * Read and check the config; only a valid one is taken.  Each read is
 * one generation-consistent snapshot, but a device may still show a
 * contradiction between two of its own updates (requested_size raised
 * before usable_region_size): that is read again, then retried with
 * backoff, and only marks the device broken if it lasts for
 * PVMEM_CFG_BAD_PASSES passes.  A changed immutable field, or a
 * plugged_size that disagrees with pvmem's, is not transient.
 */
static enum pvmem_result pvmem_update_config(struct pvmem_ctl *ctl)
{
	const u64 plugged = ctl->map->total_plugged * ctl->lo.block_size;
	enum pvmem_cfg_err err;
	struct pvmem_cfg cfg;
	int reads;

	for (reads = 0; reads < PVMEM_CFG_READS; reads++) {
		ctl->ops->read_config(ctl->be, &cfg);
		err = pvmem_cfg_check_update(&ctl->boot_cfg, &cfg, &ctl->lim);
		if (!pvmem_cfg_err_mutable(err) && cfg.plugged_size == plugged)
			break;
	}
	if (err && (!pvmem_cfg_err_mutable(err) ||
		    ++ctl->cfg_bad >= PVMEM_CFG_BAD_PASSES)) {
		pvmem_report(ctl, PVMEM_EV_CONFIG_REJECTED, err, 0, 0);
		return pvmem_broken(ctl, pvmem_cfg_errstr(err));
	}
	if (err)
		return pvmem_retry(ctl, PVMEM_WHY_CONFIG);
	ctl->cfg_bad = 0;
	if (cfg.plugged_size != plugged) {
		pvmem_report(ctl, PVMEM_EV_PLUGGED_MISMATCH, cfg.plugged_size,
			     plugged, 0);
		return pvmem_broken(ctl, "plugged_size disagrees with pvmem");
	}
	if (cfg.requested_size != ctl->cfg.requested_size)
		pvmem_report(ctl, PVMEM_EV_RESIZE, cfg.plugged_size,
			     cfg.requested_size, 0);
	WRITE_ONCE(ctl->cfg.usable_region_size, cfg.usable_region_size);
	WRITE_ONCE(ctl->cfg.plugged_size, cfg.plugged_size);
	WRITE_ONCE(ctl->cfg.requested_size, cfg.requested_size);
	return PVMEM_RES_DONE;
}

/*
 * What the pass aims at: the requested size, or in big-block mode the
 * nearest whole number of big blocks to @plugged bytes (a request that
 * cuts a big block leaves it as it is: plugged if it is, unplugged if
 * not).
 */
static u64 pvmem_ctl_target(const struct pvmem_ctl *ctl, u64 plugged)
{
	const u64 req = ctl->cfg.requested_size;
	const u64 mb_size = ctl->lo.mb_size;

	if (!ctl->lo.bbm || req % mb_size == 0)
		return req;
	if (req > plugged)
		return req - req % mb_size;
	return req - req % mb_size + mb_size;
}

/**
 * pvmem_ctl_pass - one pass of the worker
 * @ctl: the device
 *
 * Brings plugged_size towards requested_size: UNPLUG_ALL of leftovers
 * (or the STATE checks of adopted memory) first, then the config, UNPLUGs
 * still owed, plugging or unplugging, and removal of empty memory blocks.
 *
 * Context: the worker (or teardown, with the worker stopped); may sleep.
 * Return: how the pass ended.
 */
enum pvmem_result pvmem_ctl_pass(struct pvmem_ctl *ctl)
{
	const u64 bs = ctl->lo.block_size;
	enum pvmem_result res;
	u64 plugged, req;

	ctl->tidy_wait = PVMEM_NO_PASS;
	if (ctl->state == PVMEM_DEV_BROKEN)
		return PVMEM_RES_BROKEN;
	if (ctl->state == PVMEM_DEV_LEFTOVERS) {
		res = pvmem_unplug_leftovers(ctl);
		if (res != PVMEM_RES_DONE)
			return res;
	}
	if (ctl->state == PVMEM_DEV_ADOPTING) {
		res = pvmem_adopt(ctl);
		if (res != PVMEM_RES_DONE)
			return res;
	}
	res = pvmem_update_config(ctl);
	if (res != PVMEM_RES_DONE)
		return res;

	/* Kicks from here on are for what this pass may not see. */
	WRITE_ONCE(ctl->kicked, false);
	/* The clear before the pass reads the map. */
	smp_mb();
	/* Every pass may try every memory block again. */
	pvmem_lock(ctl);
	pvmem_map_clear_busy(ctl->map);
	pvmem_unlock(ctl);
	/* UNPLUGs owed from an earlier pass come first. */
	res = pvmem_settle_owed(ctl);
	if (res != PVMEM_RES_DONE)
		return res;

	plugged = ctl->map->total_plugged * bs;
	req = pvmem_ctl_target(ctl, plugged);
	/* The host wants memory: what would not unplug is no longer asked. */
	if (req > plugged) {
		pvmem_lock(ctl);
		pvmem_map_clear_held(ctl->map);
		pvmem_unlock(ctl);
	}
	if (req > plugged)
		res = pvmem_plug(ctl, (req - plugged) / bs);
	else if (req < plugged)
		res = pvmem_unplug(ctl, (plugged - req) / bs,
				   READ_ONCE(ctl->knobs.unplug_online));
	if (res != PVMEM_RES_DONE)
		return res;
	/* A block's own memory map took more than asked: plug it back. */
	if (req < plugged && ctl->map->total_plugged * bs < req)
		return PVMEM_RES_AGAIN;
	/* Empty memory blocks whose removal failed before: again. */
	res = pvmem_remove_empty(ctl);
	if (res != PVMEM_RES_DONE || ctl->map->total_plugged * bs != req)
		return res;
	return pvmem_tidy(ctl);
}

/**
 * pvmem_ctl_settle - what a pass's result means for the worker
 * @ctl: the device
 * @res: the result of pvmem_ctl_pass()
 *
 * Sets the state and the backoff: done or waiting for onlining rests
 * until a config interrupt or a kick; a retry waits the backoff, which
 * doubles up to retry_max_ms; a config change runs again at once.
 *
 * Return: milliseconds until the next pass, or PVMEM_NO_PASS.
 */
unsigned int pvmem_ctl_settle(struct pvmem_ctl *ctl, enum pvmem_result res)
{
	const unsigned int lo = READ_ONCE(ctl->knobs.retry_min_ms);
	const unsigned int hi = READ_ONCE(ctl->knobs.retry_max_ms);
	unsigned int delay;

	switch (res) {
	case PVMEM_RES_DONE:
	case PVMEM_RES_WAIT_ONLINE:
		WRITE_ONCE(ctl->retry_ms, lo);
		ctl->why = PVMEM_WHY_NONE;
		/* Waiting for onlining: the memory notifier kicks us. */
		pvmem_ctl_set_state(ctl, res == PVMEM_RES_DONE ?
						 PVMEM_DEV_IDLE :
						 PVMEM_DEV_WAIT_ONLINE);
		/*
		 * A block onlined after the pass looked at offline_cap kicked
		 * while we were still plugging: it is not lost.  Pairs with
		 * the barrier in pvmem_ctl_kick().
		 */
		smp_mb();
		if (res == PVMEM_RES_WAIT_ONLINE && READ_ONCE(ctl->kicked))
			return 0;
		if (ctl->ops->config_changed(ctl->be))
			return 0;
		/* At rest with a sparse memory block: tidy it later. */
		return res == PVMEM_RES_DONE ? ctl->tidy_wait : PVMEM_NO_PASS;
	case PVMEM_RES_AGAIN:
		return 0;
	case PVMEM_RES_RETRY:
		/* A NACK is stale once the request changed: look again now. */
		if (ctl->why == PVMEM_WHY_NACK &&
		    ctl->ops->config_changed(ctl->be))
			return 0;
		/* Leftovers and adoption stay first in line until done. */
		if (ctl->state != PVMEM_DEV_LEFTOVERS &&
		    ctl->state != PVMEM_DEV_ADOPTING)
			pvmem_ctl_set_state(ctl, PVMEM_DEV_RETRY);
		delay = ctl->retry_ms < lo ? lo :
			ctl->retry_ms > hi ? hi :
					     ctl->retry_ms;
		pvmem_count(ctl, PVMEM_STAT_RETRIES);
		WRITE_ONCE(ctl->retry_ms, delay > hi / 2 ? hi : delay * 2);
		return delay;
	default:
		return PVMEM_NO_PASS; /* broken: for good */
	}
}

/**
 * pvmem_ctl_kick - should a waiting worker run now?
 * @ctl: the device
 *
 * For the memory notifier (memory got onlined), a raised offline_cap and
 * the retry_now knob: a worker waiting for onlining or for its backoff
 * runs at once, with the backoff reset.
 *
 * Context: any; does not sleep.
 * Return: true if the worker should be queued now.
 */
bool pvmem_ctl_kick(struct pvmem_ctl *ctl)
{
	enum pvmem_dev_state state;

	/* Seen by pvmem_ctl_settle() if the pass is still running. */
	WRITE_ONCE(ctl->kicked, true);
	/* Pairs with the barrier in pvmem_ctl_settle() after it sets state. */
	smp_mb();
	state = READ_ONCE(ctl->state);
	if (state != PVMEM_DEV_WAIT_ONLINE && state != PVMEM_DEV_RETRY &&
	    state != PVMEM_DEV_LEFTOVERS && state != PVMEM_DEV_ADOPTING)
		return false;
	WRITE_ONCE(ctl->retry_ms, READ_ONCE(ctl->knobs.retry_min_ms));
	return true;
}

/**
 * pvmem_ctl_stop - make a running pass end soon, or let passes run again
 * @ctl: the device, going away or going to sleep
 * @stop: true to stop, false to go on
 *
 * A plug or unplug pass ends after the run it is on, so the worker can be
 * cancelled (or frozen for suspend) without waiting for a whole resize;
 * pvmem_ctl_teardown() then does its own pass.
 *
 * Context: any.
 */
void pvmem_ctl_stop(struct pvmem_ctl *ctl, bool stop)
{
	WRITE_ONCE(ctl->stop, stop);
}

/**
 * pvmem_ctl_teardown - give the device back all it can have before unbind
 * @ctl: the device; the worker is stopped and not running
 *
 * For remove(), which may run under the hotplug locks (ACPI hot-unplug
 * of the PCI function) and should not take long: what holds no data goes
 * back (offline memory, owed memory, and online memory whose plugged
 * pages are all free, taken with the range allocator), and so does the
 * memory of at most PVMEM_TEARDOWN_MIGRATE memory blocks in use, emptied
 * the way a pass empties them (bounded migration).  No memory block is
 * removed, since that takes those locks.  Other memory holding data
 * stays plugged and in use, for a later binding to adopt: migrating all
 * of it could take as long as the data is large.  Memory blocks left
 * with nothing plugged are for pvmem_ctl_reap() once the device is gone.
 * If then nothing is plugged and the device answered every request,
 * UNPLUG_ALL clears whatever an earlier binding left plugged.
 *
 * Context: process, may sleep.
 * Return: true if the device acknowledged that UNPLUG_ALL: it has nothing
 * plugged.
 */
bool pvmem_ctl_teardown(struct pvmem_ctl *ctl)
{
	struct pvmem_map *map = ctl->map;

	if (ctl->state == PVMEM_DEV_BROKEN)
		return false;
	/* The worker is stopped: this pass is the last, and runs to its end. */
	WRITE_ONCE(ctl->stop, false);
	ctl->keep_blocks = true;
	ctl->migrate_budget = PVMEM_TEARDOWN_MIGRATE;
	pvmem_lock(ctl);
	pvmem_map_clear_busy(map);
	pvmem_unlock(ctl);
	if (map->total_plugged || map->count[PVMEM_MB_OWED])
		pvmem_unplug(ctl, map->total_plugged, true);
	ctl->keep_blocks = false;
	if (map->total_plugged || ctl->state == PVMEM_DEV_BROKEN)
		return false;
	if (ctl->ops->send(ctl->be, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0) ==
	    PVMEM_ANS_ACK)
		return true;
	pvmem_report(ctl, PVMEM_EV_UNPLUG_ALL_FAILED, 0, 0, 0);
	return false;
}

/**
 * pvmem_ctl_reap - once the device is gone, take empty memory out of Linux
 * @ctl: the device, unbound with memory left in Linux
 * @again: set if an empty memory block would not go yet (call again later)
 *
 * Owed memory blocks are out of Linux already and are forgotten: the
 * device still has them plugged, and a later binding's STATE checks
 * unplug them.  Memory blocks with nothing plugged are removed.  Memory
 * blocks with plugged memory stay, in use, for a later binding to adopt.
 *
 * Context: the worker, after remove(); may sleep and take hotplug locks.
 * Return: how many memory blocks Linux still holds.
 */
u32 pvmem_ctl_reap(struct pvmem_ctl *ctl, bool *again)
{
	struct pvmem_map *map = ctl->map;
	u32 mb;

	pvmem_lock(ctl);
	for (mb = 0; mb < map->nb_mb; mb++) {
		if (map->state[mb] != PVMEM_MB_OWED)
			continue;
		pvmem_map_set(map, mb, 0, map->sbs_per_mb, false);
		pvmem_set_mb(ctl, mb, PVMEM_MB_UNUSED);
	}
	pvmem_map_clear_busy(map);
	pvmem_unlock(ctl);
	*again = pvmem_remove_empty(ctl) != PVMEM_RES_DONE;
	return pvmem_ctl_in_linux(ctl);
}

/**
 * pvmem_ctl_rebind - a new binding takes over memory a detached one left
 * @ctl: the device; the worker is not running
 * @cfg: the new binding's config, checked against the old one's
 *	immutable fields
 *
 * The map stays as it is (it is right about what Linux holds); the state
 * machine starts over in ADOPTING, whose pass asks the device first.
 */
void pvmem_ctl_rebind(struct pvmem_ctl *ctl, const struct pvmem_cfg *cfg)
{
	ctl->boot_cfg = *cfg;
	ctl->cfg = *cfg;
	WRITE_ONCE(ctl->retry_ms, READ_ONCE(ctl->knobs.retry_min_ms));
	ctl->why = PVMEM_WHY_NONE;
	ctl->cfg_bad = 0;
	WRITE_ONCE(ctl->kicked, false);
	WRITE_ONCE(ctl->stop, false);
	WRITE_ONCE(ctl->broken_reason, NULL);
	pvmem_ctl_move(ctl, PVMEM_DEV_ADOPTING, true);
}

/* Ask about device blocks [@first, @first + @nb) of the region. */
static enum pvmem_answer pvmem_survey_query(struct pvmem_ctl *ctl, u64 first,
					    u32 nb, u16 *state)
{
	return ctl->ops->query(ctl->be,
			       ctl->boot_cfg.addr + first * ctl->lo.block_size,
			       nb, state);
}

/* Mark device blocks [@first, @first + @nb) of the region plugged. */
static void pvmem_survey_set(unsigned long *plugged, u64 first, u32 nb)
{
	u64 i;

	for (i = first; i < first + nb; i++)
		__set_bit(i, plugged);
}

/**
 * pvmem_ctl_survey - ask the device which of its blocks are plugged
 * @ctl: the device, in a crash kernel: pvmem plugs, unplugs and adds
 *	nothing there, the memory belongs to the dump
 * @plugged: a cleared bitmap, one bit per device block of the region
 *	from its start; set for every block the device has plugged
 *
 * One STATE request per memory block's worth of device blocks of the
 * usable region (nothing beyond it is plugged); a mixed answer is asked
 * again block by block.  No other request is sent.  A request without a
 * clean answer ends the survey: blocks not known stay clear, so a dump
 * skips them rather than touch memory the device may not back.  The
 * device state becomes KDUMP, for good.
 *
 * Context: process, may sleep.
 * Return: device blocks plugged, or -1 if a request failed.
 */
s64 pvmem_ctl_survey(struct pvmem_ctl *ctl, unsigned long *plugged)
{
	const u64 n = ctl->boot_cfg.usable_region_size / ctl->lo.block_size;
	const u32 chunk = ctl->lo.sbs_per_mb < 0xffff ? ctl->lo.sbs_per_mb :
							0xffff;
	enum pvmem_answer ans;
	u64 first, i, found = 0;
	u16 state;
	u32 nb;

	pvmem_ctl_move(ctl, PVMEM_DEV_KDUMP, true);
	for (first = 0; first < n; first += nb) {
		nb = n - first < chunk ? n - first : chunk;
		ans = pvmem_survey_query(ctl, first, nb, &state);
		if (ans != PVMEM_ANS_ACK)
			return -1;
		if (state == VIRTIO_MEM_STATE_PLUGGED) {
			pvmem_survey_set(plugged, first, nb);
			found += nb;
			continue;
		}
		if (state == VIRTIO_MEM_STATE_UNPLUGGED)
			continue;
		for (i = first; i < first + nb; i++) {
			ans = pvmem_survey_query(ctl, i, 1, &state);
			if (ans != PVMEM_ANS_ACK)
				return -1;
			if (state == VIRTIO_MEM_STATE_PLUGGED) {
				pvmem_survey_set(plugged, i, 1);
				found++;
			}
		}
	}
	return found;
}

/**
 * pvmem_ctl_init - set up the passes for a device whose config passed
 *	pvmem_cfg_check()
 * @ctl: the device; @lim, @boot_cfg and @knobs are filled in
 * @ops: the backend
 * @be: the backend's pointer
 * @map: an empty block map for the layout
 */
void pvmem_ctl_init(struct pvmem_ctl *ctl, const struct pvmem_backend_ops *ops,
		    void *be, struct pvmem_map *map)
{
	ctl->ops = ops;
	ctl->be = be;
	ctl->map = map;
	pvmem_layout_init(&ctl->lo, &ctl->boot_cfg, &ctl->lim);
	ctl->cfg = ctl->boot_cfg;
	ctl->retry_ms = ctl->knobs.retry_min_ms;
	ctl->tidy_wait = PVMEM_NO_PASS;
	ctl->why = PVMEM_WHY_NONE;
	pvmem_ctl_move(ctl,
		       ctl->boot_cfg.plugged_size ? PVMEM_DEV_LEFTOVERS :
						    PVMEM_DEV_IDLE,
		       true);
}
