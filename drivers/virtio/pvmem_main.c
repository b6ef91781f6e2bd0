// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem: paravirtualized memory for virtio-mem devices (virtio ID 24).
 *
 * A device offers one region of guest physical memory on one NUMA node.
 * The host sets requested_size; pvmem plugs device blocks (2 MiB in QEMU's
 * default) until plugged_size matches, adding each Linux memory block
 * (128 MiB on x86-64) that receives plugged device blocks with
 * add_memory_driver_managed() in a dynamic memory group.  A memory block
 * may be partly plugged: the rest stays fake-offline (see mm-hooks/), so
 * any multiple of the device block size can be honoured exactly.
 *
 * All device traffic happens in one work item per device, pvmem_work():
 * it re-reads and validates the config, sends one request at a time and
 * waits a bounded time for the answer.  BUSY and out-of-memory are retried
 * with exponential backoff; anything impossible marks the device broken
 * and stops all traffic, never the guest.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/acpi.h>
#include <linux/log2.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/numa.h>
#include <linux/scatterlist.h>
#include <linux/suspend.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "pvmem.h"

#define CREATE_TRACE_POINTS
#include "pvmem_trace.h"

/*
 * Module parameters: defaults for each device's knobs (see pvmem_sysfs.c),
 * read at probe; response_timeout, force_bbm and bbm_block_size only at
 * load.
 */
/* Descriptions stay one string (checkpatch), after the call. */
/* clang-format off */
static bool unplug_online = true;
module_param(unplug_online, bool, 0644);
MODULE_PARM_DESC(unplug_online,
		 "Unplug from online memory, migrating what is in use (default: Y)");

static unsigned int offline_cap_mb = 1024;
module_param(offline_cap_mb, uint, 0644);
MODULE_PARM_DESC(offline_cap_mb,
		 "Memory added but not yet onlined, at most, in MiB (default: 1024)");

static unsigned int retry_min_ms = 100;
module_param(retry_min_ms, uint, 0644);
MODULE_PARM_DESC(retry_min_ms, "First retry backoff in ms, 10-3600000 (default: 100)");

static unsigned int retry_max_ms = 30000;
module_param(retry_max_ms, uint, 0644);
MODULE_PARM_DESC(retry_max_ms, "Retry backoff cap in ms, 10-3600000 (default: 30000)");

static unsigned int tidy_ms;
module_param(tidy_ms, uint, 0644);
MODULE_PARM_DESC(tidy_ms, "At rest, empty one sparsely plugged memory block this often, in ms, 10-3600000; 0: never (default: 0)");

static unsigned int response_timeout = 60;
module_param(response_timeout, uint, 0444);
MODULE_PARM_DESC(response_timeout,
		 "Seconds to wait for the device to answer a request, 1-3600 (default: 60)");

static bool force_bbm;
module_param(force_bbm, bool, 0444);
MODULE_PARM_DESC(force_bbm,
		 "Big-block mode for every device: plug, add and remove whole big blocks only (default: N; on anyway for device blocks above the memory block size)");

static unsigned long bbm_block_size;
module_param(bbm_block_size, ulong, 0444);
MODULE_PARM_DESC(bbm_block_size,
		 "Big-block size in bytes in big-block mode: 0 or a power of two from the memory block size to 16 GiB; never below the device block size (default: 0, the larger of the two)");
/* clang-format on */

/* Config reads before pvmem gives up on a generation-consistent one. */
#define PVMEM_CONFIG_TRIES 16

static u32 pvmem_generation(struct virtio_device *vdev)
{
	return vdev->config->generation ? vdev->config->generation(vdev) : 0;
}

/*
 * The whole config as one snapshot: read again while the device's config
 * generation changes under the read (bounded; the last read is returned
 * if it never settles, and the passes check it like any other).
 */
static void pvmem_read_config(struct pvmem_dev *pv, struct pvmem_cfg *cfg)
{
	struct virtio_device *vdev = pv->vdev;
	u32 gen;
	int i;

	for (i = 0; i < PVMEM_CONFIG_TRIES; i++) {
		gen = pvmem_generation(vdev);
		virtio_cread_le(vdev, struct virtio_mem_config, block_size,
				&cfg->block_size);
		virtio_cread_le(vdev, struct virtio_mem_config, node_id,
				&cfg->node_id);
		virtio_cread_le(vdev, struct virtio_mem_config, addr,
				&cfg->addr);
		virtio_cread_le(vdev, struct virtio_mem_config, region_size,
				&cfg->region_size);
		virtio_cread_le(vdev, struct virtio_mem_config,
				usable_region_size, &cfg->usable_region_size);
		virtio_cread_le(vdev, struct virtio_mem_config, plugged_size,
				&cfg->plugged_size);
		virtio_cread_le(vdev, struct virtio_mem_config, requested_size,
				&cfg->requested_size);
		if (pvmem_generation(vdev) == gen)
			return;
	}
	dev_warn_ratelimited(&vdev->dev, "config kept changing over %d reads\n",
			     PVMEM_CONFIG_TRIES);
}

static void pvmem_vq_done(struct virtqueue *vq)
{
	struct pvmem_dev *pv = vq->vdev->priv;

	wake_up(&pv->resp_wq);
}

/*
 * Condition for wait_event: fetch the used buffer, if any; or the device
 * is gone (surprise removal breaks the queue) or going (remove() cannot
 * wait for a request of a running pass); remove() wakes us for both.
 */
static bool pvmem_resp_ready(struct pvmem_dev *pv, void **buf,
			     unsigned int *len)
{
	*buf = virtqueue_get_buf(pv->vq, len);
	return *buf || virtqueue_is_broken(pv->vq) ||
	       READ_ONCE(pv->bind) == PVMEM_DETACHED;
}

/* Device responses become answers here; the passes decide what they mean. */
static enum pvmem_answer pvmem_resp_answer(u16 type)
{
	switch (type) {
	case VIRTIO_MEM_RESP_ACK:
		return PVMEM_ANS_ACK;
	case VIRTIO_MEM_RESP_NACK:
		return PVMEM_ANS_NACK;
	case VIRTIO_MEM_RESP_BUSY:
		return PVMEM_ANS_BUSY;
	default:
		return PVMEM_ANS_ERROR;
	}
}

