/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem: paravirtualized memory driver, shared between the virtio driver
 * (drivers/virtio/pvmem_main.c) and the mm hooks (mm-hooks/pvmem_mm.c).
 */
#ifndef _PVMEM_H
#define _PVMEM_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pvmem_core.h"

/* Counters of faults to inject (CONFIG_PVMEM_FAULT_INJECT only). */
struct pvmem_fault {
	struct dentry *dir;
	atomic_t busy, nack, error;	/* answers instead of the device's */
	atomic_t bad_resp;		/* answers of an unknown type */
	atomic_t config;		/* config reads with addr changed */
	atomic_t isolate;		/* range isolations to fail */
	atomic_t add;			/* memory additions to fail */
};

/* The name every memory resource pvmem adds carries in /proc/iomem. */
#define PVMEM_RESOURCE_NAME	"System RAM (pvmem)"

/* What the device worker is doing; changed only by pvmem_set_state(). */
enum pvmem_dev_state {
	PVMEM_DEV_IDLE,		/* plugged_size matches what can be reached */
	PVMEM_DEV_UNPLUG_ALL,	/* clearing memory left plugged before probe */
	PVMEM_DEV_PLUGGING,		/* plugging towards requested_size */
	PVMEM_DEV_UNPLUGGING,	/* unplugging towards requested_size */
	PVMEM_DEV_WAIT_ONLINE,	/* plugging paused: offline_cap reached */
	PVMEM_DEV_RETRY,		/* waiting for the backoff to run again */
	PVMEM_DEV_BROKEN,		/* device misbehaved; no request is sent */
	PVMEM_DEV_STATE_NR
};

/**
 * struct pvmem_dev - one bound virtio-mem device
 *
 * Fields set during probe and never changed after: @vdev, @vq, @boot_cfg,
 * @lim, @lo, @nid, @mgid, @region, @name, @notifier.
 */
struct pvmem_dev {
	struct virtio_device *vdev;
	struct virtqueue *vq;
	struct pvmem_cfg boot_cfg;	/* config accepted at probe */
	struct pvmem_limits lim;
	struct pvmem_layout lo;
	int nid;			/* NUMA node of the region */
	int mgid;			/* dynamic memory group id */
	struct resource *region;	/* claims [addr, addr + region_size) */
	char name[32];			/* for messages once vdev may be gone */
	struct notifier_block notifier;
	struct notifier_block pm_notifier;	/* refuses suspend/hibernation */

	/*
	 * Owned by the worker (pvmem_work()): only it reads the config,
	 * sends requests and changes these.  Others may read them racily
	 * for reporting.
	 */
	struct pvmem_cfg cfg;		/* last validated config */
	enum pvmem_dev_state state;
	const char *broken_reason;
	bool unplug_all_pending;	/* device had memory plugged at probe */
	bool pinned;			/* holds a module reference */
	unsigned int retry_ms;		/* next backoff */
	u64 nr_req[PVMEM_REQ_NR];	/* requests sent, by type */
	u64 nr_resp[PVMEM_RESP_NR];	/* valid responses, by type */
	u64 nr_resp_invalid;		/* invalid or missing responses */
	u64 bytes_plugged;		/* acknowledged PLUGs, in bytes */
	u64 bytes_unplugged;		/* acknowledged UNPLUGs, in bytes */
	u64 nr_retries;			/* backoff retries scheduled */
	u64 last_req_ns;		/* boot time of the last request */
	u16 last_req_type;		/* PVMEM_REQ_* of the last request */
	u16 last_resp_type;		/* its answer, PVMEM_RESP_NR if none */
	u64 nr_isolate_busy;		/* unplug runs that would not migrate */
	u64 nr_isolate_nomem;		/* ... that found no memory to migrate to */
	u64 nr_remove_failed;		/* empty memory blocks not yet removed */
	u64 nr_plug_nomem;		/* plug passes paused for memory maps */
	bool plug_starved;		/* the last plug pass was one of those */
	struct pvmem_req req;		/* request buffer, device reads */
	struct pvmem_resp resp;		/* response buffer, device writes */
	wait_queue_head_t resp_wq;	/* woken by the virtqueue callback */
	struct delayed_work work;

