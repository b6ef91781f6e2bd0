// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem mm hooks: where pvmem meets memory hotplug.
 *
 * pvmem adds whole Linux memory blocks but plugs them in device blocks, so
 * an added memory block may hold device blocks that are not plugged.  Those
 * must never reach the page allocator and never be read or written:
 *
 *  - the online page callback (one owner system wide, so pvmem and the
 *    in-tree virtio_mem cannot both be loaded) hands plugged device blocks
 *    to the buddy and keeps unplugged ones "fake-offline": PageOffline,
 *    plus PageDirty to remember they never reached the buddy;
 *  - a memory notifier per device tracks which memory blocks are online in
 *    which zone and lets the core skip fake-offline pages when a memory
 *    block goes offline, by dropping the reference they hold;
 *  - when a device block is plugged inside a memory block that is already
 *    online, pvmem_mm_release() hands its pages to the buddy.
 *
 * Phases of onlining one memory block, all under the device's lock:
 * MEM_GOING_ONLINE takes it, the online page callback runs for every chunk,
 * MEM_ONLINE (or MEM_CANCEL_ONLINE) drops it.  Offlining likewise.
 *
 * In big-block mode pvmem's memory block is a big block of several Linux
 * memory blocks, added and removed as one; Linux still onlines and
 * offlines them one at a time, and the notifier hears of each.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/math64.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/page_ref.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/vmstat.h>

#include "pvmem_compat.h"
#include "pvmem_mm.h"
#include "pvmem_trace.h"

/*
 * pvmem_mm_list_lock protects the registration of the online page callback and
 * writers of pvmem_mm_devs; the callback itself walks the list under RCU.
 */
static DEFINE_MUTEX(pvmem_mm_list_lock);
static LIST_HEAD(pvmem_mm_devs);

static bool pvmem_mm_overlaps(const struct pvmem_mm *mm, u64 start, u64 size)
{
	const u64 end =
		mm->lo.first_mb_addr + (u64)mm->lo.nb_mb * mm->lo.mb_size;

	return start < end && start + size > mm->lo.first_mb_addr;
}

static u32 pvmem_mm_mb(const struct pvmem_mm *mm, u64 addr)
{
	return (addr - mm->lo.first_mb_addr) / mm->lo.mb_size;
}

static u32 pvmem_mm_sb(const struct pvmem_mm *mm, u64 addr)
{
	return (addr & (mm->lo.mb_size - 1)) / mm->lo.block_size;
}

/* Linux memory blocks per memory block: 1, or those of a big block. */
static u32 pvmem_mm_lmbs(const struct pvmem_mm *mm)
{
	return mm->lo.mb_size / mm->lo.lmb_size;
}

/* Pages of a Linux memory block. */
static unsigned long pvmem_mm_lmb_pages(const struct pvmem_mm *mm)
{
	return PHYS_PFN(mm->lo.lmb_size);
}

/* First page of Linux memory block @i of memory block @mb. */
static unsigned long pvmem_mm_lmb_pfn(const struct pvmem_mm *mm, u32 mb, u32 i)
{
	return PHYS_PFN(pvmem_layout_mb_addr(&mm->lo, mb)) +
	       i * pvmem_mm_lmb_pages(mm);
}

/* The end of the Linux memory block of @pfn, or @end if that is first. */
static unsigned long pvmem_mm_lmb_end(const struct pvmem_mm *mm,
				      unsigned long pfn, unsigned long end)
{
	return min(ALIGN(pfn + 1, pvmem_mm_lmb_pages(mm)), end);
}

/*
 * Keep pages away from the buddy; they were never given to it.  On 6.12
 * their memmap init made them PageOffline already (PVMEM_MEMMAP_OFFLINE).
 */
static void pvmem_mm_fake_offline(unsigned long pfn, unsigned long nr_pages)
{
	page_offline_begin();
	for (; nr_pages--; pfn++) {
		struct page *page = pfn_to_page(pfn);

		if (!PVMEM_MEMMAP_OFFLINE) {
			__SetPageOffline(page);
			ClearPageReserved(page);
		}
		SetPageDirty(page);
	}
	page_offline_end();
}

/*
 * Online one chunk (at most PVMEM_TOP_ORDER, inside one memory block) of a
 * device's memory.  Called with lock held by the notifier.
 */
static void pvmem_mm_online_chunk(struct pvmem_mm *mm, struct page *page,
				  unsigned int order)
{
	const unsigned long bs_pages = PHYS_PFN(mm->lo.block_size);
	const u64 addr = page_to_phys(page);
	const unsigned long nr = 1UL << order;
	const u32 mb = pvmem_mm_mb(mm, addr);
	const u32 sb = pvmem_mm_sb(mm, addr);
	unsigned long pfn = page_to_pfn(page), step, i;
	u32 nb_sb = max_t(unsigned long, nr / bs_pages, 1);

	if (pvmem_map_test(&mm->map, mb, sb, nb_sb, true)) {
		generic_online_page(page, order);
		return;
	}
	if (pvmem_map_test(&mm->map, mb, sb, nb_sb, false)) {
		pvmem_mm_fake_offline(pfn, nr);
		return;
	}
	/* A mix: go device block by device block. */
	step = min(nr, bs_pages);
	for (i = 0; i < nr; i += step) {
		if (pvmem_map_test(&mm->map, mb, sb + i / bs_pages, 1, true))
			generic_online_page(pfn_to_page(pfn + i), ilog2(step));
		else
			pvmem_mm_fake_offline(pfn + i, step);
	}
}

static void pvmem_mm_online_page(struct page *page, unsigned int order)
{
	const u64 addr = page_to_phys(page);
	struct pvmem_mm *mm;

	rcu_read_lock();
	list_for_each_entry_rcu(mm, &pvmem_mm_devs, node) {
		if (!pvmem_mm_overlaps(mm, addr, PAGE_SIZE << order))
			continue;
		/*
		 * The device cannot go away: its memory block is being
		 * onlined, so its notifier holds lock, which removal
		 * takes before it unregisters.  Fake-offlining may sleep.
		 */
		rcu_read_unlock();
		pvmem_mm_online_chunk(mm, page, order);
		return;
	}
	rcu_read_unlock();
	/* Not ours (a DIMM, say): online it as usual. */
	generic_online_page(page, order);
}

/* Pageblocks in one memory block of @lo: bits in pvmem_mm::taken. */
static unsigned long pvmem_mm_nr_pb(const struct pvmem_layout *lo)
{
	return PHYS_PFN(lo->mb_size) / pageblock_nr_pages;
}

/* Pages in the pageblocks of @mb pvmem_mm_take_used() numbers. */
static unsigned long pvmem_mm_pb_pfn(const struct pvmem_mm *mm, u32 mb,
				     unsigned long pb)
{
	return PHYS_PFN(pvmem_layout_mb_addr(&mm->lo, mb)) +
	       pb * pageblock_nr_pages;
}

/*
 * If page @pfn of memory block @mb is gone from Linux, unplugged (its
 * device block) or taken by pvmem_mm_take_used() (its pageblock), where
 * that stretch ends; else @pfn.
 */