/* Count and trace a request going out. */
static void pvmem_note_request(struct pvmem_dev *pv, u16 type, u64 addr, u16 nb)
{
	trace_pvmem_request(pv->name, type, addr, nb);
	WRITE_ONCE(pv->nr_req[type], pv->nr_req[type] + 1);
	WRITE_ONCE(pv->last_req_ns, ktime_get_boottime_ns());
	WRITE_ONCE(pv->last_req_type, type);
	WRITE_ONCE(pv->last_resp_type, PVMEM_RESP_NR);
}

/* A request got no valid answer (@ans): count and trace it. */
static enum pvmem_answer pvmem_bad_resp(struct pvmem_dev *pv, u16 type,
					u64 addr, u16 nb, enum pvmem_answer ans)
{
	trace_pvmem_response(pv->name, type, addr, nb, ans);
	WRITE_ONCE(pv->nr_resp_invalid, pv->nr_resp_invalid + 1);
	return ans;
}

static enum pvmem_answer pvmem_timed_out(struct pvmem_dev *pv, u16 type,
					 u64 addr, u16 nb)
{
	dev_err(&pv->vdev->dev, "no response to %s within %u s\n",
		pvmem_req_name(type), response_timeout);
	return pvmem_bad_resp(pv, type, addr, nb, PVMEM_ANS_TIMEOUT);
}

/* Surprise removal, or remove() while the request was in flight. */
static enum pvmem_answer pvmem_gone(struct pvmem_dev *pv, u16 type, u64 addr,
				    u16 nb)
{
	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	if (READ_ONCE(pv->bind) == PVMEM_DETACHED)
		dev_warn(&pv->vdev->dev, "unbound with %s in flight: its memory stays away from Linux\n",
			 pvmem_req_name(type));
	else
		dev_err(&pv->vdev->dev, "device went away during %s\n",
			pvmem_req_name(type));
	/* clang-format on */
	return pvmem_bad_resp(pv, type, addr, nb, PVMEM_ANS_GONE);
}

/* Check, count and trace the answer to a request. */
static enum pvmem_answer pvmem_handle_resp(struct pvmem_dev *pv, u16 type,
					   u64 addr, u16 nb,
					   const struct virtio_mem_resp *resp,
					   unsigned int len, u16 *state)
{
	const u64 bytes = (u64)nb * pv->ctl.lo.block_size;
	struct pvmem_reply reply;
	enum pvmem_resp_err err;
	enum pvmem_answer ans;

	err = pvmem_resp_decode(type, resp, len, &reply);
	if (err) {
		dev_err(&pv->vdev->dev,
			"bad response to %s (len %u, type %u): %s\n",
			pvmem_req_name(type), len,
			__virtio16_to_cpu(true, resp->type),
			pvmem_resp_errstr(err));
		return pvmem_bad_resp(pv, type, addr, nb, PVMEM_ANS_INVALID);
	}
	ans = pvmem_resp_answer(reply.type);
	*state = reply.state;
	trace_pvmem_response(pv->name, type, addr, nb, ans);
	WRITE_ONCE(pv->nr_resp[reply.type], pv->nr_resp[reply.type] + 1);
	WRITE_ONCE(pv->last_resp_type, reply.type);
	if (ans == PVMEM_ANS_ACK && type == VIRTIO_MEM_REQ_PLUG)
		WRITE_ONCE(pv->bytes_plugged, pv->bytes_plugged + bytes);
	else if (ans == PVMEM_ANS_ACK && type == VIRTIO_MEM_REQ_UNPLUG)
		WRITE_ONCE(pv->bytes_unplugged, pv->bytes_unplugged + bytes);
	return ans;
}

/* pvmem_send() with @vq_lock held. */
static enum pvmem_answer pvmem_send_locked(struct pvmem_dev *pv, u16 type,
					   u64 addr, u16 nb, u16 *state)
{
	struct scatterlist sg_req, sg_resp, *sgs[2] = { &sg_req, &sg_resp };
	struct virtio_mem_resp fake;
	unsigned int len = 0;
	void *buf = NULL;
	int rc;

	pvmem_req_encode(&pv->req, type, addr, nb);
	memset(&pv->resp, 0, sizeof(pv->resp));
	/*
	 * A new binding's queue waits for its worker (REBOUND): a pass of the
	 * old one still running sends nothing on it.
	 */
	if (READ_ONCE(pv->bind) == PVMEM_REBOUND)
		return PVMEM_ANS_UNSENT;
	/* No queue: unbound, or a resume could not create it again. */
	if (!pv->vq)
		return PVMEM_ANS_GONE;
	if (pvmem_fault_lost(pv)) {
		pvmem_note_request(pv, type, addr, nb);
		return pvmem_timed_out(pv, type, addr, nb);
	}
	rc = pvmem_fault_resp(pv);
	if (rc >= 0) {
		/* Injected: answered as a device would, without reaching it. */
		pvmem_note_request(pv, type, addr, nb);
		memset(&fake, 0, sizeof(fake));
		fake.type = __cpu_to_virtio16(true, rc);
		return pvmem_handle_resp(pv, type, addr, nb, &fake,
					 sizeof(fake), state);
	}
	sg_init_one(&sg_req, &pv->req, sizeof(pv->req));
	sg_init_one(&sg_resp, &pv->resp, sizeof(pv->resp));
	if (virtqueue_add_sgs(pv->vq, sgs, 1, 1, pv, GFP_KERNEL))
		return PVMEM_ANS_UNSENT;
	pvmem_note_request(pv, type, addr, nb);
	virtqueue_kick(pv->vq);

	if (pvmem_fault_slow(pv))
		return pvmem_gone(pv, type, addr, nb);
	if (!wait_event_timeout(pv->resp_wq, pvmem_resp_ready(pv, &buf, &len),
				response_timeout * HZ))
		return pvmem_timed_out(pv, type, addr, nb);
	if (!buf)
		return pvmem_gone(pv, type, addr, nb);
	/* Injected: the device acted, but its answer came too late. */
	if (pvmem_fault_late(pv))
		return pvmem_timed_out(pv, type, addr, nb);
	if (buf != pv) {
		dev_err(&pv->vdev->dev,
			"response to %s for an unknown request\n",
			pvmem_req_name(type));
		return pvmem_bad_resp(pv, type, addr, nb, PVMEM_ANS_INVALID);
	}
	return pvmem_handle_resp(pv, type, addr, nb, &pv->resp, len, state);
}

