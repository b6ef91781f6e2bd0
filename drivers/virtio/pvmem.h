/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem: the virtio driver's device, shared by its files (pvmem_main.c,
 * pvmem_sysfs.c, pvmem_fault.c).  Layers point down only: driver ->
 * memory layer (mm-hooks/pvmem_mm.h) -> passes and core (pvmem_pass.h,
 * pvmem_core.h).
 */
#ifndef _PVMEM_H
#define _PVMEM_H

#include <linux/crash_dump.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pvmem_mm.h"
#include "pvmem_pass.h"

/* Counters of faults to inject (CONFIG_PVMEM_FAULT_INJECT only). */
struct pvmem_fault {
	atomic_t busy, nack, error; /* answers instead of the device's */
	atomic_t bad_resp; /* answers of an unknown type */
	atomic_t config; /* config reads with addr changed */
	atomic_t isolate; /* range isolations to fail */
	atomic_t add; /* memory additions to fail */
	atomic_t late; /* requests answered after the timeout */
	atomic_t lost; /* requests the device never gets */
	atomic_t slow_ms; /* answers taken this late (a setting) */
};

/*
 * How a struct pvmem_dev stands to its virtio device; changed only under
 * @stop_lock, by probe, remove() and the worker:
 *
 *   probe --> BOUND --remove(), memory left in Linux--> DETACHED
 *               ^                                          |
 *               +-- worker <-- REBOUND <--probe, same region+
 *
 * A DETACHED one is freed by its worker once Linux holds none of its
 * memory; probe frees a BOUND one at once when nothing is left.
 */
enum pvmem_bind {
	PVMEM_BOUND, /* the worker drives the device */
	PVMEM_REBOUND, /* probed over a DETACHED one's memory: worker adopts */
	PVMEM_DETACHED, /* no device; the worker only removes empty memory */
};

/**
 * struct pvmem_dev - one virtio-mem device, and its memory in Linux
 * @vdev: the virtio device, referenced (get_device()) from probe until
 *	the next binding or pvmem_free(); after remove() only for messages
 *	of a pass that was running then
 * @prev_vdev: the virtio device of the binding before, until this one's
 *	worker first runs (a pass of that binding may still name it)
 * @vq: the guest-to-host request queue; NULL from pvmem_freeze() until
 *	pvmem_restore() creates it again (with the worker frozen), and
 *	once unbound
 * @vq_lock: protects @vq and the queue's use: a request in flight
 *	holds it, so remove() deletes the queue only after the request
 *	ended (at once: remove() wakes it)
 * @persistent: the device keeps plugged memory across suspend to RAM
 *	(VIRTIO_MEM_F_PERSISTENT_SUSPEND negotiated)
 * @nid: NUMA node of the region
 * @region: claims [addr, addr + region_size) against other drivers
 * @name: the device's name, for messages once @vdev may be gone
 * @pm_notifier: refuses suspend and hibernation while memory is plugged
 * @mm: the memory layer: block map, its lock, notifier, hotplug calls
 * @ctl: the passes: config, state, knobs, backoff, pass counters
 * @nr_req: requests sent, by type
 * @nr_resp: valid responses, by type
 * @nr_resp_invalid: invalid or missing responses
 * @bytes_plugged: acknowledged PLUGs, in bytes
 * @bytes_unplugged: acknowledged UNPLUGs, in bytes
 * @last_req_ns: boot time of the last request
 * @last_req_type: VIRTIO_MEM_REQ_* of the last request
 * @last_resp_type: its answer, PVMEM_RESP_NR while none
 * @req: request buffer, the device reads it
 * @resp: response buffer, the device writes it
 * @resp_wq: woken by the virtqueue callback
 * @work: the worker, the only one that sends requests and runs passes
 * @stop_lock: protects @stopping, @bind and @running
 * @stopping: once set, nothing queues @work any more (but remove(),
 *	for the worker of a DETACHED device)
 * @bind: enum pvmem_bind
 * @running: the worker is in a pass (remove() then leaves passes to it)
 * @rebind_cfg: the config the next binding probed with (REBOUND)
 * @orphan: in the list of DETACHED devices, under pvmem_orphans_lock
 * @left_behind: remove() left memory blocks in Linux (worker: say when
 *	they are all gone)
 * @config_changed: a config interrupt came since the worker last read
 *	the config
 * @kdump: a crash kernel: nothing is plugged, unplugged or added; only
 *	@kdump_plugged and @vmcore_cb serve the dump
 * @kdump_plugged: device blocks the device had plugged at probe (STATE)
 * @kdump_bytes: how much that is
 * @vmcore_cb: tells /proc/vmcore which pages of the region to read
 * @debugfs: the device's debugfs directory (pvmem_debugfs.c)
 * @fault: counters of faults to inject (CONFIG_PVMEM_FAULT_INJECT)
 *
 * Set at probe and never changed after: @nid, @region; @vdev, @name and
 * @persistent change only when a new binding adopts a DETACHED device.  The request counters
 * and @last_* are written by the worker only (WRITE_ONCE()) and read
 * racily for reporting.
 */
