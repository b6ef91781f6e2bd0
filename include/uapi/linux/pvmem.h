/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pvmem: the wire protocol of the virtio-mem device (virtio device ID 24).
 *
 * The kernel's <linux/virtio_mem.h> defines it: requests (struct
 * virtio_mem_req, 24 bytes), responses (struct virtio_mem_resp, 10 bytes),
 * the config space (struct virtio_mem_config, 56 bytes), the request,
 * response and state codes and the feature bits.  This header adds only
 * what Debian's 6.1 headers lack, and the sizes pvmem pins with
 * BUILD_BUG_ON().
 */
#ifndef _UAPI_LINUX_PVMEM_H
#define _UAPI_LINUX_PVMEM_H

#include <linux/virtio_ids.h>
#include <linux/virtio_mem.h>

/*
 * Plugged memory stays plugged across suspend to RAM (virtio spec 1.3;
 * in <linux/virtio_mem.h> since Linux 6.10).  pvmem does not negotiate it
 * yet.
 */
#ifndef VIRTIO_MEM_F_PERSISTENT_SUSPEND
#define VIRTIO_MEM_F_PERSISTENT_SUSPEND 2
#endif

/* How many request, response and state codes there are. */
#define PVMEM_REQ_NR 4
#define PVMEM_RESP_NR 4
#define PVMEM_STATE_NR 3

/* Wire sizes. */
#define PVMEM_REQ_SIZE 24
#define PVMEM_RESP_SIZE 10
#define PVMEM_CONFIG_SIZE 56

#endif /* _UAPI_LINUX_PVMEM_H */