/**
 * pvmem_send - send one request and wait for its response
 * @pv: the device
 * @type: VIRTIO_MEM_REQ_*
 * @addr: first device block
 * @nb: number of device blocks
 * @state: for STATE: VIRTIO_MEM_STATE_* if the answer is an ACK
 *
 * Waits at most response_timeout, and not at all once remove() detached
 * the device.  A device that never answers keeps the buffers: none is
 * reused, since the device is then marked broken (or reset by remove()).
 *
 * Context: the worker (or remove() while the worker is not in a pass);
 * may sleep.
 * Return: how the request ended.
 */
static enum pvmem_answer pvmem_send(struct pvmem_dev *pv, u16 type, u64 addr,
				    u16 nb, u16 *state)
{
	enum pvmem_answer ans;

	mutex_lock(&pv->vq_lock);
	ans = pvmem_send_locked(pv, type, addr, nb, state);
	mutex_unlock(&pv->vq_lock);
	return ans;
}

/* --- the backend the passes drive: this device and the memory layer --- */

static void pvmem_be_read_config(void *be, struct pvmem_cfg *cfg)
{
	struct pvmem_dev *pv = be;

	atomic_set(&pv->config_changed, 0);
	pvmem_read_config(pv, cfg);
	if (pvmem_fault_config(pv))
		cfg->addr += pv->ctl.lo.block_size;
}

static bool pvmem_be_config_changed(void *be)
{
	struct pvmem_dev *pv = be;

	return atomic_read(&pv->config_changed);
}

static enum pvmem_answer pvmem_be_send(void *be, u16 type, u64 addr, u16 nb)
{
	u16 state;

	return pvmem_send(be, type, addr, nb, &state);
}

static enum pvmem_answer pvmem_be_query(void *be, u64 addr, u16 nb, u16 *state)
{
	return pvmem_send(be, VIRTIO_MEM_REQ_STATE, addr, nb, state);
}

static void pvmem_be_lock(void *be)
{
	pvmem_mm_lock(&((struct pvmem_dev *)be)->mm);
}

static void pvmem_be_unlock(void *be)
{
	pvmem_mm_unlock(&((struct pvmem_dev *)be)->mm);
}

static void pvmem_be_set_state(void *be, u32 mb, enum pvmem_mb_state state)
{
	pvmem_mm_set_state(&((struct pvmem_dev *)be)->mm, mb, state);
}

static int pvmem_be_add(void *be, u32 mb, u32 nr, bool *selfmap)
{
	struct pvmem_dev *pv = be;

	if (pvmem_fault_add(pv))
		return -ENOMEM;
	return pvmem_mm_add(&pv->mm, mb, nr, selfmap);
}

static int pvmem_be_remove(void *be, u32 mb)
{
	return pvmem_mm_remove(&((struct pvmem_dev *)be)->mm, mb);
}

static int pvmem_be_isolate(void *be, const struct pvmem_run *run)
{
	struct pvmem_dev *pv = be;

	cond_resched();
	if (pvmem_fault_isolate(pv))
		return -EBUSY;
	return pvmem_mm_isolate(&pv->mm, run);
}

static int pvmem_be_take_used(void *be, u32 mb)
{
	struct pvmem_dev *pv = be;

	cond_resched();
	if (pvmem_fault_isolate(pv))
		return -EBUSY;
	return pvmem_mm_take_used(&pv->mm, mb);
}

static void pvmem_be_put_taken(void *be, u32 mb)
{
	pvmem_mm_put_taken(&((struct pvmem_dev *)be)->mm, mb);
}

static void pvmem_be_release(void *be, const struct pvmem_run *run)
{
	pvmem_mm_release(&((struct pvmem_dev *)be)->mm, run);
}

static u32 pvmem_be_in_use(void *be, u32 mb, u32 sb, u32 nb)
{
	/* Walks the memory map: a whole big block of it, perhaps. */
	cond_resched();
	return pvmem_mm_in_use(&((struct pvmem_dev *)be)->mm, mb, sb, nb);
}

static u32 pvmem_be_add_room(void *be)
{
	return pvmem_mm_add_room(&((struct pvmem_dev *)be)->mm);
}

/* Every message the passes cause; listed in the admin guide. */
static void pvmem_be_report(void *be, enum pvmem_event ev, u64 a, u64 b,
			    int err)
{
	struct pvmem_dev *pv = be;
	struct device *dev = &pv->vdev->dev;

	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	switch (ev) {
	case PVMEM_EV_BROKEN:
		dev_err(dev, "device marked broken: %s; no more requests are sent, plugged memory stays in use\n",
			pv->ctl.broken_reason);
		break;
	case PVMEM_EV_CONFIG_REJECTED:
		dev_err(dev, "config update rejected: %s%s\n", pvmem_cfg_errstr(a),
			pvmem_cfg_err_mutable(a) ?
			" (in every read of " __stringify(PVMEM_CFG_BAD_PASSES) " passes)" : "");
		break;
	case PVMEM_EV_PLUGGED_MISMATCH:
		dev_err(dev, "device reports plugged_size %#llx, pvmem plugged %#llx\n",
			a, b);
		break;
	case PVMEM_EV_LEFTOVERS_CLEARED:
		dev_info(dev, "unplugged all memory left plugged before probe\n");
		break;
	case PVMEM_EV_ADD_FAILED:
		dev_warn_ratelimited(dev, "adding memory %#llx+%#llx failed: %d\n",
				     a, b, err);
		break;
	case PVMEM_EV_PLUG_PAUSED:
		dev_warn(dev, "plugging paused: too little free memory for memory maps, retrying\n");
		break;
	case PVMEM_EV_PLUG_OUTSIDE:
		dev_warn_once(dev, "requested size needs device blocks outside whole memory blocks of the usable region\n");
		break;
	case PVMEM_EV_ADOPTED:
		dev_info(dev, "took over %llu MiB plugged memory an earlier binding left in Linux; unplugged %llu MiB left over\n",
			 a >> 20, b >> 20);
		break;
	case PVMEM_EV_RESIZE:
		dev_info(dev, "plugged size: 0x%llx\n", a);
		dev_info(dev, "requested size: 0x%llx\n", b);
		break;
	case PVMEM_EV_UNPLUG_ALL_FAILED:
		dev_warn(dev, "UNPLUG_ALL failed; the host still sees memory plugged\n");
		break;
	case PVMEM_EV_ADOPT_LOST:
		dev_err(dev, "device says %#llx+%#llx is not plugged, but Linux holds that memory: its contents are gone\n",
			a, b);
		break;
	default:
		break;
	}
	/* clang-format on */
}