static unsigned long pvmem_mm_gone_end(const struct pvmem_mm *mm, u32 mb,
				       unsigned long pfn)
{
	const unsigned long bs_pages = PHYS_PFN(mm->lo.block_size);
	const unsigned long base = PHYS_PFN(pvmem_layout_mb_addr(&mm->lo, mb));
	const u32 sb = (pfn - base) / bs_pages;
	const unsigned long pb = (pfn - base) / pageblock_nr_pages;

	if (!pvmem_map_test(&mm->map, mb, sb, 1, true))
		return base + (sb + 1UL) * bs_pages;
	if (mm->taken_mb == mb && test_bit(pb, mm->taken))
		return pvmem_mm_pb_pfn(mm, mb, pb + 1);
	return pfn;
}

/* Forget what pvmem_mm_take_used() took.  Lock held. */
static void pvmem_mm_untake(struct pvmem_mm *mm)
{
	bitmap_zero(mm->taken, pvmem_mm_nr_pb(&mm->lo));
	mm->taken_mb = PVMEM_NO_MB;
}

/*
 * Find the next pages of memory block @mb in [*@pfn, @end) that are gone
 * from Linux (pvmem_mm_gone_end()): move *@pfn to the first, and set *@nr
 * to how many follow, up to the end of their device block or pageblock
 * and before @end.
 */
static bool pvmem_mm_next_unplugged(struct pvmem_mm *mm, u32 mb,
				    unsigned long *pfn, unsigned long end,
				    unsigned long *nr)
{
	unsigned long to;

	for (; *pfn < end; *pfn = ALIGN(*pfn + 1, pageblock_nr_pages)) {
		to = pvmem_mm_gone_end(mm, mb, *pfn);
		if (to != *pfn) {
			*nr = min(to, end) - *pfn;
			return true;
		}
	}
	return false;
}

/*
 * Before a memory block goes offline, every page of its unplugged device
 * blocks must be fake-offline and hold exactly the one reference pvmem
 * drops.  Anything else means the map and the memory disagree: dropping
 * a reference to a page in use (or a free one) would make the core trip
 * over it in __offline_isolated_pages(), so offlining is refused instead.
 */
static bool pvmem_mm_unplugged_ok(struct pvmem_mm *mm, u32 mb,
				  unsigned long start, unsigned long end)
{
	unsigned long pfn, nr, i;

	for (pfn = start; pvmem_mm_next_unplugged(mm, mb, &pfn, end, &nr);
	     pfn += nr) {
		for (i = 0; i < nr; i++) {
			struct page *page = pfn_to_page(pfn + i);

			if (PageOffline(page) && page_count(page) == 1)
				continue;
			pr_err("%s: page %#lx of unplugged memory at %#llx is %s with %d references; refusing to offline its memory block\n",
			       mm->name, pfn + i, PFN_PHYS(pfn),
			       PageOffline(page) ? "fake-offline" :
			       PageBuddy(page)	 ? "free" :
						   "in use",
			       page_count(page));
			return false;
		}
	}
	return true;
}

/*
 * Fake-offline pages hold one reference.  Dropping it before offlining
 * tells the core they may be skipped.  Before 6.12 offline_pages() then
 * subtracts the whole memory block from the managed page count, so they
 * are counted in first (PVMEM_OFFLINE_TAKES_ALL).  CANCEL_OFFLINE undoes
 * both.
 */
static void pvmem_mm_unplugged_refs(struct pvmem_mm *mm, u32 mb,
				    unsigned long start, unsigned long end,
				    bool drop)
{
	unsigned long pfn, nr, i;

	for (pfn = start; pvmem_mm_next_unplugged(mm, mb, &pfn, end, &nr);
	     pfn += nr) {
		if (PVMEM_OFFLINE_TAKES_ALL)
			adjust_managed_page_count(pfn_to_page(pfn),
						  drop ? nr : -nr);
		for (i = 0; i < nr; i++) {
			if (drop)
				page_ref_dec(pfn_to_page(pfn + i));
			else
				page_ref_inc(pfn_to_page(pfn + i));
		}
	}
}

static enum pvmem_mb_state pvmem_mm_online_state(unsigned long pfn)
{
	if (page_zonenum(pfn_to_page(pfn)) == ZONE_MOVABLE)
		return PVMEM_MB_MOVABLE;
	return PVMEM_MB_KERNEL;
}

/*
 * What Linux has a memory block as: offline, or online in which zone.  A
 * big block is OFFLINE while none of its Linux memory blocks is online,
 * MOVABLE while all are online movable, else KERNEL.  Linux marks a block's
 * sections online before MEM_ONLINE and offline before MEM_OFFLINE, so the
 * notifier sees the state the block is going to.
 */
static enum pvmem_mb_state pvmem_mm_linux_state(struct pvmem_mm *mm, u32 mb)
{
	u32 i, online = 0, movable = 0;
	unsigned long pfn;

	for (i = 0; i < pvmem_mm_lmbs(mm); i++) {
		pfn = pvmem_mm_lmb_pfn(mm, mb, i);
		if (!pfn_to_online_page(pfn))
			continue;
		online++;
		movable += pvmem_mm_online_state(pfn) == PVMEM_MB_MOVABLE;
	}
	if (!online)
		return PVMEM_MB_OFFLINE;
	return movable == pvmem_mm_lmbs(mm) ? PVMEM_MB_MOVABLE :
					      PVMEM_MB_KERNEL;
}

/* Pages of @mb's own memory map at its start; 0 if it has none. */
static unsigned long pvmem_mm_memmap_inside(const struct pvmem_mm *mm, u32 mb)
{
	return pvmem_mb_pinned(&mm->map, mb) ? mm->memmap_pages : 0;
}

/*
 * Where a walk from @pfn may start: past the free buddy chunk @pfn lies
 * inside, if one begins below it.  Only a chunk's first page is marked
 * free (PageBuddy), so a walk that starts in the middle of one, say in
 * the second 2 MiB device block of a free 4 MiB chunk, would count all
 * of it as in use.  A chunk is aligned to its size and never larger than
 * PVMEM_TOP_ORDER, so it lies inside @pfn's memory block.  Racy, as the
 * walk is.
 */
static unsigned long pvmem_mm_walk_start(unsigned long pfn)
{
	unsigned long head, order;
	struct page *page;

	for (order = 1; order <= PVMEM_TOP_ORDER; order++) {
		head = ALIGN_DOWN(pfn, 1UL << order);
		if (head == pfn)
			continue;
		page = pfn_to_page(head);
		/* page_private() is the buddy order. */
		if (PageBuddy(page) && page_private(page) >= order &&
		    page_private(page) <= PVMEM_TOP_ORDER)
			return head + (1UL << page_private(page));
	}
	return pfn;
}

/*
 * Pages in use (not free in the buddy) in the plugged device blocks of
 * @mb in [@pfn, @end), an online part of it, counted up to @stop.  One
 * walk, skipping what is gone (unplugged device blocks, taken pageblocks)
 * and free chunks (which may span device blocks).  Exact under
 * zone->lock; without it a racy look, good enough to decide whether and
 * where to try.
 */
static unsigned long pvmem_mm_plugged_used(struct pvmem_mm *mm, u32 mb,
					   unsigned long pfn, unsigned long end,
					   unsigned long stop)
{
	unsigned long used = 0, gone;

	pfn = pvmem_mm_walk_start(pfn);
	while (pfn < end && used < stop) {
		struct page *page = pfn_to_page(pfn);

		gone = pvmem_mm_gone_end(mm, mb, pfn);
		if (gone != pfn) {
			pfn = gone;
			continue;
		}
		/* A page in use, or one whose state cannot be told. */
		if (!PageBuddy(page)) {
			used++;
			pfn++;
			continue;
		}
		/* page_private() is the buddy order. */
		pfn += 1UL << min_t(unsigned long, page_private(page),
				    PVMEM_TOP_ORDER);
	}
	return used;
}