struct pvmem_dev {
	struct virtio_device *vdev;
	struct virtio_device *prev_vdev;
	struct virtqueue *vq;
	struct mutex vq_lock; /* protects @vq and its use */
	bool persistent;
	int nid;
	struct resource *region;
	char name[32];
	struct notifier_block pm_notifier;

	struct pvmem_mm mm;
	struct pvmem_ctl ctl;

	u64 nr_req[PVMEM_REQ_NR];
	u64 nr_resp[PVMEM_RESP_NR];
	u64 nr_resp_invalid;
	u64 bytes_plugged;
	u64 bytes_unplugged;
	u64 last_req_ns;
	u16 last_req_type;
	u16 last_resp_type;
	struct virtio_mem_req req;
	struct virtio_mem_resp resp;
	wait_queue_head_t resp_wq;
	struct delayed_work work;

	spinlock_t stop_lock; /* protects @stopping, @bind, @running */
	bool stopping;
	enum pvmem_bind bind;
	bool running;
	struct pvmem_cfg rebind_cfg;
	struct list_head orphan;
	bool left_behind;
	atomic_t config_changed;

	bool kdump;
	unsigned long *kdump_plugged;
	u64 kdump_bytes;
	struct vmcore_cb vmcore_cb;

	struct dentry *debugfs;
	struct pvmem_fault fault;
};

/* drivers/virtio/pvmem_main.c */
void pvmem_kick(struct pvmem_dev *pv);
void pvmem_rerun(struct pvmem_dev *pv);

/* drivers/virtio/pvmem_sysfs.c */
extern const struct attribute_group *pvmem_groups[];

/* drivers/virtio/pvmem_debugfs.c */
void pvmem_debugfs_add(struct pvmem_dev *pv);
void pvmem_debugfs_remove(struct pvmem_dev *pv);
void pvmem_debugfs_exit(void);

/* drivers/virtio/pvmem_fault.c */
#ifdef CONFIG_PVMEM_FAULT_INJECT
int pvmem_fault_resp(struct pvmem_dev *pv);
bool pvmem_fault_late(struct pvmem_dev *pv);
bool pvmem_fault_lost(struct pvmem_dev *pv);
bool pvmem_fault_slow(struct pvmem_dev *pv);
bool pvmem_fault_config(struct pvmem_dev *pv);
bool pvmem_fault_isolate(struct pvmem_dev *pv);
bool pvmem_fault_add(struct pvmem_dev *pv);
void pvmem_fault_init(struct pvmem_dev *pv, struct dentry *dir);
#else
static inline int pvmem_fault_resp(struct pvmem_dev *pv)
{
	return -1;
}

static inline bool pvmem_fault_late(struct pvmem_dev *pv)
{
	return false;
}

static inline bool pvmem_fault_lost(struct pvmem_dev *pv)
{
	return false;
}

static inline bool pvmem_fault_slow(struct pvmem_dev *pv)
{
	return false;
}

static inline bool pvmem_fault_config(struct pvmem_dev *pv)
{
	return false;
}

static inline bool pvmem_fault_isolate(struct pvmem_dev *pv)
{
	return false;
}

static inline bool pvmem_fault_add(struct pvmem_dev *pv)
{
	return false;
}

static inline void pvmem_fault_init(struct pvmem_dev *pv, struct dentry *dir)
{
}
#endif

#endif /* _PVMEM_H */