static u64 pvmem_be_now_ms(void *be)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

static const struct pvmem_backend_ops pvmem_backend = {
	.read_config = pvmem_be_read_config,
	.config_changed = pvmem_be_config_changed,
	.send = pvmem_be_send,
	.query = pvmem_be_query,
	.lock = pvmem_be_lock,
	.unlock = pvmem_be_unlock,
	.set_state = pvmem_be_set_state,
	.add = pvmem_be_add,
	.remove = pvmem_be_remove,
	.isolate = pvmem_be_isolate,
	.take_used = pvmem_be_take_used,
	.put_taken = pvmem_be_put_taken,
	.release = pvmem_be_release,
	.in_use = pvmem_be_in_use,
	.add_room = pvmem_be_add_room,
	.now_ms = pvmem_be_now_ms,
	.report = pvmem_be_report,
};

/* --- the worker --- */

/* The worker's queue: freezable, and flushed by module exit. */
static struct workqueue_struct *pvmem_wq;

/*
 * Devices unbound with memory left in Linux (enum pvmem_bind DETACHED):
 * a probe of the same region adopts one.  The lock also orders a DETACHED
 * device's freeing by its worker against its adoption.
 */
static DEFINE_MUTEX(pvmem_orphans_lock);
static LIST_HEAD(pvmem_orphans);

/*
 * Queue the worker in @delay jiffies, unless the device is going away;
 * with @config, as for a config interrupt (the pass re-reads the config).
 */
static void pvmem_queue_work(struct pvmem_dev *pv, unsigned long delay,
			     bool config)
{
	unsigned long flags;

	spin_lock_irqsave(&pv->stop_lock, flags);
	if (!pv->stopping) {
		if (config)
			atomic_set(&pv->config_changed, 1);
		mod_delayed_work(pvmem_wq, &pv->work, delay);
	}
	spin_unlock_irqrestore(&pv->stop_lock, flags);
}

static void pvmem_queue(struct pvmem_dev *pv, unsigned long delay)
{
	pvmem_queue_work(pv, delay, false);
}

static void pvmem_free(struct pvmem_dev *pv);

/*
 * The worker of a DETACHED device: take memory blocks with nothing
 * plugged out of Linux (this may wait for the hotplug locks remove() was
 * under), and free the device once Linux holds none of its memory.
 * Memory blocks with plugged memory stay for a later binding to adopt.
 */
static void pvmem_reap(struct pvmem_dev *pv)
{
	bool again, gone = false;
	u32 left;

	left = pvmem_ctl_reap(&pv->ctl, &again);
	mutex_lock(&pvmem_orphans_lock);
	spin_lock_irq(&pv->stop_lock);
	if (pv->bind == PVMEM_DETACHED) {
		if (!left) {
			list_del(&pv->orphan);
			gone = true;
		} else if (again) {
			unsigned long delay =
				msecs_to_jiffies(pv->ctl.knobs.retry_max_ms);

			mod_delayed_work(pvmem_wq, &pv->work, delay);
		}
	}
	spin_unlock_irq(&pv->stop_lock);
	if (gone) {
		if (pv->left_behind)
			pr_info("%s: the memory of the unbound device is out of Linux\n",
				pv->name);
		/* Under the lock: a probe now finds the region free, or us. */
		pvmem_free(pv);
	}
	mutex_unlock(&pvmem_orphans_lock);
}

static void pvmem_work(struct work_struct *work)
{
	struct pvmem_dev *pv =
		container_of(to_delayed_work(work), struct pvmem_dev, work);
	enum pvmem_result res;
	enum pvmem_bind bind;
	unsigned int delay;

	spin_lock_irq(&pv->stop_lock);
	bind = pv->bind;
	/* Unbinding: the passes are remove()'s now. */
	if (bind != PVMEM_DETACHED && pv->stopping) {
		spin_unlock_irq(&pv->stop_lock);
		return;
	}
	if (bind == PVMEM_REBOUND)
		pv->bind = PVMEM_BOUND;
	pv->running = bind != PVMEM_DETACHED;
	spin_unlock_irq(&pv->stop_lock);

	if (bind == PVMEM_DETACHED) {
		pvmem_reap(pv);
		return;
	}
	if (bind == PVMEM_REBOUND) {
		/* The old binding's last pass is over. */
		if (pv->prev_vdev)
			put_device(&pv->prev_vdev->dev);
		pv->prev_vdev = NULL;
		pvmem_ctl_rebind(&pv->ctl, &pv->rebind_cfg);
	}
	res = pvmem_ctl_pass(&pv->ctl);
	delay = pvmem_ctl_settle(&pv->ctl, res);
	spin_lock_irq(&pv->stop_lock);
	pv->running = false;
	spin_unlock_irq(&pv->stop_lock);
	if (delay == PVMEM_NO_PASS)
		return;
	if (res == PVMEM_RES_RETRY && delay)
		trace_pvmem_retry(pv->name, delay, pv->ctl.why);
	pvmem_queue(pv, msecs_to_jiffies(delay));
}

/* Ignored once the device is going away: teardown must not be cut short. */
static void pvmem_config_changed(struct virtio_device *vdev)
{
	pvmem_queue_work(vdev->priv, 0, true);
}

/**
 * pvmem_kick - run the worker now if it is waiting
 * @pv: the device
 *
 * For the memory notifier (memory got onlined, or an offlining ended),
 * offline_cap and the retry_now knob: see pvmem_ctl_kick().
 *
 * Context: any; does not sleep.
 */
void pvmem_kick(struct pvmem_dev *pv)
{
	if (pvmem_ctl_kick(&pv->ctl))
		pvmem_queue(pv, 0);
}

/**
 * pvmem_rerun - run a pass now
 * @pv: the device, not a crash kernel's
 *
 * For knobs that passes at rest read (tidy_ms): the pass finds nothing
 * to do but schedules itself anew.
 */
