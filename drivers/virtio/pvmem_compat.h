/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem: what differs between the guest kernel series pvmem supports,
 * Debian's 6.1 and 6.12, in one place.  Each difference names the
 * release that changed it; nothing else in pvmem tests the version.
 * PVMEM_KERNEL is the series pvmem is built for, VERSION * 100 +
 * PATCHLEVEL (601, 612), set by Kbuild.
 */
#ifndef _PVMEM_COMPAT_H
#define _PVMEM_COMPAT_H

/*
 * 6.10: __assign_str() takes only the field; the source is the one the
 * field was declared with in __string().
 */
#if PVMEM_KERNEL >= 610
#define pvmem_assign_str(field, src) __assign_str(field)
#else
#define pvmem_assign_str(field, src) __assign_str(field, src)
#endif

/*
 * The largest buddy order.  6.8 calls it MAX_PAGE_ORDER (6.4 had already
 * made MAX_ORDER inclusive); before 6.4 MAX_ORDER is one above it.
 */
#if PVMEM_KERNEL >= 608
#define PVMEM_TOP_ORDER MAX_PAGE_ORDER
#else
#define PVMEM_TOP_ORDER (MAX_ORDER - 1)
#endif

/*
 * 6.12: offline_pages() takes from the managed page count only what
 * __offline_isolated_pages() found managed, which leaves out PageOffline
 * pages (hot-added memory is PageOffline from its memmap init on).
 * Before, it took the whole memory block, so the fake-offline pages had
 * to be counted in at MEM_GOING_OFFLINE (and out again on a cancel).
 */
#if PVMEM_KERNEL >= 612
#define PVMEM_OFFLINE_TAKES_ALL 0
#else
#define PVMEM_OFFLINE_TAKES_ALL 1
#endif

/*
 * 6.12: the memmap of hot-added memory starts out PageOffline (before,
 * PageReserved), and generic_online_page() clears PageOffline itself.
 * Pages the online page callback keeps back are then already
 * fake-offline: pvmem only marks them PageDirty ("never onlined"), and
 * leaves clearing PageOffline to generic_online_page() when it hands
 * them over later.  Before, pvmem sets and clears PageOffline itself and
 * clears PageReserved.
 */
#if PVMEM_KERNEL >= 612
#define PVMEM_MEMMAP_OFFLINE 1
#else
#define PVMEM_MEMMAP_OFFLINE 0
#endif

/*
 * Memory maps inside hot-added memory blocks (MHP_MEMMAP_ON_MEMORY, with
 * memory_hotplug.memmap_on_memory=1).  From 6.8 the kernel says whether
 * it will place them, through mhp_supports_memmap_on_memory() (exported
 * for dax/kmem, no argument), and quietly keeps a map in boot memory when
 * it will not.  6.1 exports
 * no such check and refuses such an addition with -EINVAL instead, so
 * pvmem asks once and remembers the answer (PVMEM_MEMMAP_ASK).  Both add
 * a memory map inside only if it fills whole PMDs and leaves whole
 * pageblocks, and 6.1 only for one memory block per addition.
 */
#if PVMEM_KERNEL >= 608
#define PVMEM_MEMMAP_ASK 0
#define pvmem_memmap_on_memory() mhp_supports_memmap_on_memory()
#else
#define PVMEM_MEMMAP_ASK 1
#define pvmem_memmap_on_memory() IS_ENABLED(CONFIG_MHP_MEMMAP_ON_MEMORY)
#endif

/*
 * Differences that need no code, because pvmem stays clear of them:
 * - the memory notifier's actions (MEM_GOING_ONLINE, ...) are bit flags
 *   in 6.1 and an enum memory_block_state from 6.12.110; pvmem only
 *   compares them by name, and never prints or stores the values;
 * - struct memory_notify gained altmap_start_pfn and altmap_nr_pages and
 *   the MEM_PREPARE_ONLINE and MEM_FINISH_OFFLINE actions in 6.9, for
 *   memory maps on the memory itself; pvmem reads only start_pfn and
 *   nr_pages (which leave out such a map on both series) and ignores
 *   both actions;
 * - alloc_contig_range() is a macro around alloc_contig_range_noprof()
 *   from 6.10 (memory allocation profiling); called the same way;
 * - 6.12 is built with MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO: hot-added
 *   memory is onlined at once, into a kernel zone unless the guest boots
 *   with memhp_default_state=online_movable; pvmem's notifier and online
 *   page callback see the same calls either way, only earlier;
 * - 6.12 has the virtio PCI transport built in (a module in 6.1).
 */

#endif /* _PVMEM_COMPAT_H */