/* Is every page of the plugged device blocks of @mb in [@pfn, @end) free? */
static bool pvmem_mm_plugged_free(struct pvmem_mm *mm, u32 mb,
				  unsigned long pfn, unsigned long end)
{
	return !pvmem_mm_plugged_used(mm, mb, pfn, end, 1);
}

/*
 * Asked when a Linux memory block [@start, @end) of a block pvmem removes
 * is about to go offline: its pageblocks are isolated and the per-cpu
 * lists drained then, so no page can be allocated from it any more and
 * free pages sit in the buddy.
 */
static bool pvmem_mm_holds_nothing(struct pvmem_mm *mm, u32 mb,
				   unsigned long start, unsigned long end)
{
	struct zone *zone = page_zone(pfn_to_page(start));
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&zone->lock, flags);
	ok = pvmem_mm_plugged_free(mm, mb, start, end);
	spin_unlock_irqrestore(&zone->lock, flags);
	return ok;
}

/*
 * May a memory block go online (@online) or offline now?  Not while pvmem
 * waits for the device to answer an UNPLUG over it, not online while it
 * is being removed, not offline while a page of a block being removed is
 * in use (pvmem then empties it first: @quiet), and never offline if its
 * unplugged pages are not what pvmem left.
 */
static const char *pvmem_mm_refusal(struct pvmem_mm *mm, u32 mb,
				    unsigned long start, unsigned long end,
				    bool online, bool *quiet)
{
	const enum pvmem_mb_state state = mm->map.state[mb];

	*quiet = false;
	if (mm->map.inflight == mb)
		return "a PLUG or UNPLUG over it awaits the device's answer";
	if (state == PVMEM_MB_REMOVING && online)
		return "pvmem is removing it";
	if (!pvmem_mb_transition_ok(state, online ? PVMEM_MB_MOVABLE :
						    PVMEM_MB_OFFLINE))
		return pvmem_mb_state_name(state);
	if (online)
		return NULL;
	if (!pvmem_mm_unplugged_ok(mm, mb, start, end))
		return "its unplugged pages are not all fake-offline";
	*quiet = true;
	if (state == PVMEM_MB_REMOVING &&
	    !pvmem_mm_holds_nothing(mm, mb, start, end))
		return "pages of it are in use";
	return NULL;
}

/*
 * MEM_GOING_ONLINE/OFFLINE of [@start, @end), one Linux memory block of
 * @mb: take lock and check the block's state.  Onlining keeps lock until
 * MEM_ONLINE or MEM_CANCEL_ONLINE: it is quick, and the online page
 * callback runs meanwhile.  Offlining does not: it migrates for as long
 * as a page will not move (until the writer of "offline" gets a signal),
 * so the block is marked in the map (offlining) instead.
 */
static int pvmem_mm_going(struct pvmem_mm *mm, u32 mb, unsigned long start,
			  unsigned long end, bool online)
{
	const char *why;
	bool quiet;

	mutex_lock(&mm->lock);
	why = pvmem_mm_refusal(mm, mb, start, end, online, &quiet);
	if (why) {
		/* Messages stay one string (checkpatch), after the call. */
		/* clang-format off */
		if (!quiet)
			pr_warn_ratelimited("%s: memory block at %#llx may not go %s now: %s\n",
					    mm->name, pvmem_layout_mb_addr(&mm->lo, mb),
					    online ? "online" : "offline", why);
		/* clang-format on */
		mutex_unlock(&mm->lock);
		return notifier_from_errno(-EBUSY);
	}
	if (online) {
		mm->active = true;
		return NOTIFY_OK;
	}
	pvmem_mm_unplugged_refs(mm, mb, start, end, true);
	mm->map.offlining = mb;
	mutex_unlock(&mm->lock);
	return NOTIFY_OK;
}

/*
 * MEM_OFFLINE (@offline) or MEM_CANCEL_OFFLINE of [@start, @end), one
 * Linux memory block of @mb: settle what pvmem_mm_going() began, if it
 * let the offlining go on (a notifier may refuse before ours is asked).
 */
static void pvmem_mm_offlined(struct pvmem_mm *mm, u32 mb, unsigned long start,
			      unsigned long end, bool offline)
{
	enum pvmem_mb_state state;
	bool ours;

	mutex_lock(&mm->lock);
	if (!pvmem_mb_offlining(&mm->map, mb)) {
		mutex_unlock(&mm->lock);
		return;
	}
	if (!offline)
		pvmem_mm_unplugged_refs(mm, mb, start, end, false);
	/* A block being removed stays so; pvmem_mm_remove() settles it. */
	ours = mm->map.state[mb] == PVMEM_MB_REMOVING;
	if (offline && !ours) {
		state = pvmem_mm_linux_state(mm, mb);
		if (state != mm->map.state[mb])
			pvmem_mm_set_state(mm, mb, state);
	}
	mm->map.offlining = PVMEM_NO_MB;
	mutex_unlock(&mm->lock);
	/*
	 * What waited for somebody else's offlining may go on.  pvmem's own
	 * removal (the worker waits for it) kicks nothing: a removal that
	 * fails must back off, not run again at once.
	 */
	if (!ours)
		mm->ops->kick(mm->data);
}

/*
 * MEM_ONLINE or MEM_CANCEL_ONLINE: finish (@changed: a Linux memory block
 * went online) and drop lock.
 */
static void pvmem_mm_done(struct pvmem_mm *mm, u32 mb, bool changed)
{
	enum pvmem_mb_state state;

	if (!mm->active)
		return;
	if (changed) {
		state = pvmem_mm_linux_state(mm, mb);
		/* A big block's other Linux memory blocks may decide. */
		if (state != mm->map.state[mb])
			pvmem_mm_set_state(mm, mb, state);
	}
	mm->active = false;
	mutex_unlock(&mm->lock);
}

/*
 * Linux onlines and offlines one Linux memory block at a time: a range the
 * notifier hears of is one whole such block (of the big block @mb), or one
 * without the memory map at its start if pvmem added it with its map
 * inside.  Anything else is not ours.
 */
static bool pvmem_mm_block_range(const struct pvmem_mm *mm, u64 start, u64 size,
				 u32 *mb)
{
	const u64 lmb_size = mm->lo.lmb_size;
	const u64 end = start + size;

	if (start < mm->lo.first_mb_addr || !IS_ALIGNED(end, lmb_size) ||
	    !size || size > lmb_size)
		return false;
	*mb = pvmem_mm_mb(mm, end - 1);
	return start ==
	       end - lmb_size + PFN_PHYS(pvmem_mm_memmap_inside(mm, *mb));
}

