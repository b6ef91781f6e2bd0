/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/virtio_byteorder.h>, for
 * pvmem_core.c: the same helpers, for little-endian (VIRTIO_F_VERSION_1)
 * devices only, which is all pvmem calls them with.
 */
#ifndef _PVMEM_SHIM_VIRTIO_BYTEORDER_H
#define _PVMEM_SHIM_VIRTIO_BYTEORDER_H

#include <endian.h>
#include <linux/virtio_types.h>

static inline u16 __virtio16_to_cpu(bool little_endian, __virtio16 val)
{
	return little_endian ? le16toh(val) : be16toh(val);
}

static inline __virtio16 __cpu_to_virtio16(bool little_endian, u16 val)
{
	return little_endian ? htole16(val) : htobe16(val);
}

static inline __virtio64 __cpu_to_virtio64(bool little_endian, u64 val)
{
	return little_endian ? htole64(val) : htobe64(val);
}

#endif