void pvmem_rerun(struct pvmem_dev *pv)
{
	pvmem_queue(pv, 0);
}

/* The memory layer's callback: onlining or offlining ended. */
static void pvmem_hotplug_ended(void *data)
{
	pvmem_kick(data);
}

static const struct pvmem_mm_ops pvmem_mm_ops = {
	.kick = pvmem_hotplug_ended,
};

/*
 * Which sleep may keep plugged memory?  Suspend to idle: the device keeps
 * its state.  Suspend to RAM: only if the device says it keeps plugged
 * memory (VIRTIO_MEM_F_PERSISTENT_SUSPEND).  Hibernation: never, the
 * image would bring back memory the device no longer backs.  Return what
 * is refused, or NULL.
 */
static const char *pvmem_sleep_refused(struct pvmem_dev *pv, bool hibernation)
{
	if (!pvmem_mm_plugged_bytes(&pv->mm))
		return NULL;
	if (hibernation)
		return "hibernation";
	if (pm_suspend_target_state == PM_SUSPEND_TO_IDLE)
		return NULL;
	/* Unbound: no device to keep it. */
	if (READ_ONCE(pv->persistent) && READ_ONCE(pv->bind) != PVMEM_DETACHED)
		return NULL;
	return "suspend to RAM";
}

static void pvmem_sleep_message(struct pvmem_dev *pv, const char *what)
{
	/* pv->name, not the device: this outlives an unbind that left memory. */
	pr_err("%s: %s refused: %llu MiB plugged, which the device does not keep across it; set the request to 0 first\n",
	       pv->name, what, pvmem_mm_plugged_bytes(&pv->mm) >> 20);
}

/*
 * Before any sleep: passes end after the run in hand, so the freezable
 * worker freezes quickly; hibernation with memory plugged is refused at
 * once.  The final word on suspend is pvmem_freeze()'s, once the worker
 * is frozen and the sleep state is known.
 */
static int pvmem_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *arg)
{
	struct pvmem_dev *pv = container_of(nb, struct pvmem_dev, pm_notifier);
	const char *what;

	switch (action) {
	case PM_HIBERNATION_PREPARE:
		what = pvmem_sleep_refused(pv, true);
		if (what) {
			pvmem_sleep_message(pv, what);
			return notifier_from_errno(-EBUSY);
		}
		fallthrough;
	case PM_SUSPEND_PREPARE:
		pvmem_ctl_stop(&pv->ctl, true);
		return NOTIFY_OK;
	case PM_POST_HIBERNATION:
	case PM_POST_SUSPEND:
		pvmem_ctl_stop(&pv->ctl, false);
		pvmem_queue_work(pv, 0, true);
		return NOTIFY_OK;
	default:
		return NOTIFY_DONE;
	}
}

/*
 * The race-free point: tasks and the freezable worker are frozen, no
 * request is in flight, and pm_suspend_target_state says which sleep
 * this is (PM_SUSPEND_ON while hibernating).  Refuse what cannot keep
 * plugged memory; otherwise drop the queue, which the reset at resume
 * destroys anyway.
 */
static int pvmem_freeze(struct virtio_device *vdev)
{
	struct pvmem_dev *pv = vdev->priv;
	const char *what;

	what = pvmem_sleep_refused(pv,
				   pm_suspend_target_state == PM_SUSPEND_ON);
	if (what) {
		pvmem_sleep_message(pv, what);
		return -EBUSY;
	}
	mutex_lock(&pv->vq_lock);
	vdev->config->del_vqs(vdev);
	pv->vq = NULL;
	mutex_unlock(&pv->vq_lock);
	return 0;
}

/*
 * After the device reset of a resume (or the thaw of a hibernation): a
 * new queue, and a pass that re-reads and re-checks the config.
 */
static int pvmem_restore(struct virtio_device *vdev)
{
	struct pvmem_dev *pv = vdev->priv;
	struct virtqueue *vq;

	vq = virtio_find_single_vq(vdev, pvmem_vq_done, "guest-request");
	if (IS_ERR(vq)) {
		dev_err(&vdev->dev, "no request queue after resume: %ld\n",
			PTR_ERR(vq));
		return PTR_ERR(vq);
	}
	mutex_lock(&pv->vq_lock);
	pv->vq = vq;
	mutex_unlock(&pv->vq_lock);
	virtio_device_ready(vdev);
	pvmem_config_changed(vdev);
	return 0;
}

/* NUMA node of the region: the device's ACPI PXM, else the address. */
static int pvmem_find_node(struct pvmem_dev *pv)
{
	int nid = NUMA_NO_NODE;

#if defined(CONFIG_ACPI_NUMA)
	if (virtio_has_feature(pv->vdev, VIRTIO_MEM_F_ACPI_PXM))
		nid = pxm_to_node(pv->ctl.boot_cfg.node_id);
#endif
	if (nid == NUMA_NO_NODE || !node_possible(nid))
		nid = memory_add_physaddr_to_nid(pv->ctl.boot_cfg.addr);
	return nid;
}

/*
 * Big-block size forced for a device with @cfg: bbm_block_size (or the
 * memory block size) where big-block mode is forced or the device blocks
 * are larger than a memory block; 0 elsewhere.
 */
static u64 pvmem_bbm_size(const struct pvmem_cfg *cfg)
{
	const u64 mb_size = memory_block_size_bytes();

	if (!force_bbm && cfg->block_size <= mb_size)
		return 0;
	return max_t(u64, bbm_block_size, mb_size);
}

static int pvmem_check_config(struct pvmem_dev *pv)
{
	const struct range range = mhp_get_pluggable_range(true);
	enum pvmem_cfg_err err;

	pvmem_read_config(pv, &pv->ctl.boot_cfg);
	pv->ctl.lim = (struct pvmem_limits){
		.page_size = PAGE_SIZE,
		.pageblock_size = PAGE_SIZE << pageblock_order,
		.mb_size = memory_block_size_bytes(),
		.plug_start = range.start,
		.plug_end = range.end,
		.memmap_size = pvmem_mm_memmap_size(),
		.bbm_size = pvmem_bbm_size(&pv->ctl.boot_cfg),
	};
	err = pvmem_cfg_check(&pv->ctl.boot_cfg, &pv->ctl.lim);
	if (err) {
		dev_err(&pv->vdev->dev,
			"invalid config: %s (block_size %#llx addr %#llx region_size %#llx usable %#llx plugged %#llx requested %#llx; pluggable %#llx-%#llx)\n",
			pvmem_cfg_errstr(err), pv->ctl.boot_cfg.block_size,
			pv->ctl.boot_cfg.addr, pv->ctl.boot_cfg.region_size,
			pv->ctl.boot_cfg.usable_region_size,
			pv->ctl.boot_cfg.plugged_size,
			pv->ctl.boot_cfg.requested_size, pv->ctl.lim.plug_start,
			pv->ctl.lim.plug_end);
		return -EINVAL;
	}
	return 0;
}