static int pvmem_mm_notify(struct notifier_block *nb, unsigned long action,
			   void *arg)
{
	struct pvmem_mm *mm = container_of(nb, struct pvmem_mm, notifier);
	const struct memory_notify *mhp = arg;
	const unsigned long pfn = mhp->start_pfn;
	const unsigned long end = pfn + mhp->nr_pages;
	const u64 start = PFN_PHYS(pfn);
	const u64 size = PFN_PHYS(mhp->nr_pages);
	int rc = NOTIFY_OK;
	u32 mb;

	if (!pvmem_mm_overlaps(mm, start, size))
		return NOTIFY_DONE;
	if (!pvmem_mm_block_range(mm, start, size, &mb)) {
		/* Messages stay one string (checkpatch), after the call. */
		/* clang-format off */
		pr_warn_ratelimited("%s: unexpected hotplug range %#llx+%#llx\n",
				    mm->name, start, size);
		/* clang-format on */
		return NOTIFY_BAD;
	}

	/* lock is held from MEM_GOING_ONLINE to the call that ends it. */
	switch (action) {
	case MEM_GOING_ONLINE:
		rc = pvmem_mm_going(mm, mb, pfn, end, true);
		break;
	case MEM_GOING_OFFLINE:
		rc = pvmem_mm_going(mm, mb, pfn, end, false);
		break;
	case MEM_ONLINE:
		pvmem_mm_done(mm, mb, true);
		/* Below offline_cap again: plugging may go on. */
		mm->ops->kick(mm->data);
		break;
	case MEM_OFFLINE:
		pvmem_mm_offlined(mm, mb, pfn, end, true);
		break;
	case MEM_CANCEL_OFFLINE:
		pvmem_mm_offlined(mm, mb, pfn, end, false);
		break;
	case MEM_CANCEL_ONLINE:
		pvmem_mm_done(mm, mb, false);
		break;
	default:
		break;
	}
	return rc;
}

/**
 * pvmem_mm_init - set up the memory layer of a device
 * @mm: the memory layer, zeroed
 * @lo: the layout of a validated region
 * @memmap_size: pvmem_mm_memmap_size(), as the layout was made with
 * @name: the device's name
 * @nid: the NUMA node memory is added on
 *
 * Allocates the block map (nothing added, nothing plugged) and registers
 * the dynamic memory group.
 *
 * Context: process, may sleep.
 * Return: 0 or -errno.
 */
int pvmem_mm_init(struct pvmem_mm *mm, const struct pvmem_layout *lo,
		  u64 memmap_size, const char *name, int nid)
{
	const u64 bytes = pvmem_map_bytes(lo->nb_mb, lo->sbs_per_mb);
	int rc;

	mm->lo = *lo;
	if (!lo->memmap_sbs)
		mm->selfmap = PVMEM_SELFMAP_OFF;
	else
		mm->selfmap = PVMEM_MEMMAP_ASK ? PVMEM_SELFMAP_ASK :
						 PVMEM_SELFMAP_ON;
	mm->memmap_pages = PHYS_PFN(memmap_size);
	strscpy(mm->name, name, sizeof(mm->name));
	mutex_init(&mm->lock);
	INIT_LIST_HEAD(&mm->node);
	mm->taken_mb = PVMEM_NO_MB;
	mm->taken = bitmap_zalloc(pvmem_mm_nr_pb(lo), GFP_KERNEL);
	if (!mm->taken)
		return -ENOMEM;
	mm->map_mem = kvzalloc(bytes, GFP_KERNEL);
	if (!mm->map_mem) {
		rc = -ENOMEM;
		goto err_free_taken;
	}
	pvmem_map_init(&mm->map, lo, mm->map_mem);
	rc = memory_group_register_dynamic(nid, PHYS_PFN(lo->mb_size));
	if (rc < 0)
		goto err_free_map;
	mm->mgid = rc;
	return 0;

err_free_map:
	kvfree(mm->map_mem);
	mm->map_mem = NULL;
err_free_taken:
	bitmap_free(mm->taken);
	mm->taken = NULL;
	return rc;
}

/**
 * pvmem_mm_exit - undo pvmem_mm_init()
 * @mm: the memory layer; none of its memory is added any more
 */
void pvmem_mm_exit(struct pvmem_mm *mm)
{
	memory_group_unregister(mm->mgid);
	kvfree(mm->map_mem);
	mm->map_mem = NULL;
	bitmap_free(mm->taken);
	mm->taken = NULL;
}

/**
 * pvmem_mm_register - start answering for a device's memory
 * @mm: the device's memory layer, set up by pvmem_mm_init()
 * @ops: how to tell the layer's user what happened
 * @data: passed to @ops
 *
 * Takes the online page callback when the first device registers.
 *
 * Context: process, may sleep.
 * Return: 0, or -EBUSY if another driver owns the online page callback.
 */
int pvmem_mm_register(struct pvmem_mm *mm, const struct pvmem_mm_ops *ops,
		      void *data)
{
	int rc;

	mm->ops = ops;
	mm->data = data;
	mm->notifier.notifier_call = pvmem_mm_notify;
	rc = register_memory_notifier(&mm->notifier);
	if (rc)
		return rc;

	mutex_lock(&pvmem_mm_list_lock);
	if (list_empty(&pvmem_mm_devs)) {
		rc = set_online_page_callback(pvmem_mm_online_page);
		if (rc) {
			mutex_unlock(&pvmem_mm_list_lock);
			unregister_memory_notifier(&mm->notifier);
			return -EBUSY;
		}
	}
	list_add_rcu(&mm->node, &pvmem_mm_devs);
	mutex_unlock(&pvmem_mm_list_lock);
	return 0;
}

/**
 * pvmem_mm_unregister - stop answering for a device's memory
 * @mm: the device's memory layer; none of its memory is added any more
 *
 * Order: unlink from the list, wait for callback readers, give back the
 * callback if this was the last device, then drop the notifier.
 *
 * Context: process, may sleep.
 */
void pvmem_mm_unregister(struct pvmem_mm *mm)
{
	mutex_lock(&pvmem_mm_list_lock);
	list_del_rcu(&mm->node);
	synchronize_rcu();
	if (list_empty(&pvmem_mm_devs))
		restore_online_page_callback(pvmem_mm_online_page);
	mutex_unlock(&pvmem_mm_list_lock);
	unregister_memory_notifier(&mm->notifier);
}

/**
 * pvmem_mm_memmap_size - the memory map of one memory block, if this
 *	kernel may place it inside the block (MHP_MEMMAP_ON_MEMORY)
 *
 * The map must fill whole PMDs and leave whole pageblocks of memory.
 *
 * Context: any.
 * Return: its size in bytes; 0 if the kernel never places it there.
 */
u64 pvmem_mm_memmap_size(void)
{
	const unsigned long mb_pages = PHYS_PFN(memory_block_size_bytes());
	const u64 bytes = (u64)mb_pages * sizeof(struct page);
	const unsigned long pages = ALIGN(PFN_UP(bytes), pageblock_nr_pages);

	if (!pvmem_memmap_on_memory() || !IS_ALIGNED(bytes, PMD_SIZE) ||
	    pages >= mb_pages)
		return 0;
	return PFN_PHYS(pages);
}

static int pvmem_mm_add_range(struct pvmem_mm *mm, u32 mb, u32 nr, mhp_t flags)
{
	const u64 addr = pvmem_layout_mb_addr(&mm->lo, mb);
	const u64 size = (u64)nr * mm->lo.mb_size;

	flags |= MHP_MERGE_RESOURCE | MHP_NID_IS_MGID;
	return add_memory_driver_managed(mm->mgid, addr, size,
					 PVMEM_RESOURCE_NAME, flags);
}

