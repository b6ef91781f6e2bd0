/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem: what differs between the guest kernel series pvmem supports,
 * Debian's 6.1 and 6.12, in one place.  Each difference names the
 * release that changed it; nothing else in pvmem tests the version.
 */
#ifndef _PVMEM_COMPAT_H
#define _PVMEM_COMPAT_H

#include <linux/version.h>

/*
 * 6.10: __assign_str() takes only the field; the source is the one the
 * field was declared with in __string().
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define pvmem_assign_str(field, src)	__assign_str(field)
#else
#define pvmem_assign_str(field, src)	__assign_str(field, src)
#endif

/*
 * The largest buddy order.  6.8 calls it MAX_PAGE_ORDER (6.4 had already
 * made MAX_ORDER inclusive); before 6.4 MAX_ORDER is one above it.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define PVMEM_TOP_ORDER		MAX_PAGE_ORDER
#else
#define PVMEM_TOP_ORDER		(MAX_ORDER - 1)
#endif

#endif /* _PVMEM_COMPAT_H */