	/*
	 * @stop_lock protects @stopping: once set under it, the config
	 * interrupt no longer queues the worker.
	 */
	spinlock_t stop_lock;
	bool stopping;
	atomic_t config_changed;	/* config interrupt since last read */

	/*
	 * @hp_lock protects @map and @removing against the memory notifier,
	 * which holds it from MEM_GOING_ONLINE/OFFLINE until the matching
	 * MEM_ONLINE/OFFLINE/CANCEL_*; the online page callback runs inside
	 * that window.  Never call add_memory or offline_and_remove_memory
	 * with it held.
	 */
	struct mutex hp_lock;
	struct pvmem_map map;
	void *map_mem;
	bool removing;			/* onlining/offlining is refused */
	bool hp_active;			/* notifier holds hp_lock */

	struct list_head mm_node;	/* on pvmem_mm_devs, RCU */

	/*
	 * Knobs, set from the module parameters at probe and through sysfs;
	 * written with WRITE_ONCE() by sysfs stores (which validate them),
	 * read with READ_ONCE() by the worker.
	 */
	bool unplug_online;		/* may unplug online memory */
	u64 offline_cap;		/* bytes added but not onlined, at most */
	unsigned int retry_min_ms;	/* first backoff */
	unsigned int retry_max_ms;	/* backoff cap */

	struct pvmem_fault fault;
};

/* Ranges the retry knobs are checked against. */
#define PVMEM_RETRY_MS_MIN	10
#define PVMEM_RETRY_MS_MAX	3600000

static inline u64 pvmem_mb_addr(const struct pvmem_dev *pv, u32 mb)
{
	return pv->lo.first_mb_addr + (u64)mb * pv->lo.mb_size;
}

static inline u64 pvmem_run_addr(const struct pvmem_dev *pv,
				 const struct pvmem_run *run)
{
	return pvmem_mb_addr(pv, run->mb) + (u64)run->sb * pv->lo.block_size;
}

/* drivers/virtio/pvmem_main.c */
void pvmem_mb_set_state(struct pvmem_dev *pv, u32 mb, enum pvmem_mb_state state);
void pvmem_kick(struct pvmem_dev *pv);
const char *pvmem_dev_state_name(enum pvmem_dev_state state);

/* drivers/virtio/pvmem_sysfs.c */
extern const struct attribute_group *pvmem_groups[];

/* drivers/virtio/pvmem_fault.c */
#ifdef CONFIG_PVMEM_FAULT_INJECT
int pvmem_fault_resp(struct pvmem_dev *pv);
bool pvmem_fault_config(struct pvmem_dev *pv);
bool pvmem_fault_isolate(struct pvmem_dev *pv);
bool pvmem_fault_add(struct pvmem_dev *pv);
void pvmem_fault_init(struct pvmem_dev *pv);
void pvmem_fault_exit(struct pvmem_dev *pv);
void pvmem_fault_cleanup(void);
#else
static inline int pvmem_fault_resp(struct pvmem_dev *pv) { return -1; }
static inline bool pvmem_fault_config(struct pvmem_dev *pv) { return false; }
static inline bool pvmem_fault_isolate(struct pvmem_dev *pv) { return false; }
static inline bool pvmem_fault_add(struct pvmem_dev *pv) { return false; }
static inline void pvmem_fault_init(struct pvmem_dev *pv) { }
static inline void pvmem_fault_exit(struct pvmem_dev *pv) { }
static inline void pvmem_fault_cleanup(void) { }
#endif

/* mm-hooks/pvmem_mm.c */
int pvmem_mm_register(struct pvmem_dev *pv);
void pvmem_mm_unregister(struct pvmem_dev *pv);
int pvmem_mm_add(struct pvmem_dev *pv, u32 mb, u32 nr);
int pvmem_mm_remove(struct pvmem_dev *pv, u32 mb);
void pvmem_mm_release(struct pvmem_dev *pv, const struct pvmem_run *run);
int pvmem_mm_isolate(struct pvmem_dev *pv, const struct pvmem_run *run);
bool pvmem_mm_room(struct pvmem_dev *pv, u32 mb);
u32 pvmem_mm_add_room(struct pvmem_dev *pv);

#endif /* _PVMEM_H */