static void pvmem_mm_mark_selfmap(struct pvmem_mm *mm, u32 mb, bool selfmap)
{
	mutex_lock(&mm->lock);
	pvmem_map_set_selfmap(&mm->map, mb, selfmap);
	mutex_unlock(&mm->lock);
}

/*
 * Add one memory block with its memory map inside.  It is marked in the
 * map first: Linux may online it before the addition returns, and the
 * notifier then expects the range without the map.  -EOPNOTSUPP: the
 * kernel will not (PVMEM_MEMMAP_ASK), nothing was added.
 */
static int pvmem_mm_add_selfmap(struct pvmem_mm *mm, u32 mb)
{
	int rc;

	pvmem_mm_mark_selfmap(mm, mb, true);
	rc = pvmem_mm_add_range(mm, mb, 1, MHP_MEMMAP_ON_MEMORY);
	if (!rc) {
		WRITE_ONCE(mm->selfmap, PVMEM_SELFMAP_ON);
		return 0;
	}
	pvmem_mm_mark_selfmap(mm, mb, false);
	if (mm->selfmap != PVMEM_SELFMAP_ASK || rc != -EINVAL)
		return rc;
	WRITE_ONCE(mm->selfmap, PVMEM_SELFMAP_OFF);
	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	pr_info("%s: memory maps stay in boot memory: the kernel will not place them in hot-added memory (memory_hotplug.memmap_on_memory)\n",
		mm->name);
	/* clang-format on */
	return -EOPNOTSUPP;
}

/**
 * pvmem_mm_add - add memory blocks of the device to Linux
 * @mm: the device's memory layer
 * @mb: first memory block index
 * @nr: number of memory blocks, all in state PVMEM_MB_ADDING
 * @selfmap: in: the block (@nr is 1) is fully plugged and may carry its
 *	own memory map; out: whether it does
 *
 * One call for many memory blocks; each can still be removed on its own
 * later (the merged resource is split).  Linux may online the blocks right
 * away (auto-online), which runs the notifier and the online page callback
 * from here.
 *
 * Context: process, may sleep; lock must not be held.
 * Return: 0 or the error of add_memory_driver_managed(); all or nothing.
 */
int pvmem_mm_add(struct pvmem_mm *mm, u32 mb, u32 nr, bool *selfmap)
{
	int rc;

	/* rmmod got in first (pvmem_mm_update_pin()): add nothing now. */
	if (!mm->pinned)
		return -ENODEV;
	if (*selfmap && nr == 1 && mm->selfmap != PVMEM_SELFMAP_OFF) {
		rc = pvmem_mm_add_selfmap(mm, mb);
		if (rc != -EOPNOTSUPP)
			return rc;
	}
	*selfmap = false;
	return pvmem_mm_add_range(mm, mb, nr, 0);
}

/**
 * pvmem_mm_remove - offline (if needed) and remove one memory block
 * @mm: the device's memory layer
 * @mb: memory block index, in state PVMEM_MB_REMOVING: offline, or online
 *	with nothing plugged, so offlining only skips fake-offline pages
 *
 * On failure the block is set back to the state Linux has it in.
 *
 * Context: process, may sleep; lock must not be held.
 * Return: 0 or the error of offline_and_remove_memory().
 */
int pvmem_mm_remove(struct pvmem_mm *mm, u32 mb)
{
	int rc;

	rc = offline_and_remove_memory(pvmem_layout_mb_addr(&mm->lo, mb),
				       mm->lo.mb_size);
	mutex_lock(&mm->lock);
	if (rc) {
		/* Offlined and onlined again, or not at all: ask Linux. */
		pvmem_mm_set_state(mm, mb, pvmem_mm_linux_state(mm, mb));
	} else if (mm->taken_mb == mb) {
		/* What was taken of it went with it. */
		pvmem_mm_untake(mm);
	}
	mutex_unlock(&mm->lock);
	return rc;
}

/*
 * Hand fake-offline pages back to the buddy.  PageDirty ones were never
 * onlined (kept back by the online page callback); the others came from
 * pvmem_mm_isolate() and are freed the way they were allocated.
 */
static void pvmem_mm_give_back(unsigned long pfn, unsigned long nr)
{
	unsigned int order = PVMEM_TOP_ORDER;
	unsigned long i, j;

	while (!IS_ALIGNED(pfn | nr, 1UL << order))
		order--;
	for (i = 0; i < nr; i += 1UL << order) {
		struct page *page = pfn_to_page(pfn + i);
		const bool never_onlined = PageDirty(page);

		for (j = 0; j < (1UL << order); j++) {
			/* 6.12's generic_online_page() clears it itself. */
			if (!never_onlined || !PVMEM_MEMMAP_OFFLINE)
				__ClearPageOffline(page + j);
			if (never_onlined)
				ClearPageDirty(page + j);
		}
		if (never_onlined) {
			generic_online_page(page, order);
		} else {
			free_contig_range(pfn + i, 1UL << order);
			adjust_managed_page_count(page, 1UL << order);
		}
	}
}

/*
 * Hand the pages of [@start, @end) that lie in online Linux memory blocks
 * back to the buddy; an offline one's pages were never handed out.
 */
static void pvmem_mm_release_range(struct pvmem_mm *mm, unsigned long start,
				   unsigned long end)
{
	unsigned long pfn, to;

	for (pfn = start; pfn < end; pfn = to) {
		to = pvmem_mm_lmb_end(mm, pfn, end);
		if (pfn_to_online_page(pfn))
			pvmem_mm_give_back(pfn, to - pfn);
	}
}

/**
 * pvmem_mm_release - hand device blocks of an online memory block to the
 *	buddy
 * @mm: the device's memory layer
 * @run: device blocks just plugged (and so marked in the map), or
 *	isolated by pvmem_mm_isolate() but not unplugged after all
 *
 * Context: lock held, memory block online.
 */
void pvmem_mm_release(struct pvmem_mm *mm, const struct pvmem_run *run)
{
	const unsigned long start =
		PHYS_PFN(pvmem_layout_run_addr(&mm->lo, run));

	lockdep_assert_held(&mm->lock);
	pvmem_mm_release_range(mm, start,
			       start + (unsigned long)run->nb *
					       PHYS_PFN(mm->lo.block_size));
}

/*
 * What pvmem leaves to the rest of the guest when it migrates memory out
 * of a range: 1% of the guest's memory, at least 16 MiB.  pvmem never
 * pushes the guest into memory pressure; it waits and retries instead.
 */
static unsigned long pvmem_mm_margin(void)
{
	return max(PHYS_PFN(SZ_16M), totalram_pages() / 100);
}

/*
 * Is there room elsewhere for what is in use in [@start, @end), plugged
 * device blocks of @mb?  Only its online Linux memory blocks count.
 * Migration targets come from available memory outside it, above the
 * margin.
 */
static bool pvmem_mm_room_for(struct pvmem_mm *mm, u32 mb, unsigned long start,
			      unsigned long end)
{
	const unsigned long margin = pvmem_mm_margin();
	unsigned long pfn, to, used = 0, nr = 0;
	long avail;

	for (pfn = start; pfn < end; pfn = to) {
		to = pvmem_mm_lmb_end(mm, pfn, end);
		if (!pfn_to_online_page(pfn))
			continue;
		used += pvmem_mm_plugged_used(mm, mb, pfn, to, ULONG_MAX);
		nr += to - pfn;
	}
	avail = si_mem_available() - (long)(nr - min(used, nr));
	return !used || avail >= (long)(used + margin);
}

