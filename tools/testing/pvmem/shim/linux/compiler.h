/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/compiler.h>, for pvmem_pass.c. */
#ifndef _PVMEM_SHIM_COMPILER_H
#define _PVMEM_SHIM_COMPILER_H

/* One untorn access each, as the kernel's; no ordering. */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

#endif
