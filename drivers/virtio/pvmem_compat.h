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
#define pvmem_assign_str(field, src)	__assign_str(field)
#else
#define pvmem_assign_str(field, src)	__assign_str(field, src)
#endif

/*
 * The largest buddy order.  6.8 calls it MAX_PAGE_ORDER (6.4 had already
 * made MAX_ORDER inclusive); before 6.4 MAX_ORDER is one above it.
 */
#if PVMEM_KERNEL >= 608
#define PVMEM_TOP_ORDER		MAX_PAGE_ORDER
#else
#define PVMEM_TOP_ORDER		(MAX_ORDER - 1)
#endif

/*
 * 6.12: offline_pages() takes from the managed page count only what
 * __offline_isolated_pages() found managed, which leaves out PageOffline
 * pages (hot-added memory is PageOffline from its memmap init on).
 * Before, it took the whole memory block, so the fake-offline pages had
 * to be counted in at MEM_GOING_OFFLINE (and out again on a cancel).
 */
#if PVMEM_KERNEL >= 612
#define PVMEM_OFFLINE_TAKES_ALL	0
#else
#define PVMEM_OFFLINE_TAKES_ALL	1
#endif

#endif /* _PVMEM_COMPAT_H */