/*
 * Take [@pfn, @end), inside one online Linux memory block, from the buddy
 * with the range allocator: ZONE_MOVABLE three times, kernel zones once.
 */
static int pvmem_mm_isolate_range(unsigned long pfn, unsigned long end)
{
	const int tries = page_zonenum(pfn_to_page(pfn)) == ZONE_MOVABLE ? 3 :
									   1;
	unsigned long i;
	int rc = -EBUSY, t;

	for (t = 0; t < tries; t++) {
		rc = alloc_contig_range(pfn, end, MIGRATE_MOVABLE, GFP_KERNEL);
		if (!rc || rc == -ENOMEM)
			break;
	}
	if (rc)
		return rc == -ENOMEM ? -ENOMEM : -EBUSY;

	page_offline_begin();
	for (i = pfn; i < end; i++)
		__SetPageOffline(pfn_to_page(i));
	page_offline_end();
	adjust_managed_page_count(pfn_to_page(pfn), -(long)(end - pfn));
	return 0;
}

/*
 * Memory maps come from the kernel zones (never ZONE_MOVABLE, and ZONE_DMA
 * is kept for devices by lowmem_reserve).
 */
static bool pvmem_mm_memmap_zone(int z)
{
#ifdef CONFIG_ZONE_DMA
	if (z == ZONE_DMA)
		return false;
#endif
	return z < ZONE_MOVABLE;
}

/*
 * Pages the kernel zones can give without pressure: free pages above each
 * zone's high watermark plus half its file cache, as si_mem_available()
 * estimates for the whole guest.
 */
static unsigned long pvmem_mm_memmap_avail(void)
{
	long avail = 0;
	int nid, z;

	for_each_online_node(nid) {
		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &NODE_DATA(nid)->node_zones[z];

			if (!pvmem_mm_memmap_zone(z) || !populated_zone(zone))
				continue;
			avail += zone_page_state(zone, NR_FREE_PAGES) -
				 high_wmark_pages(zone);
			avail +=
				(zone_page_state(zone, NR_ZONE_ACTIVE_FILE) +
				 zone_page_state(zone, NR_ZONE_INACTIVE_FILE)) /
				2;
		}
	}
	return max(avail, 0L);
}

/*
 * Kernel-zone memory hot-add leaves free for the kernel's own use of all
 * the guest's memory: 1/256 of it, at least 16 MiB.  That maps every page
 * with 4 KiB page tables (8 bytes a page) and indexes it in the page cache
 * (about 9 bytes a page) and is what a guest that onlines everything
 * movable needs to use it: those allocations cannot come from
 * ZONE_MOVABLE.
 */
static unsigned long pvmem_mm_kernel_reserve(void)
{
	return max(PHYS_PFN(SZ_16M), totalram_pages() / 256);
}

/*
 * Kernel memory one memory block costs besides its memory map: its
 * device and sysfs nodes, section data, page tables of the direct map
 * and the memory map (about 5 KiB measured on 6.1 and 6.12), rounded up.
 */
#define PVMEM_MM_MB_OVERHEAD SZ_16K

/**
 * pvmem_mm_add_room - how many memory blocks may be hot-added now
 * @mm: the device's memory layer
 *
 * Each memory block needs its memory map (64 bytes per 4 KiB page: 2 MiB
 * for 128 MiB) from the kernel zones, unless it carries the map inside
 * (known to work: @mm->selfmap is ON; while pvmem still has to ask, the
 * map is counted), and memory pvmem adds to ZONE_MOVABLE gives nothing
 * back to them.  A guest nearly out of memory is not pushed into
 * allocation failures or the OOM killer by hot-add: only what fits above
 * the kernel's reserve is added.
 *
 * Context: the worker (it alone changes @mm->selfmap).
 * Return: the number of memory blocks whose memory maps fit.
 */
u32 pvmem_mm_add_room(struct pvmem_mm *mm)
{
	const u64 memmap = PHYS_PFN(mm->lo.mb_size) * sizeof(struct page);
	u64 per_mb = PVMEM_MM_MB_OVERHEAD;

	if (mm->selfmap != PVMEM_SELFMAP_ON)
		per_mb += memmap;
	return pvmem_memmap_room(pvmem_mm_memmap_avail(),
				 pvmem_mm_kernel_reserve(),
				 DIV_ROUND_UP(per_mb, PAGE_SIZE));
}

/**
 * pvmem_mm_isolate - take plugged device blocks of an online memory block
 *	away from Linux: the range-restricted allocator
 * @mm: the device's memory layer
 * @run: plugged device blocks of one online memory block (of a big block,
 *	online at least in part: its offline Linux memory blocks hold
 *	nothing, and only the online ones go through the allocator, each
 *	in its own zone)
 *
 * alloc_contig_range() isolates the range and migrates whatever is in use
 * out of it; the pages then stay fake-offline (PageOffline, not PageDirty)
 * and out of the managed page count until they are unplugged, or given
 * back with pvmem_mm_release().  Unlike offlining, this gives up after a
 * bounded number of migration attempts, so it cannot hang on a pinned page.
 * ZONE_MOVABLE is tried three times, since migration there is expected to
 * succeed; kernel zones once.  Nothing is tried if what is in use could
 * not fit elsewhere (see pvmem_mm_room_for()).
 *
 * Context: lock held, may sleep.
 * Return: 0; -EBUSY if something in the range could not be migrated;
 * -ENOMEM if there is no room to migrate to.
 */
int pvmem_mm_isolate(struct pvmem_mm *mm, const struct pvmem_run *run)
{
	const unsigned long start =
		PHYS_PFN(pvmem_layout_run_addr(&mm->lo, run));
	const unsigned long end =
		start + (unsigned long)run->nb * PHYS_PFN(mm->lo.block_size);
	unsigned long pfn, to;
	int rc = 0;

	lockdep_assert_held(&mm->lock);
	if (!pvmem_mm_room_for(mm, run->mb, start, end))
		return -ENOMEM;
	for (pfn = start; pfn < end; pfn = to) {
		to = pvmem_mm_lmb_end(mm, pfn, end);
		if (!pfn_to_online_page(pfn))
			continue;
		rc = pvmem_mm_isolate_range(pfn, to);
		if (rc)
			break;
	}
	/* All or nothing: what was taken goes back. */
	if (rc)
		pvmem_mm_release_range(mm, start, pfn);
	return rc;
}

/*
 * Does pageblock @pb of memory block @mb hold a page in use that
 * pvmem_mm_take_used() should take: one not yet taken, in a plugged device
 * block and an online Linux memory block, not the block's own memory map?
 */
static bool pvmem_mm_pb_used(struct pvmem_mm *mm, u32 mb, unsigned long pb)
{
	const unsigned long pfn = pvmem_mm_pb_pfn(mm, mb, pb);
	const unsigned long base = pvmem_mm_pb_pfn(mm, mb, 0);

	if (pfn < base + pvmem_mm_memmap_inside(mm, mb) ||
	    !pfn_to_online_page(pfn))
		return false;
	return pvmem_mm_plugged_used(mm, mb, pfn, pfn + pageblock_nr_pages, 1);
}

