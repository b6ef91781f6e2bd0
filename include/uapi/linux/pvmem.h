/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pvmem: wire protocol of the paravirtualized memory device (virtio-mem,
 * virtio device ID 24), as the pvmem guest driver speaks it.
 *
 * The device exposes one physical memory region ("addr", "region_size") on
 * one NUMA node.  The region is carved into device blocks ("block_size").
 * The host announces how much of the region it wants the guest to use
 * ("requested_size"); the guest plugs and unplugs device blocks with
 * requests on the single guest-to-host virtqueue until "plugged_size"
 * matches.  Only the first "usable_region_size" bytes of the region may be
 * plugged.
 *
 * Every request is one struct pvmem_req (24 bytes, device readable) followed
 * by one struct pvmem_resp (10 bytes, device writable) in the same
 * descriptor chain.  All fields are little endian (VIRTIO_F_VERSION_1).
 */
#ifndef _UAPI_LINUX_PVMEM_H
#define _UAPI_LINUX_PVMEM_H

#include <linux/types.h>

/* Virtio device ID of the memory device. */
#define PVMEM_VIRTIO_ID			24

/* --- feature bits --- */

/* node_id is an ACPI proximity domain (PXM) and is valid. */
#define PVMEM_F_ACPI_PXM		0
/* Unplugged memory must never be read or written by the guest. */
#define PVMEM_F_UNPLUGGED_INACCESSIBLE	1
/* Plugged memory stays plugged across suspend to RAM (not used yet). */
#define PVMEM_F_PERSISTENT_SUSPEND	2

/* --- guest -> host request types (struct pvmem_req.type) --- */

/* Plug nb_blocks device blocks starting at addr. */
#define PVMEM_REQ_PLUG			0
/* Unplug nb_blocks device blocks starting at addr. */
#define PVMEM_REQ_UNPLUG		1
/* Unplug everything; the device may shrink usable_region_size. */
#define PVMEM_REQ_UNPLUG_ALL		2
/* Ask whether nb_blocks device blocks at addr are plugged. */
#define PVMEM_REQ_STATE			3
#define PVMEM_REQ_NR			4

/*
 * Address and length of the device blocks a PLUG, UNPLUG or STATE request
 * acts on.  addr is aligned to block_size, nb_blocks is not zero, and the
 * range lies inside the usable region.  Unused for UNPLUG_ALL (zero).
 */
struct pvmem_req_range {
	__le64 addr;
	__le16 nb_blocks;
	__le16 padding[3];
};

struct pvmem_req {
	__le16 type;			/* PVMEM_REQ_* */
	__le16 padding[3];
	struct pvmem_req_range u;
};

/* --- host -> guest response types (struct pvmem_resp.type) --- */

/* Done.  Valid for: PLUG, UNPLUG, UNPLUG_ALL, STATE. */
#define PVMEM_RESP_ACK			0
/* Refused, e.g. plugging beyond requested_size.  Valid for: PLUG. */
#define PVMEM_RESP_NACK			1
/* Cannot be done now, try again later.  Valid for: PLUG, UNPLUG, UNPLUG_ALL. */
#define PVMEM_RESP_BUSY			2
/* Bad request (alignment, range, state).  Valid for: PLUG, UNPLUG, STATE. */
#define PVMEM_RESP_ERROR		3
#define PVMEM_RESP_NR			4

/* --- STATE answers (struct pvmem_resp.state), with PVMEM_RESP_ACK --- */

/* Every block in the range is plugged. */
#define PVMEM_STATE_PLUGGED		0
/* Every block in the range is unplugged. */
#define PVMEM_STATE_UNPLUGGED		1
/* Some blocks are plugged, some are not. */
#define PVMEM_STATE_MIXED		2
#define PVMEM_STATE_NR			3

struct pvmem_resp {
	__le16 type;			/* PVMEM_RESP_* */
	__le16 padding[3];
	__le16 state;			/* PVMEM_STATE_*, STATE requests only */
};

/* --- device configuration space (read only for the driver) --- */

struct pvmem_config {
	/* Device block size and alignment, a power of two.  Never changes. */
	__le64 block_size;
	/* ACPI PXM of the region (with PVMEM_F_ACPI_PXM).  Never changes. */
	__le16 node_id;
	__u8 padding[6];
	/* Guest physical start of the region.  Never changes. */
	__le64 addr;
	/* Size of the whole region.  Never changes. */
	__le64 region_size;
	/*
	 * The first usable_region_size bytes may be plugged.  Grows up to
	 * region_size with a config interrupt; may shrink after UNPLUG_ALL
	 * without one.
	 */
	__le64 usable_region_size;
	/* Bytes plugged now.  Changes with requests, without an interrupt. */
	__le64 plugged_size;
	/* Bytes the host wants plugged.  Changes with a config interrupt. */
	__le64 requested_size;
};

/* Wire sizes, pinned with BUILD_BUG_ON() in the driver. */
#define PVMEM_REQ_SIZE			24
#define PVMEM_RESP_SIZE			10
#define PVMEM_CONFIG_SIZE		56

#endif /* _UAPI_LINUX_PVMEM_H */
