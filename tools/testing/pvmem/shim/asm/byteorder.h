/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <asm/byteorder.h>, for pvmem_core.c. */
#ifndef _PVMEM_SHIM_BYTEORDER_H
#define _PVMEM_SHIM_BYTEORDER_H

#include <endian.h>

#define cpu_to_le16(x)	((__le16)htole16(x))
#define cpu_to_le64(x)	((__le64)htole64(x))
#define le16_to_cpu(x)	le16toh((__u16)(x))
#define le64_to_cpu(x)	le64toh((__u64)(x))

#endif