/**
 * pvmem_mm_take_used - take the pageblocks of a memory block that hold
 *	pages in use away from Linux, so that its removal finds it free
 * @mm: the device's memory layer
 * @mb: an online memory block, all of it plugged
 *
 * Counts first (racily) and takes nothing if more than
 * PVMEM_EMPTY_PIECES pageblocks, with those taken before, hold pages in
 * use.  Each goes through the range allocator on its own, as
 * pvmem_mm_isolate() takes a run, so only they are migrated and zeroed;
 * what migrated may land in the rest of the block, and a second call
 * takes that too.  The pages taken stay fake-offline: the notifier treats
 * them as it treats unplugged ones, so they go with the block when it is
 * removed, or back to Linux with pvmem_mm_put_taken().
 *
 * Context: lock held, may sleep.
 * Return: 0; -E2BIG if too many hold pages in use; -EBUSY if one would
 * not migrate, or another memory block has pageblocks taken; -ENOMEM if
 * there is no room to migrate to.
 */
int pvmem_mm_take_used(struct pvmem_mm *mm, u32 mb)
{
	const unsigned long nr_pb = pvmem_mm_nr_pb(&mm->lo);
	const unsigned long base = pvmem_mm_pb_pfn(mm, mb, 0);
	unsigned long pb, pfn, pieces;
	int rc;

	lockdep_assert_held(&mm->lock);
	if (mm->taken_mb != PVMEM_NO_MB && mm->taken_mb != mb)
		return -EBUSY;
	pieces = mm->taken_mb == mb ? bitmap_weight(mm->taken, nr_pb) : 0;
	for (pb = 0; pb < nr_pb && pieces <= PVMEM_EMPTY_PIECES; pb++)
		pieces += pvmem_mm_pb_used(mm, mb, pb);
	if (pieces > PVMEM_EMPTY_PIECES)
		return -E2BIG;
	if (!pvmem_mm_room_for(mm, mb, base, base + PHYS_PFN(mm->lo.mb_size)))
		return -ENOMEM;
	mm->taken_mb = mb;
	for (pb = 0; pb < nr_pb; pb++) {
		if (!pvmem_mm_pb_used(mm, mb, pb))
			continue;
		pfn = pvmem_mm_pb_pfn(mm, mb, pb);
		rc = pvmem_mm_isolate_range(pfn, pfn + pageblock_nr_pages);
		/* What was taken so far stays so: the caller puts it back. */
		if (rc)
			return rc;
		__set_bit(pb, mm->taken);
	}
	return 0;
}

/**
 * pvmem_mm_put_taken - hand back what pvmem_mm_take_used() took
 * @mm: the device's memory layer
 * @mb: the memory block it took from (nothing happens if it took none)
 *
 * Pages in a Linux memory block that went offline meanwhile were never
 * handed out again; onlining gives them to the buddy afresh.
 *
 * Context: lock held.
 */
void pvmem_mm_put_taken(struct pvmem_mm *mm, u32 mb)
{
	const unsigned long nr_pb = pvmem_mm_nr_pb(&mm->lo);
	unsigned long pb, pfn;

	lockdep_assert_held(&mm->lock);
	if (mm->taken_mb != mb)
		return;
	for_each_set_bit(pb, mm->taken, nr_pb) {
		pfn = pvmem_mm_pb_pfn(mm, mb, pb);
		pvmem_mm_release_range(mm, pfn, pfn + pageblock_nr_pages);
	}
	pvmem_mm_untake(mm);
}

/**
 * pvmem_mm_in_use - how many pages in use plugged memory of a block holds
 * @mm: the device's memory layer
 * @mb: memory block index
 *
 * @sb: first device block
 * @nb: device blocks
 * Counts the pages not free in the buddy in the plugged device blocks of
 * [@sb, @sb + @nb) that are online, but not the block's own memory map.
 * A racy look (see pvmem_mm_plugged_used()), to choose where to unplug
 * and whether a block can be removed as it is; the memory notifier checks
 * again, exactly, before the block goes offline.
 *
 * Context: lock held.
 * Return: the count, at most U32_MAX.
 */
u32 pvmem_mm_in_use(struct pvmem_mm *mm, u32 mb, u32 sb, u32 nb)
{
	const unsigned long bs_pages = PHYS_PFN(mm->lo.block_size);
	const unsigned long base = PHYS_PFN(pvmem_layout_mb_addr(&mm->lo, mb));
	const unsigned long end = base + (sb + (unsigned long)nb) * bs_pages;
	unsigned long pfn, to, used = 0;

	lockdep_assert_held(&mm->lock);
	pfn = max(base + sb * bs_pages, base + pvmem_mm_memmap_inside(mm, mb));
	for (; pfn < end; pfn = to) {
		to = pvmem_mm_lmb_end(mm, pfn, end);
		if (pfn_to_online_page(pfn))
			used += pvmem_mm_plugged_used(mm, mb, pfn, to,
						      ULONG_MAX);
	}
	return min_t(unsigned long, used, U32_MAX);
}

/**
 * pvmem_mm_lock - take the map lock
 * @mm: the memory layer
 *
 * Context: process; may sleep (the notifier may hold it while Linux
 * onlines or offlines a memory block).
 */
void pvmem_mm_lock(struct pvmem_mm *mm)
{
	mutex_lock(&mm->lock);
}

void pvmem_mm_unlock(struct pvmem_mm *mm)
{
	mutex_unlock(&mm->lock);
}

/*
 * Pin the module while Linux holds (or is about to hold) memory of ours:
 * rmmod is refused.  Once rmmod has begun the pin cannot be taken, and
 * pvmem_mm_add() then adds nothing: a pass still running in a device's
 * remove() cannot leave memory behind an unloaded module.
 */
static void pvmem_mm_update_pin(struct pvmem_mm *mm)
{
	const bool added = mm->map.count[PVMEM_MB_UNUSED] != mm->map.nb_mb;

	if (added && !mm->pinned) {
		mm->pinned = try_module_get(THIS_MODULE);
	} else if (!added && mm->pinned) {
		module_put(THIS_MODULE);
		mm->pinned = false;
	}
}

/**
 * pvmem_mm_set_state - change a memory block's state, traced
 * @mm: the memory layer
 * @mb: memory block index
 * @state: the new state; the transition must be one enum pvmem_mb_state
 *	allows (pvmem's own bookkeeping: nothing the host can cause)
 *
 * Context: lock held (or the worker stopped and no notifier possible).
 */
void pvmem_mm_set_state(struct pvmem_mm *mm, u32 mb, enum pvmem_mb_state state)
{
	const enum pvmem_mb_state from = mm->map.state[mb];

	trace_pvmem_block(mm->name, pvmem_layout_mb_addr(&mm->lo, mb), from,
			  state, mm->map.nr_plugged[mb]);
	WARN_ON_ONCE(!pvmem_map_set_state(&mm->map, mb, state));
	pvmem_mm_update_pin(mm);
}

/**
 * pvmem_mm_plugged_bytes - what the map holds plugged
 * @mm: the memory layer
 *
 * Context: any; a racy read, for reporting.
 * Return: bytes.
 */
u64 pvmem_mm_plugged_bytes(const struct pvmem_mm *mm)
{
	return READ_ONCE(mm->map.total_plugged) * mm->lo.block_size;
}

/**
 * pvmem_mm_memmap_unplugged_bytes - memory map Linux keeps for unplugged
 *	memory
 * @mm: the memory layer
 *
 * The memory map of the unplugged device blocks inside memory blocks
 * Linux holds: a partly plugged memory block keeps the map for all of it.
 *
 * Context: process; takes lock.
 * Return: bytes.
 */