/* Claim the whole region so nobody else (or a second pvmem) maps it. */
static int pvmem_claim_region(struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;

	pv->region = __request_mem_region(cfg->addr, cfg->region_size, pv->name,
					  IORESOURCE_SYSTEM_RAM |
						  IORESOURCE_EXCLUSIVE);
	if (!pv->region) {
		dev_err(&pv->vdev->dev,
			"region %#llx-%#llx is already claimed (memory of an earlier binding still added?)\n",
			cfg->addr, cfg->addr + cfg->region_size - 1);
		return -EBUSY;
	}
	/* Not busy: add_memory_driver_managed() places System RAM under it. */
	pv->region->flags &= ~IORESOURCE_BUSY;
	return 0;
}

static void pvmem_release_region(struct pvmem_dev *pv)
{
	release_resource(pv->region);
	kfree(pv->region);
	pv->region = NULL;
}

static void pvmem_init_dev(struct pvmem_dev *pv, struct virtio_device *vdev)
{
	struct pvmem_knobs *knobs = &pv->ctl.knobs;

	pv->vdev = vdev;
	vdev->priv = pv;
	strscpy(pv->name, dev_name(&vdev->dev), sizeof(pv->name));
	knobs->unplug_online = READ_ONCE(unplug_online);
	knobs->retry_min_ms = clamp(READ_ONCE(retry_min_ms), PVMEM_RETRY_MS_MIN,
				    PVMEM_RETRY_MS_MAX);
	knobs->retry_max_ms = clamp(READ_ONCE(retry_max_ms),
				    knobs->retry_min_ms, PVMEM_RETRY_MS_MAX);
	knobs->tidy_ms = READ_ONCE(tidy_ms);
	if (knobs->tidy_ms)
		knobs->tidy_ms = clamp(knobs->tidy_ms, PVMEM_RETRY_MS_MIN,
				       PVMEM_RETRY_MS_MAX);
	pv->last_resp_type = PVMEM_RESP_NR;
	init_waitqueue_head(&pv->resp_wq);
	INIT_DELAYED_WORK(&pv->work, pvmem_work);
	mutex_init(&pv->vq_lock);
	spin_lock_init(&pv->stop_lock);
	INIT_LIST_HEAD(&pv->orphan);
	pv->persistent =
		virtio_has_feature(vdev, VIRTIO_MEM_F_PERSISTENT_SUSPEND);
	get_device(&vdev->dev);
}

/*
 * Find the DETACHED device an earlier binding of this region left, take
 * it off the list and mark it REBOUND: its worker will not free it now.
 */
static struct pvmem_dev *pvmem_orphan_take(const struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;
	struct pvmem_dev *o, *found = NULL;

	mutex_lock(&pvmem_orphans_lock);
	list_for_each_entry(o, &pvmem_orphans, orphan) {
		if (o->ctl.boot_cfg.addr != cfg->addr ||
		    pvmem_cfg_check_update(&o->ctl.boot_cfg, cfg, &o->ctl.lim))
			continue;
		list_del_init(&o->orphan);
		spin_lock_irq(&o->stop_lock);
		o->bind = PVMEM_REBOUND;
		spin_unlock_irq(&o->stop_lock);
		found = o;
		break;
	}
	mutex_unlock(&pvmem_orphans_lock);
	return found;
}

/*
 * Probe over memory an unbound device left in Linux: the DETACHED device
 * @o (still managing that memory) takes the new binding's device and
 * queue from @pv, which goes; o's worker checks the memory first.
 */
static void pvmem_adopt_orphan(struct pvmem_dev *o, struct pvmem_dev *pv)
{
	struct virtio_device *vdev = pv->vdev;
	struct virtio_device *old = o->vdev;

	mutex_lock(&o->vq_lock);
	o->vq = pv->vq;
	mutex_unlock(&o->vq_lock);
	o->rebind_cfg = pv->ctl.boot_cfg;
	WRITE_ONCE(o->persistent, pv->persistent);
	strscpy(o->name, pv->name, sizeof(o->name));
	o->vdev = vdev; /* pv's reference */
	vdev->priv = o;
	kfree(pv);
	/* A pass of the old binding may still name it in a message. */
	if (o->prev_vdev)
		put_device(&o->prev_vdev->dev);
	o->prev_vdev = old;

	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	dev_info(&vdev->dev, "adopting %llu MiB plugged memory an earlier binding left in Linux\n",
		 pvmem_mm_plugged_bytes(&o->mm) >> 20);
	/* clang-format on */
	spin_lock_irq(&o->stop_lock);
	o->stopping = false;
	spin_unlock_irq(&o->stop_lock);
	pvmem_debugfs_add(o);
	virtio_device_ready(vdev);
	pvmem_queue_work(o, 0, true);
}

/* --- a crash kernel --- */

/*
 * /proc/vmcore reads a page of the region only if the device had it
 * plugged: unplugged memory holds nothing of the crashed kernel, and
 * reading it would make the host back it (or fault, with
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE).
 */
static bool pvmem_vmcore_pfn_is_ram(struct vmcore_cb *cb, unsigned long pfn)
{
	struct pvmem_dev *pv = container_of(cb, struct pvmem_dev, vmcore_cb);
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;
	const u64 addr = PFN_PHYS(pfn);

	if (addr < cfg->addr || addr - cfg->addr >= cfg->region_size)
		return true;
	return test_bit((addr - cfg->addr) / cfg->block_size,
			pv->kdump_plugged);
}

/*
 * Probe in a crash kernel (is_kdump_kernel()): the device's memory is the
 * crashed kernel's, and the dump exists to capture it.  Plug, unplug and
 * add nothing (no UNPLUG_ALL of "leftovers"); ask the device which blocks
 * are plugged, once, and let /proc/vmcore skip the rest.
 */