u64 pvmem_mm_memmap_unplugged_bytes(struct pvmem_mm *mm)
{
	const u64 per_sb = PHYS_PFN(mm->lo.block_size) * sizeof(struct page);
	u64 n;

	mutex_lock(&mm->lock);
	n = pvmem_map_unplugged_in_linux(&mm->map);
	mutex_unlock(&mm->lock);
	return n * per_sb;
}

/**
 * pvmem_mm_show_blocks - the block map as text
 * @mm: the memory layer
 * @m: where to print
 *
 * One line per run of memory blocks in the same state with the same
 * number of device blocks plugged: "<first>-<last> <state> <plugged>/<per
 * block>", first and last as Linux memory block numbers (memoryN in
 * /sys/devices/system/memory/; a big block spans several).  Unused memory
 * blocks are left out.
 *
 * Context: process; takes the lock.
 */
void pvmem_mm_show_blocks(struct pvmem_mm *mm, struct seq_file *m)
{
	const u64 first = mm->lo.first_mb_addr / mm->lo.lmb_size;
	const u64 lmbs = pvmem_mm_lmbs(mm);
	const struct pvmem_map *map = &mm->map;
	u32 mb, end;

	mutex_lock(&mm->lock);
	for (mb = 0; mb < map->nb_mb; mb = end) {
		for (end = mb + 1;
		     end < map->nb_mb && map->state[end] == map->state[mb] &&
		     map->nr_plugged[end] == map->nr_plugged[mb];
		     end++)
			;
		if (map->state[mb] == PVMEM_MB_UNUSED)
			continue;
		seq_printf(m, "%llu-%llu %s %u/%u\n", first + mb * lmbs,
			   first + end * lmbs - 1,
			   pvmem_mb_state_name(map->state[mb]),
			   map->nr_plugged[mb], map->sbs_per_mb);
	}
	mutex_unlock(&mm->lock);
}

/*
 * Count one page in use of a held device block by kind.  Racy reads of
 * page flags: the page may change kind meanwhile; good for a report.
 */
static void pvmem_mm_held_page(struct page *page, struct pvmem_mm_held *held)
{
	struct page *head = compound_head(page);

	if (PageSlab(page))
		held->slab++;
	else if (PageTable(page))
		held->page_tables++;
	else if (PageLRU(head) || __PageMovable(head))
		held->movable++;
	else
		held->other++;
}

/* The order of a free page, read racily: never more than the top. */
static unsigned int pvmem_mm_buddy_order(struct page *page)
{
	return min_t(unsigned long, page_private(page), PVMEM_TOP_ORDER);
}

/*
 * @pfn, or the end of the free buddy page it lies inside, if one begins
 * before it (a free page larger than a device block: its other pages
 * carry no flag of their own).
 */
static unsigned long pvmem_mm_past_free(unsigned long pfn)
{
	unsigned long head;
	struct page *page;
	unsigned int order;

	for (order = 1; order <= PVMEM_TOP_ORDER; order++) {
		head = ALIGN_DOWN(pfn, 1UL << order);
		if (head == pfn)
			continue;
		page = pfn_to_online_page(head);
		if (page && PageBuddy(page) &&
		    pvmem_mm_buddy_order(page) >= order)
			return head + (1UL << pvmem_mm_buddy_order(page));
	}
	return pfn;
}

/* Survey the held device blocks: what is in use there.  Lock held. */
static void pvmem_mm_held_survey(struct pvmem_mm *mm,
				 struct pvmem_mm_held *held)
{
	const struct pvmem_map *map = &mm->map;
	const unsigned long per_sb = PHYS_PFN(mm->lo.block_size);
	const u64 nbits = (u64)map->nb_mb * map->sbs_per_mb;
	const unsigned long first = PHYS_PFN(mm->lo.first_mb_addr);
	unsigned long pfn, end, bit;
	struct page *page;

	*held = (struct pvmem_mm_held){
		.bytes = map->nr_held * mm->lo.block_size,
	};
	for_each_set_bit(bit, map->held, nbits) {
		pfn = pvmem_mm_past_free(first + bit * per_sb);
		for (end = first + (bit + 1) * per_sb; pfn < end; pfn++) {
			page = pfn_to_online_page(pfn);
			if (!page || PageOffline(page))
				continue;
			if (PageBuddy(page)) {
				pfn += (1UL << pvmem_mm_buddy_order(page)) - 1;
				continue;
			}
			pvmem_mm_held_page(page, held);
		}
		cond_resched();
	}
}

/**
 * pvmem_mm_held - what holds the memory an unplug could not take
 * @mm: the memory layer
 * @held: filled in: the held bytes, and their pages in use by kind
 *
 * Surveys the held device blocks page by page once per change of the map's
 * held bits (every unplug attempt that fails changes them), so reading
 * it again costs nothing until the worker tries again.
 *
 * Context: process; takes the lock.
 */
void pvmem_mm_held(struct pvmem_mm *mm, struct pvmem_mm_held *held)
{
	mutex_lock(&mm->lock);
	if (!mm->held_valid || mm->held_gen != mm->map.held_gen) {
		pvmem_mm_held_survey(mm, &mm->held);
		mm->held_gen = mm->map.held_gen;
		mm->held_valid = true;
	}
	*held = mm->held;
	mutex_unlock(&mm->lock);
}

/* One entry of a range list: "a" or "a-b", a comma before all but the first. */
static int pvmem_mm_print_range(char *buf, int len, u64 start, u64 last)
{
	const char *sep = len ? "," : "";

	if (start == last)
		return sysfs_emit_at(buf, len, "%s%llu", sep, start);
	return sysfs_emit_at(buf, len, "%s%llu-%llu", sep, start, last);
}

/**
 * pvmem_mm_held_blocks - where the held memory is
 * @mm: the memory layer
 * @buf: a sysfs buffer (PAGE_SIZE)
 *
 * The Linux memory blocks (memoryN in /sys/devices/system/memory/) with
 * held device blocks, as a list of numbers and ranges ("37,40-42").
 *
 * Context: process; takes the lock.
 * Return: the length written, newline included.
 */
int pvmem_mm_held_blocks(struct pvmem_mm *mm, char *buf)
{
	const struct pvmem_map *map = &mm->map;
	const u64 nbits = (u64)map->nb_mb * map->sbs_per_mb;
	u64 addr, lo, hi, start = U64_MAX, last = 0;
	unsigned long bit;
	int len = 0;

	mutex_lock(&mm->lock);
	for_each_set_bit(bit, map->held, nbits) {
		/* A big device block spans several memory blocks. */
		addr = mm->lo.first_mb_addr + (u64)bit * mm->lo.block_size;
		lo = div64_u64(addr, mm->lo.lmb_size);
		hi = div64_u64(addr + mm->lo.block_size - 1, mm->lo.lmb_size);
		if (start != U64_MAX && lo <= last + 1) {
			last = max(last, hi);
			continue;
		}
		if (start != U64_MAX)
			len += pvmem_mm_print_range(buf, len, start, last);
		start = lo;
		last = hi;
	}
	if (start != U64_MAX)
		len += pvmem_mm_print_range(buf, len, start, last);
	mutex_unlock(&mm->lock);
	return len + sysfs_emit_at(buf, len, "\n");
}