static int pvmem_kdump_probe(struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;
	struct device *dev = &pv->vdev->dev;
	s64 found;

	pv->kdump_plugged =
		bitmap_zalloc(cfg->region_size / cfg->block_size, GFP_KERNEL);
	if (!pv->kdump_plugged)
		return -ENOMEM;
	pv->kdump = true;
	/* Nothing queues the worker: no pass ever runs. */
	pv->stopping = true;
	pvmem_ctl_init(&pv->ctl, &pvmem_backend, pv, &pv->mm.map);
	virtio_device_ready(pv->vdev);
	found = pvmem_ctl_survey(&pv->ctl, pv->kdump_plugged);
	if (found < 0) {
		dev_err(dev,
			"kdump mode: a STATE request failed; /proc/vmcore skips the memory not known to be plugged\n");
		found = bitmap_weight(pv->kdump_plugged,
				      cfg->region_size / cfg->block_size);
	}
	pv->kdump_bytes = (u64)found * cfg->block_size;
	pv->vmcore_cb.pfn_is_ram = pvmem_vmcore_pfn_is_ram;
	register_vmcore_cb(&pv->vmcore_cb);
	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	dev_info(dev, "kdump mode: %llu MiB plugged (device reports %llu MiB), left as it is; /proc/vmcore reads only plugged memory\n",
		 pv->kdump_bytes >> 20, cfg->plugged_size >> 20);
	/* clang-format on */
	return 0;
}

static void pvmem_kdump_remove(struct pvmem_dev *pv)
{
	struct virtio_device *vdev = pv->vdev;

	unregister_vmcore_cb(&pv->vmcore_cb);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	bitmap_free(pv->kdump_plugged);
	vdev->priv = NULL;
	put_device(&vdev->dev);
	kfree(pv);
}

/*
 * The device's layout at probe, in the stock virtio_mem driver's words
 * (tools that watch for that driver parse these lines), then what pvmem
 * adds: the usable region and whether leftovers go first.
 */
static void pvmem_probe_info(struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;
	struct device *dev = &pv->vdev->dev;

	dev_info(dev, "start address: 0x%llx\n", cfg->addr);
	dev_info(dev, "region size: 0x%llx\n", cfg->region_size);
	dev_info(dev, "device block size: 0x%llx\n", pv->ctl.lo.block_size);
	dev_info(dev, "nid: %d\n", pv->nid);
	dev_info(dev, "memory block size: 0x%llx\n", pv->ctl.lo.lmb_size);
	if (pv->ctl.lo.bbm)
		dev_info(dev, "big-block mode, big block size: 0x%llx\n",
			 pv->ctl.lo.mb_size);
	dev_info(dev, "usable region size: 0x%llx\n", cfg->usable_region_size);
	dev_info(dev, "plugged size: 0x%llx\n", cfg->plugged_size);
	dev_info(dev, "requested size: 0x%llx\n", cfg->requested_size);
	if (pv->ctl.state == PVMEM_DEV_LEFTOVERS)
		dev_info(dev, "unplugging memory plugged before probe\n");
}

static int pvmem_probe(struct virtio_device *vdev)
{
	struct pvmem_dev *pv, *o;
	int rc;

	BUILD_BUG_ON(sizeof(struct virtio_mem_req) != PVMEM_REQ_SIZE);
	BUILD_BUG_ON(sizeof(struct virtio_mem_resp) != PVMEM_RESP_SIZE);
	BUILD_BUG_ON(sizeof(struct virtio_mem_config) != PVMEM_CONFIG_SIZE);

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config space is not readable\n");
		return -EINVAL;
	}
	pv = kzalloc(sizeof(*pv), GFP_KERNEL);
	if (!pv)
		return -ENOMEM;
	pvmem_init_dev(pv, vdev);

	pv->vq = virtio_find_single_vq(vdev, pvmem_vq_done, "guest-request");
	if (IS_ERR(pv->vq)) {
		rc = PTR_ERR(pv->vq);
		goto err_free_dev;
	}
	rc = pvmem_check_config(pv);
	if (rc)
		goto err_del_vq;
	if (is_kdump_kernel()) {
		rc = pvmem_kdump_probe(pv);
		if (rc)
			goto err_del_vq;
		return 0;
	}
	o = pvmem_orphan_take(pv);
	if (o) {
		pvmem_adopt_orphan(o, pv);
		return 0;
	}
	pv->nid = pvmem_find_node(pv);
	pv->ctl.knobs.offline_cap =
		clamp_t(u64, (u64)READ_ONCE(offline_cap_mb) << 20,
			pvmem_mb_size(&pv->ctl.boot_cfg, &pv->ctl.lim),
			pv->ctl.boot_cfg.region_size);
	pvmem_ctl_init(&pv->ctl, &pvmem_backend, pv, &pv->mm.map);
	rc = pvmem_mm_init(&pv->mm, &pv->ctl.lo, pv->ctl.lim.memmap_size,
			   pv->name, pv->nid);
	if (rc)
		goto err_del_vq;
	rc = pvmem_claim_region(pv);
	if (rc)
		goto err_exit_mm;
	rc = pvmem_mm_register(&pv->mm, &pvmem_mm_ops, pv);
	if (rc) {
		dev_err(&vdev->dev,
			"the online page callback is taken (is virtio_mem loaded?)\n");
		goto err_release_region;
	}
	pv->pm_notifier.notifier_call = pvmem_pm_notify;
	rc = register_pm_notifier(&pv->pm_notifier);
	if (rc)
		goto err_unregister_mm;

	pvmem_probe_info(pv);

	pvmem_debugfs_add(pv);
	virtio_device_ready(vdev);
	pvmem_queue_work(pv, 0, true);
	return 0;

err_unregister_mm:
	pvmem_mm_unregister(&pv->mm);
err_release_region:
	pvmem_release_region(pv);
err_exit_mm:
	pvmem_mm_exit(&pv->mm);
err_del_vq:
	vdev->config->del_vqs(vdev);
err_free_dev:
	vdev->priv = NULL;
	put_device(&vdev->dev);
	kfree(pv);
	return rc;
}

/* Undo a successful probe; the worker is not running and never will. */
static void pvmem_free(struct pvmem_dev *pv)
{
	unregister_pm_notifier(&pv->pm_notifier);
	pvmem_mm_unregister(&pv->mm);
	pvmem_release_region(pv);
	pvmem_mm_exit(&pv->mm);
	put_device(&pv->vdev->dev);
	if (pv->prev_vdev)
		put_device(&pv->prev_vdev->dev);
	kfree(pv);
}

/*
 * No more requests: a request of a running pass ends at once (its
 * outcome unknown), then the queue goes with the device's reset.
 */
static void pvmem_detach(struct pvmem_dev *pv)
{
	struct virtio_device *vdev = pv->vdev;

	spin_lock_irq(&pv->stop_lock);
	pv->bind = PVMEM_DETACHED;
	spin_unlock_irq(&pv->stop_lock);
	wake_up(&pv->resp_wq);
	mutex_lock(&pv->vq_lock);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	pv->vq = NULL;
	mutex_unlock(&pv->vq_lock);
}

/*
 * remove() may run under the device and memory hotplug locks (ACPI
 * hot-unplug of the PCI function takes device_hotplug_lock first), so it
 * waits for nothing that may wait for them: not for a running pass (which
 * may be adding or removing memory), and it removes no memory itself.  If
 * no pass is running it gives the device back all it can (bounded
 * migration, then UNPLUG).  Whatever is left in Linux stays managed by
 * the DETACHED device: its worker removes the memory blocks with nothing
 * plugged once the locks are free, and a later probe of the same region
 * adopts the rest.
 */
static void pvmem_remove(struct virtio_device *vdev)
{
	struct pvmem_dev *pv = vdev->priv;
	struct device *dev = &vdev->dev;
	bool running;
	u32 left;

	if (pv->kdump) {
		pvmem_kdump_remove(pv);
		return;
	}
	spin_lock_irq(&pv->stop_lock);
	pv->stopping = true;
	running = pv->running;
	spin_unlock_irq(&pv->stop_lock);
	/* A running pass ends after its run; a pending one never starts. */
	pvmem_ctl_stop(&pv->ctl, true);
	cancel_delayed_work(&pv->work);
	pvmem_debugfs_remove(pv);
	atomic_set(&pv->config_changed, 0);

	if (!running)
		pvmem_ctl_teardown(&pv->ctl);
	pvmem_detach(pv);

	left = pvmem_ctl_in_linux(&pv->ctl);
	pv->left_behind = left;
	if (!running && !left) {
		vdev->priv = NULL;
		pvmem_free(pv);
		return;
	}
	/* Messages stay one string (checkpatch), after the call. */
	/* clang-format off */
	if (left)
		dev_info(dev, "unbound with %u memory blocks in Linux (%llu MiB plugged): pvmem keeps managing them\n",
			 left, pvmem_mm_plugged_bytes(&pv->mm) >> 20);
	/* clang-format on */
	mutex_lock(&pvmem_orphans_lock);
	list_add(&pv->orphan, &pvmem_orphans);
	mutex_unlock(&pvmem_orphans_lock);
	/* After a running pass: queued while stopping, for the reaper. */
	mod_delayed_work(pvmem_wq, &pv->work, 0);
}

static unsigned int pvmem_features[] = {
	VIRTIO_MEM_F_ACPI_PXM,
	VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE,
	VIRTIO_MEM_F_PERSISTENT_SUSPEND,
};

static const struct virtio_device_id pvmem_id_table[] = {
	{ VIRTIO_ID_MEM, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static struct virtio_driver pvmem_driver = {
	.feature_table = pvmem_features,
	.feature_table_size = ARRAY_SIZE(pvmem_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.driver.dev_groups = pvmem_groups,
	.id_table = pvmem_id_table,
	.probe = pvmem_probe,
	.remove = pvmem_remove,
	.config_changed = pvmem_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = pvmem_freeze,
	.restore = pvmem_restore,
#endif
};

/* Parameters that only matter at load are checked here: bad ones refuse. */
static int __init pvmem_init(void)
{
	int rc;

	if (response_timeout < 1 || response_timeout > 3600) {
		pr_err("response_timeout=%u is outside 1-3600 seconds\n",
		       response_timeout);
		return -EINVAL;
	}
	if (retry_min_ms < PVMEM_RETRY_MS_MIN ||
	    retry_max_ms > PVMEM_RETRY_MS_MAX || retry_min_ms > retry_max_ms) {
		pr_err("retry_min_ms=%u retry_max_ms=%u: need 10 <= min <= max <= 3600000\n",
		       retry_min_ms, retry_max_ms);
		return -EINVAL;
	}
	if (!offline_cap_mb) {
		pr_err("offline_cap_mb must not be 0\n");
		return -EINVAL;
	}
	if (tidy_ms &&
	    (tidy_ms < PVMEM_RETRY_MS_MIN || tidy_ms > PVMEM_RETRY_MS_MAX)) {
		pr_err("tidy_ms=%u: need 0 or 10-3600000\n", tidy_ms);
		return -EINVAL;
	}
	if (bbm_block_size && (!is_power_of_2(bbm_block_size) ||
			       bbm_block_size < memory_block_size_bytes() ||
			       bbm_block_size > PVMEM_MAX_BIG_BLOCK)) {
		pr_err("bbm_block_size=%lu: need 0 or a power of two from the memory block size (%lu) to 16 GiB\n",
		       bbm_block_size, memory_block_size_bytes());
		return -EINVAL;
	}
	pvmem_wq = alloc_workqueue("pvmem", WQ_FREEZABLE, 0);
	if (!pvmem_wq)
		return -ENOMEM;
	rc = register_virtio_driver(&pvmem_driver);
	if (rc)
		destroy_workqueue(pvmem_wq);
	return rc;
}
module_init(pvmem_init);

static void __exit pvmem_exit(void)
{
	unregister_virtio_driver(&pvmem_driver);
	/* Reapers that freed the last DETACHED devices return first. */
	destroy_workqueue(pvmem_wq);
	pvmem_debugfs_exit();
}
module_exit(pvmem_exit);
MODULE_DEVICE_TABLE(virtio, pvmem_id_table);
MODULE_DESCRIPTION("Paravirtualized memory (virtio-mem) guest driver");
MODULE_LICENSE("GPL");
