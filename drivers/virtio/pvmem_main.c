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
#include <linux/acpi.h>
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

/* Owed memory blocks that make pvmem send their UNPLUG (1 GiB at 128 MiB). */
#define PVMEM_OWED_BATCH	8

/*
 * Module parameters: defaults for each device's knobs (see pvmem_sysfs.c),
 * read at probe; response_timeout only at load.
 */
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

static unsigned int response_timeout = 60;
module_param(response_timeout, uint, 0444);
MODULE_PARM_DESC(response_timeout,
		 "Seconds to wait for the device to answer a request, 1-3600 (default: 60)");

static const char * const pvmem_state_names[PVMEM_DEV_STATE_NR] = {
	[PVMEM_DEV_IDLE] = "idle",
	[PVMEM_DEV_UNPLUG_ALL] = "unplug_all",
	[PVMEM_DEV_PLUGGING] = "plugging",
	[PVMEM_DEV_UNPLUGGING] = "unplugging",
	[PVMEM_DEV_WAIT_ONLINE] = "waiting_for_online",
	[PVMEM_DEV_RETRY] = "waiting_for_retry",
	[PVMEM_DEV_BROKEN] = "broken",
};

const char *pvmem_dev_state_name(enum pvmem_dev_state state)
{
	return state < PVMEM_DEV_STATE_NR ? pvmem_state_names[state] : "unknown";
}

/**
 * pvmem_mb_set_state - change a memory block's state, traced
 * @pv: the device
 * @mb: memory block index
 * @state: the new state
 *
 * Context: hp_lock held (or the worker stopped and no notifier possible).
 */
void pvmem_mb_set_state(struct pvmem_dev *pv, u32 mb, enum pvmem_mb_state state)
{
	trace_pvmem_block(pv->name, pvmem_mb_addr(pv, mb),
			  pvmem_mb_state_name(pv->map.state[mb]),
			  pvmem_mb_state_name(state), pv->map.nr_plugged[mb]);
	pvmem_map_set_state(&pv->map, mb, state);
}

/* The one place the device state changes. */
static void pvmem_set_state(struct pvmem_dev *pv, enum pvmem_dev_state state)
{
	if (pv->state == state)
		return;
	dev_dbg(&pv->vdev->dev, "state %s -> %s\n",
		pvmem_state_names[pv->state], pvmem_state_names[state]);
	pv->state = state;
}

/* Stop talking to the device for good, and say why once. */
static void pvmem_set_broken(struct pvmem_dev *pv, const char *reason)
{
	if (pv->state == PVMEM_DEV_BROKEN)
		return;
	pv->broken_reason = reason;
	pvmem_set_state(pv, PVMEM_DEV_BROKEN);
	dev_err(&pv->vdev->dev,
		"device marked broken: %s; no more requests are sent, plugged memory stays in use\n",
		reason);
}

static void pvmem_read_config(struct pvmem_dev *pv, struct pvmem_cfg *cfg)
{
	struct virtio_device *vdev = pv->vdev;

	virtio_cread_le(vdev, struct pvmem_config, block_size, &cfg->block_size);
	virtio_cread_le(vdev, struct pvmem_config, node_id, &cfg->node_id);
	virtio_cread_le(vdev, struct pvmem_config, addr, &cfg->addr);
	virtio_cread_le(vdev, struct pvmem_config, region_size,
			&cfg->region_size);
	virtio_cread_le(vdev, struct pvmem_config, usable_region_size,
			&cfg->usable_region_size);
	virtio_cread_le(vdev, struct pvmem_config, plugged_size,
			&cfg->plugged_size);
	virtio_cread_le(vdev, struct pvmem_config, requested_size,
			&cfg->requested_size);
}

static void pvmem_vq_done(struct virtqueue *vq)
{
	struct pvmem_dev *pv = vq->vdev->priv;

	wake_up(&pv->resp_wq);
}

/* Condition for wait_event: fetch the used buffer, if any. */
static bool pvmem_resp_ready(struct pvmem_dev *pv, void **buf,
			     unsigned int *len)
{
	*buf = virtqueue_get_buf(pv->vq, len);
	return *buf;
}

/* Device responses become errnos here; the worker decides what they mean. */
static int pvmem_resp_errno(u16 type)
{
	switch (type) {
	case PVMEM_RESP_ACK:
		return 0;
	case PVMEM_RESP_NACK:
		return -EAGAIN;
	case PVMEM_RESP_BUSY:
		return -ETXTBSY;
	default:
		return -EIO;
	}
}

/* Count and trace a request going out. */
static void pvmem_note_request(struct pvmem_dev *pv, u16 type, u64 addr, u16 nb)
{
	trace_pvmem_request(pv->name, pvmem_req_name(type), addr, nb);
	WRITE_ONCE(pv->nr_req[type], pv->nr_req[type] + 1);
	WRITE_ONCE(pv->last_req_ns, ktime_get_boottime_ns());
	WRITE_ONCE(pv->last_req_type, type);
	WRITE_ONCE(pv->last_resp_type, PVMEM_RESP_NR);
}

/* A request got no valid answer: count, trace, mark broken. */
static int pvmem_bad_resp(struct pvmem_dev *pv, u16 type, u64 addr, u16 nb,
			  const char *what, const char *reason)
{
	trace_pvmem_response(pv->name, pvmem_req_name(type), addr, nb, what,
			     -EPROTO);
	WRITE_ONCE(pv->nr_resp_invalid, pv->nr_resp_invalid + 1);
	pvmem_set_broken(pv, reason);
	return -EPROTO;
}

/*
 * Check, count and trace the answer to a request, and turn it into an
 * errno (see pvmem_send()).
 */
static int pvmem_handle_resp(struct pvmem_dev *pv, u16 type, u64 addr, u16 nb,
			     const struct pvmem_resp *resp, unsigned int len)
{
	struct pvmem_reply reply;
	enum pvmem_resp_err err;
	int rc;

	err = pvmem_resp_decode(type, resp, len, &reply);
	if (err) {
		dev_err(&pv->vdev->dev, "bad response to %s (len %u, type %u): %s\n",
			pvmem_req_name(type), len, le16_to_cpu(resp->type),
			pvmem_resp_errstr(err));
		return pvmem_bad_resp(pv, type, addr, nb, "invalid",
				      "invalid response");
	}
	rc = pvmem_resp_errno(reply.type);
	trace_pvmem_response(pv->name, pvmem_req_name(type), addr, nb,
			     pvmem_resp_name(reply.type), rc);
	WRITE_ONCE(pv->nr_resp[reply.type], pv->nr_resp[reply.type] + 1);
	WRITE_ONCE(pv->last_resp_type, reply.type);
	if (!rc && type == PVMEM_REQ_PLUG)
		WRITE_ONCE(pv->bytes_plugged, pv->bytes_plugged + nb * pv->lo.block_size);
	else if (!rc && type == PVMEM_REQ_UNPLUG)
		WRITE_ONCE(pv->bytes_unplugged, pv->bytes_unplugged + nb * pv->lo.block_size);
	return rc;
}

/**
 * pvmem_send - send one request and wait for its response
 * @pv: the device
 * @type: PVMEM_REQ_*
 * @addr: first device block
 * @nb: number of device blocks
 *
 * Context: the worker (or remove, with the worker stopped); may sleep.
 * Return: 0 on ACK; -EAGAIN on NACK; -ETXTBSY on BUSY; -EIO on ERROR;
 * -EPROTO for an invalid response or none in time (device marked broken);
 * -ENOMEM or -ENOSPC if the request could not be queued.
 */
static int pvmem_send(struct pvmem_dev *pv, u16 type, u64 addr, u16 nb)
{
	struct scatterlist sg_req, sg_resp, *sgs[2] = { &sg_req, &sg_resp };
	struct pvmem_resp fake;
	unsigned int len = 0;
	void *buf = NULL;
	int rc;

	pvmem_req_encode(&pv->req, type, addr, nb);
	memset(&pv->resp, 0, sizeof(pv->resp));
	rc = pvmem_fault_resp(pv);
	if (rc >= 0) {
		/* Injected: answered as a device would, without reaching it. */
		pvmem_note_request(pv, type, addr, nb);
		fake = (struct pvmem_resp) { .type = cpu_to_le16(rc) };
		return pvmem_handle_resp(pv, type, addr, nb, &fake, sizeof(fake));
	}
	sg_init_one(&sg_req, &pv->req, sizeof(pv->req));
	sg_init_one(&sg_resp, &pv->resp, sizeof(pv->resp));
	rc = virtqueue_add_sgs(pv->vq, sgs, 1, 1, pv, GFP_KERNEL);
	if (rc)
		return rc;
	pvmem_note_request(pv, type, addr, nb);
	virtqueue_kick(pv->vq);

	/* The buffers stay with a device that never answers: none reused. */
	if (!wait_event_timeout(pv->resp_wq, pvmem_resp_ready(pv, &buf, &len),
				response_timeout * HZ))
		return pvmem_bad_resp(pv, type, addr, nb, "timeout",
				      "no response within response_timeout");
	if (buf != pv)
		return pvmem_bad_resp(pv, type, addr, nb, "invalid",
				      "response for an unknown request");
	return pvmem_handle_resp(pv, type, addr, nb, &pv->resp, len);
}

/* Pin the module while Linux holds memory of ours: rmmod is refused. */
static void pvmem_update_pin(struct pvmem_dev *pv)
{
	const bool added = pv->map.count[PVMEM_MB_UNUSED] != pv->map.nb_mb;

	if (added && !pv->pinned)
		__module_get(THIS_MODULE);
	else if (!added && pv->pinned)
		module_put(THIS_MODULE);
	pv->pinned = added;
}

/* Add memory blocks [@mb, @mb + @nr) whose device blocks were just plugged. */
static int pvmem_add_mbs(struct pvmem_dev *pv, u32 mb, u32 nr)
{
	u32 i;
	int rc;

	mutex_lock(&pv->hp_lock);
	for (i = mb; i < mb + nr; i++)
		pvmem_mb_set_state(pv, i, PVMEM_MB_ADDING);
	pvmem_update_pin(pv);
	mutex_unlock(&pv->hp_lock);
	rc = pvmem_fault_add(pv) ? -ENOMEM : pvmem_mm_add(pv, mb, nr);
	mutex_lock(&pv->hp_lock);
	for (i = mb; i < mb + nr; i++) {
		/* Still ADDING unless onlined right away. */
		if (rc)
			pvmem_mb_set_state(pv, i, PVMEM_MB_UNUSED);
		else if (pv->map.state[i] == PVMEM_MB_ADDING)
			pvmem_mb_set_state(pv, i, PVMEM_MB_OFFLINE);
	}
	pvmem_update_pin(pv);
	mutex_unlock(&pv->hp_lock);
	if (rc)
		dev_warn_ratelimited(&pv->vdev->dev,
				     "adding memory %#llx+%#llx failed: %d\n",
				     pvmem_mb_addr(pv, mb), (u64)nr * pv->lo.mb_size, rc);
	return rc;
}

/*
 * Plug one run, then make it usable: over unused memory blocks (possibly
 * several) add each; inside an added one, release the pages if it is
 * online.  What could not be added is unplugged again at once.
 */
static int pvmem_plug_run(struct pvmem_dev *pv, const struct pvmem_run *run)
{
	u32 last;
	int rc;

	rc = pvmem_send(pv, PVMEM_REQ_PLUG, pvmem_run_addr(pv, run), run->nb);
	if (rc)
		return rc;

	mutex_lock(&pv->hp_lock);
	pvmem_map_set(&pv->map, run->mb, run->sb, run->nb, true);
	if (pv->map.state[run->mb] != PVMEM_MB_UNUSED) {
		/* Offline: the online page callback releases it later. */
		if (pv->map.state[run->mb] == PVMEM_MB_KERNEL ||
		    pv->map.state[run->mb] == PVMEM_MB_MOVABLE)
			pvmem_mm_release(pv, run);
		mutex_unlock(&pv->hp_lock);
		return 0;
	}
	mutex_unlock(&pv->hp_lock);

	last = run->mb + (run->sb + run->nb - 1) / pv->lo.sbs_per_mb;
	rc = pvmem_add_mbs(pv, run->mb, last - run->mb + 1);
	if (!rc)
		return 0;

	/* The memory never reached Linux: give it straight back. */
	if (pvmem_send(pv, PVMEM_REQ_UNPLUG, pvmem_run_addr(pv, run), run->nb)) {
		pvmem_set_broken(pv, "could not unplug memory that failed to add");
		return -EPROTO;
	}
	mutex_lock(&pv->hp_lock);
	pvmem_map_set(&pv->map, run->mb, run->sb, run->nb, false);
	mutex_unlock(&pv->hp_lock);
	return rc == -ENOMEM ? -ENOMEM : -EAGAIN;
}

/* pvmem_plug() paused for onlining: not an error, nothing to retry. */
#define PVMEM_WAIT_ONLINE	1

/* How many more memory blocks may be added before offline_cap is hit. */
static u32 pvmem_new_mb_allowed(struct pvmem_dev *pv)
{
	const u64 cap = READ_ONCE(pv->offline_cap) / pv->lo.mb_size;
	const u64 offline = pv->map.count[PVMEM_MB_OFFLINE] +
			    pv->map.count[PVMEM_MB_ADDING];

	return cap > offline ? min_t(u64, cap - offline, U32_MAX) : 0;
}

/*
 * No room for another memory map: retry with backoff.  Said once per
 * stall, counted every pass.
 */
static int pvmem_plug_starved(struct pvmem_dev *pv)
{
	if (!pv->plug_starved)
		dev_warn(&pv->vdev->dev,
			 "plugging paused: too little free memory for memory maps, retrying\n");
	pv->plug_starved = true;
	pv->nr_plug_nomem++;
	return -ENOMEM;
}

/* Plug @want device blocks, one run at a time. */
static int pvmem_plug(struct pvmem_dev *pv, u64 want)
{
	const u64 usable = pvmem_layout_usable_blocks(&pv->lo, &pv->cfg);
	struct pvmem_run run;
	u32 capped, room;
	bool found;
	int rc;

	pvmem_set_state(pv, PVMEM_DEV_PLUGGING);
	while (want) {
		/* A new request may lower the target: start over. */
		if (atomic_read(&pv->config_changed))
			return -EAGAIN;
		room = pvmem_mm_add_room(pv);
		mutex_lock(&pv->hp_lock);
		capped = pvmem_new_mb_allowed(pv);
		found = pvmem_plan_plug(&pv->map, want, usable, min(capped, room),
					&run);
		mutex_unlock(&pv->hp_lock);
		if (!found && !capped)
			return PVMEM_WAIT_ONLINE;
		if (!found && !room)
			return pvmem_plug_starved(pv);
		if (!found) {
			dev_warn_once(&pv->vdev->dev,
				      "requested size needs device blocks outside whole memory blocks of the usable region\n");
			return 0;
		}
		rc = pvmem_plug_run(pv, &run);
		if (rc)
			return rc;
		pv->plug_starved = false;
		want -= run.nb;
	}
	return 0;
}

/*
 * Unplug one run of plugged device blocks: isolate it if its memory block
 * is online, tell the device, then mark it unplugged.  If the device says
 * no, online memory goes back to Linux intact.  Called and returns with
 * hp_lock held.
 */
static int pvmem_unplug_run(struct pvmem_dev *pv, const struct pvmem_run *run)
{
	const enum pvmem_mb_state state = pv->map.state[run->mb];
	const bool online = state == PVMEM_MB_KERNEL || state == PVMEM_MB_MOVABLE;
	int rc;

	if (online) {
		rc = pvmem_fault_isolate(pv) ? -EBUSY : pvmem_mm_isolate(pv, run);
		if (rc) {
			if (rc == -ENOMEM)
				pv->nr_isolate_nomem++;
			else
				pv->nr_isolate_busy++;
			return rc;
		}
	}
	rc = pvmem_send(pv, PVMEM_REQ_UNPLUG, pvmem_run_addr(pv, run), run->nb);
	if (rc) {
		if (online)
			pvmem_mm_release(pv, run);
		return rc;
	}
	pvmem_map_set(&pv->map, run->mb, run->sb, run->nb, false);
	return 0;
}

/*
 * A run of online memory would not migrate as a whole: try its device
 * blocks one at a time, from the top.  Return how many went.
 */
static u32 pvmem_unplug_singly(struct pvmem_dev *pv, const struct pvmem_run *run,
			       int *rc)
{
	struct pvmem_run one = { .mb = run->mb, .nb = 1 };
	u32 done = 0, i;

	*rc = 0;
	for (i = run->nb; i--; ) {
		one.sb = run->sb + i;
		*rc = pvmem_unplug_run(pv, &one);
		if (!*rc)
			done++;
		else if (*rc != -EBUSY && *rc != -ENOMEM)
			break;
	}
	return done;
}

/*
 * Send the UNPLUGs owed by memory blocks already taken out of Linux, one
 * request per contiguous run, which may span many memory blocks.
 */
static int pvmem_settle_owed(struct pvmem_dev *pv)
{
	struct pvmem_run run;
	bool found;
	u32 mb;
	int rc;

	for (;;) {
		mutex_lock(&pv->hp_lock);
		found = pvmem_plan_owed(&pv->map, &run);
		mutex_unlock(&pv->hp_lock);
		if (!found)
			return 0;
		rc = pvmem_send(pv, PVMEM_REQ_UNPLUG, pvmem_run_addr(pv, &run), run.nb);
		if (rc)
			return rc;
		mutex_lock(&pv->hp_lock);
		pvmem_map_set(&pv->map, run.mb, run.sb, run.nb, false);
		for (mb = run.mb; mb < pv->map.nb_mb &&
		     pv->map.state[mb] == PVMEM_MB_OWED; mb++)
			if (!pv->map.nr_plugged[mb])
				pvmem_mb_set_state(pv, mb, PVMEM_MB_UNUSED);
		pvmem_update_pin(pv);
		mutex_unlock(&pv->hp_lock);
	}
}

/*
 * Take a whole, fully plugged memory block out in one step: offline (if
 * online, migrating what is in use) and remove it; the UNPLUG it then owes
 * is sent by pvmem_settle_owed(), batched with its neighbours.  Only for
 * offline blocks and ZONE_MOVABLE ones with room for their data elsewhere:
 * long-term pinned pages cannot sit in ZONE_MOVABLE, so offlining there
 * ends; kernel zones go through pvmem_unplug_run() instead, whose
 * migration attempts are bounded.
 */
static int pvmem_unplug_whole(struct pvmem_dev *pv, u32 mb)
{
	if (pv->map.state[mb] == PVMEM_MB_MOVABLE && !pvmem_mm_room(pv, mb)) {
		pv->nr_isolate_nomem++;
		return -ENOMEM;
	}
	if (pvmem_mm_remove(pv, mb)) {
		pv->nr_isolate_busy++;
		return -EBUSY;
	}
	mutex_lock(&pv->hp_lock);
	pvmem_mb_set_state(pv, mb, PVMEM_MB_OWED);
	mutex_unlock(&pv->hp_lock);
	return 0;
}

static bool pvmem_is_whole(struct pvmem_dev *pv, const struct pvmem_run *run)
{
	const enum pvmem_mb_state state = pv->map.state[run->mb];

	return run->sb == 0 && run->nb == pv->lo.sbs_per_mb &&
	       (state == PVMEM_MB_OFFLINE || state == PVMEM_MB_MOVABLE);
}

/* Take added memory blocks with nothing plugged out of Linux. */
static int pvmem_remove_empty(struct pvmem_dev *pv)
{
	bool found, failed = false;
	u32 mb;

	for (;;) {
		mutex_lock(&pv->hp_lock);
		found = pvmem_plan_remove(&pv->map, &mb);
		mutex_unlock(&pv->hp_lock);
		if (!found)
			break;
		/* An online block holds only fake-offline pages: quick. */
		if (pvmem_mm_remove(pv, mb)) {
			pv->nr_remove_failed++;
			failed = true;
			mutex_lock(&pv->hp_lock);
			pvmem_map_set_busy(&pv->map, mb);
			mutex_unlock(&pv->hp_lock);
			continue;
		}
		mutex_lock(&pv->hp_lock);
		pvmem_mb_set_state(pv, mb, PVMEM_MB_UNUSED);
		pvmem_update_pin(pv);
		mutex_unlock(&pv->hp_lock);
	}
	return failed ? -EBUSY : 0;
}

/*
 * Unplug @want device blocks, policy in pvmem_plan_unplug().  Memory
 * blocks that fail are skipped for the rest of the pass; if nothing is
 * left to try, -EBUSY makes the worker retry with backoff.
 */
static int pvmem_unplug(struct pvmem_dev *pv, u64 want, bool online)
{
	struct pvmem_run run;
	int rc = 0, owed;
	u32 done;

	pvmem_set_state(pv, PVMEM_DEV_UNPLUGGING);
	while (want) {
		/* A new request may have raised the target: start over. */
		if (atomic_read(&pv->config_changed)) {
			rc = -EAGAIN;
			break;
		}
		mutex_lock(&pv->hp_lock);
		if (!pvmem_plan_unplug(&pv->map, want, online, &run)) {
			mutex_unlock(&pv->hp_lock);
			rc = -EBUSY;
			break;
		}
		if (pvmem_is_whole(pv, &run)) {
			mutex_unlock(&pv->hp_lock);
			rc = pvmem_unplug_whole(pv, run.mb);
			done = rc ? 0 : run.nb;
			mutex_lock(&pv->hp_lock);
			if (rc == -ENOMEM) {
				pvmem_map_set_busy(&pv->map, run.mb);
			} else if (rc) {
				/* Would not offline: try it run by run. */
				rc = pvmem_unplug_run(pv, &run);
				done = rc ? 0 : run.nb;
			}
		} else {
			rc = pvmem_unplug_run(pv, &run);
			done = rc ? 0 : run.nb;
		}
		if (rc == -EBUSY && run.nb > 1)
			done = pvmem_unplug_singly(pv, &run, &rc);
		if (done < run.nb && (rc == -EBUSY || rc == -ENOMEM))
			pvmem_map_set_busy(&pv->map, run.mb);
		mutex_unlock(&pv->hp_lock);
		if (rc && rc != -EBUSY && rc != -ENOMEM)
			break;
		rc = 0;
		want -= done;
		/* Let the host have memory back as we go, in batches. */
		if (pv->map.count[PVMEM_MB_OWED] >= PVMEM_OWED_BATCH) {
			rc = pvmem_settle_owed(pv);
			if (rc)
				break;
		}
		if (pv->map.state[run.mb] != PVMEM_MB_OWED &&
		    !pv->map.nr_plugged[run.mb]) {
			rc = pvmem_remove_empty(pv);
			if (rc)
				break;
		}
		cond_resched();
	}
	owed = pvmem_settle_owed(pv);
	return rc ? rc : owed;
}

/* Clear what the device still had plugged when we bound to it. */
static int pvmem_unplug_all(struct pvmem_dev *pv)
{
	int rc;

	pvmem_set_state(pv, PVMEM_DEV_UNPLUG_ALL);
	rc = pvmem_send(pv, PVMEM_REQ_UNPLUG_ALL, 0, 0);
	if (rc)
		return rc;
	pv->unplug_all_pending = false;
	dev_info(&pv->vdev->dev, "unplugged all memory left plugged before probe\n");
	return 0;
}

/* One pass of the worker: bring plugged_size towards requested_size. */
static int pvmem_step(struct pvmem_dev *pv)
{
	const u64 bs = pv->lo.block_size;
	enum pvmem_cfg_err err;
	struct pvmem_cfg cfg;
	u64 plugged;
	int rc;

	if (pv->unplug_all_pending) {
		rc = pvmem_unplug_all(pv);
		if (rc)
			return rc;
	}

	atomic_set(&pv->config_changed, 0);
	pvmem_read_config(pv, &cfg);
	if (pvmem_fault_config(pv))
		cfg.addr += pv->lo.block_size;
	err = pvmem_cfg_check_update(&pv->boot_cfg, &cfg, &pv->lim);
	if (err) {
		dev_err(&pv->vdev->dev, "config update rejected: %s\n",
			pvmem_cfg_errstr(err));
		pvmem_set_broken(pv, pvmem_cfg_errstr(err));
		return -EPROTO;
	}
	pv->cfg = cfg;

	plugged = pv->map.total_plugged * bs;
	if (cfg.plugged_size != plugged) {
		dev_err(&pv->vdev->dev,
			"device reports plugged_size %#llx, pvmem plugged %#llx\n",
			cfg.plugged_size, plugged);
		pvmem_set_broken(pv, "plugged_size disagrees with pvmem");
		return -EPROTO;
	}
	/* Every pass may try every memory block again. */
	mutex_lock(&pv->hp_lock);
	pvmem_map_clear_busy(&pv->map);
	mutex_unlock(&pv->hp_lock);
	/* UNPLUGs owed from an earlier pass come first. */
	rc = pvmem_settle_owed(pv);
	if (rc)
		return rc;

	if (cfg.requested_size > plugged)
		rc = pvmem_plug(pv, (cfg.requested_size - plugged) / bs);
	else if (cfg.requested_size < plugged)
		rc = pvmem_unplug(pv, (plugged - cfg.requested_size) / bs,
				  READ_ONCE(pv->unplug_online));
	else
		rc = 0;
	if (rc)
		return rc;
	/* Empty memory blocks whose removal failed before: again. */
	return pvmem_remove_empty(pv);
}

/* Decide what a pass's result means: done, again, later, or broken. */
static void pvmem_settle(struct pvmem_dev *pv, int rc)
{
	unsigned long delay;

	switch (rc) {
	case 0:
	case PVMEM_WAIT_ONLINE:
		pv->retry_ms = READ_ONCE(pv->retry_min_ms);
		pv->plug_starved = false;
		/* Waiting for onlining: the memory notifier kicks us. */
		pvmem_set_state(pv, rc ? PVMEM_DEV_WAIT_ONLINE : PVMEM_DEV_IDLE);
		if (!atomic_read(&pv->config_changed))
			return;
		delay = 0;
		break;
	case -EAGAIN:
		/* NACK or a config change: look again now if it changed. */
		if (atomic_read(&pv->config_changed)) {
			delay = 0;
			break;
		}
		fallthrough;
	case -ETXTBSY:
	case -EBUSY:
	case -ENOMEM:
	case -ENOSPC:
		pvmem_set_state(pv, PVMEM_DEV_RETRY);
		pv->retry_ms = clamp(pv->retry_ms, READ_ONCE(pv->retry_min_ms),
				     READ_ONCE(pv->retry_max_ms));
		delay = msecs_to_jiffies(pv->retry_ms);
		trace_pvmem_retry(pv->name, pv->retry_ms, rc);
		WRITE_ONCE(pv->nr_retries, pv->nr_retries + 1);
		pv->retry_ms = min(pv->retry_ms * 2, READ_ONCE(pv->retry_max_ms));
		break;
	case -EPROTO:
		return;	/* already marked broken */
	default:
		dev_err(&pv->vdev->dev, "request failed: %d\n", rc);
		pvmem_set_broken(pv, "device answered ERROR");
		return;
	}

	spin_lock_irq(&pv->stop_lock);
	if (!pv->stopping)
		mod_delayed_work(system_freezable_wq, &pv->work, delay);
	spin_unlock_irq(&pv->stop_lock);
}

static void pvmem_work(struct work_struct *work)
{
	struct pvmem_dev *pv = container_of(to_delayed_work(work),
					    struct pvmem_dev, work);

	if (pv->state == PVMEM_DEV_BROKEN)
		return;
	pvmem_settle(pv, pvmem_step(pv));
}

static void pvmem_config_changed(struct virtio_device *vdev)
{
	struct pvmem_dev *pv = vdev->priv;
	unsigned long flags;

	atomic_set(&pv->config_changed, 1);
	spin_lock_irqsave(&pv->stop_lock, flags);
	if (!pv->stopping)
		mod_delayed_work(system_freezable_wq, &pv->work, 0);
	spin_unlock_irqrestore(&pv->stop_lock, flags);
}

/**
 * pvmem_kick - run the worker now if it is waiting
 * @pv: the device
 *
 * For the memory notifier (memory got onlined) and the retry_now knob: a
 * worker waiting for onlining or for its backoff runs at once, with the
 * backoff reset.
 *
 * Context: any; does not sleep.
 */
void pvmem_kick(struct pvmem_dev *pv)
{
	const enum pvmem_dev_state state = READ_ONCE(pv->state);
	unsigned long flags;

	if (state != PVMEM_DEV_WAIT_ONLINE && state != PVMEM_DEV_RETRY)
		return;
	spin_lock_irqsave(&pv->stop_lock, flags);
	if (!pv->stopping) {
		pv->retry_ms = READ_ONCE(pv->retry_min_ms);
		mod_delayed_work(system_freezable_wq, &pv->work, 0);
	}
	spin_unlock_irqrestore(&pv->stop_lock, flags);
}

/*
 * Without VIRTIO_MEM_F_PERSISTENT_SUSPEND the device may drop plugged
 * memory across suspend, and a hibernation image would restore memory the
 * device no longer backs: refuse both while anything is plugged.
 */
static int pvmem_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *arg)
{
	struct pvmem_dev *pv = container_of(nb, struct pvmem_dev, pm_notifier);
	const u64 plugged = READ_ONCE(pv->map.total_plugged) * pv->lo.block_size;

	if (action != PM_SUSPEND_PREPARE && action != PM_HIBERNATION_PREPARE)
		return NOTIFY_DONE;
	if (!plugged)
		return NOTIFY_OK;
	/* pv->name, not the device: this outlives an unbind that left memory. */
	pr_err("pvmem %s: %s refused: %llu MiB plugged, which the device does not keep across it; set the request to 0 first\n",
	       pv->name, action == PM_SUSPEND_PREPARE ? "suspend" : "hibernation",
	       plugged >> 20);
	return notifier_from_errno(-EBUSY);
}

/* NUMA node of the region: the device's ACPI PXM, else the address. */
static int pvmem_find_node(struct pvmem_dev *pv)
{
	int nid = NUMA_NO_NODE;

#if defined(CONFIG_ACPI_NUMA)
	if (virtio_has_feature(pv->vdev, PVMEM_F_ACPI_PXM))
		nid = pxm_to_node(pv->boot_cfg.node_id);
#endif
	if (nid == NUMA_NO_NODE || !node_possible(nid))
		nid = memory_add_physaddr_to_nid(pv->boot_cfg.addr);
	return nid;
}

static int pvmem_check_config(struct pvmem_dev *pv)
{
	const struct range range = mhp_get_pluggable_range(true);
	enum pvmem_cfg_err err;

	pv->lim = (struct pvmem_limits) {
		.page_size = PAGE_SIZE,
		.mb_size = memory_block_size_bytes(),
		.plug_start = range.start,
		.plug_end = range.end,
	};
	pvmem_read_config(pv, &pv->boot_cfg);
	err = pvmem_cfg_check(&pv->boot_cfg, &pv->lim);
	if (err) {
		dev_err(&pv->vdev->dev,
			"invalid config: %s (block_size %#llx addr %#llx region_size %#llx usable %#llx plugged %#llx requested %#llx; pluggable %#llx-%#llx)\n",
			pvmem_cfg_errstr(err), pv->boot_cfg.block_size,
			pv->boot_cfg.addr, pv->boot_cfg.region_size,
			pv->boot_cfg.usable_region_size,
			pv->boot_cfg.plugged_size, pv->boot_cfg.requested_size,
			pv->lim.plug_start, pv->lim.plug_end);
		return -EINVAL;
	}
	pv->cfg = pv->boot_cfg;
	pvmem_layout_init(&pv->lo, &pv->boot_cfg, pv->lim.mb_size);
	return 0;
}

static int pvmem_alloc_map(struct pvmem_dev *pv)
{
	const u64 bytes = pvmem_map_bytes(pv->lo.nb_mb, pv->lo.sbs_per_mb);

	pv->map_mem = kvzalloc(bytes, GFP_KERNEL);
	if (!pv->map_mem)
		return -ENOMEM;
	pvmem_map_init(&pv->map, pv->lo.nb_mb, pv->lo.sbs_per_mb, pv->map_mem);
	return 0;
}

/* Claim the whole region so nobody else (or a second pvmem) maps it. */
static int pvmem_claim_region(struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->boot_cfg;

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
	pv->vdev = vdev;
	vdev->priv = pv;
	strscpy(pv->name, dev_name(&vdev->dev), sizeof(pv->name));
	pv->unplug_online = READ_ONCE(unplug_online);
	pv->retry_min_ms = clamp(READ_ONCE(retry_min_ms), PVMEM_RETRY_MS_MIN,
				 PVMEM_RETRY_MS_MAX);
	pv->retry_max_ms = clamp(READ_ONCE(retry_max_ms), pv->retry_min_ms,
				 PVMEM_RETRY_MS_MAX);
	pv->retry_ms = pv->retry_min_ms;
	pv->last_resp_type = PVMEM_RESP_NR;
	init_waitqueue_head(&pv->resp_wq);
	INIT_DELAYED_WORK(&pv->work, pvmem_work);
	spin_lock_init(&pv->stop_lock);
	mutex_init(&pv->hp_lock);
	INIT_LIST_HEAD(&pv->mm_node);
}

static int pvmem_probe(struct virtio_device *vdev)
{
	struct pvmem_dev *pv;
	int rc;

	BUILD_BUG_ON(sizeof(struct pvmem_req) != PVMEM_REQ_SIZE);
	BUILD_BUG_ON(sizeof(struct pvmem_resp) != PVMEM_RESP_SIZE);
	BUILD_BUG_ON(sizeof(struct pvmem_config) != PVMEM_CONFIG_SIZE);

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
	pv->nid = pvmem_find_node(pv);
	pv->offline_cap = clamp_t(u64, (u64)READ_ONCE(offline_cap_mb) << 20,
				  pv->lo.mb_size, pv->boot_cfg.region_size);
	rc = pvmem_alloc_map(pv);
	if (rc)
		goto err_del_vq;
	rc = pvmem_claim_region(pv);
	if (rc)
		goto err_free_map;
	rc = memory_group_register_dynamic(pv->nid, PHYS_PFN(pv->lo.mb_size));
	if (rc < 0)
		goto err_release_region;
	pv->mgid = rc;
	rc = pvmem_mm_register(pv);
	if (rc) {
		dev_err(&vdev->dev,
			"the online page callback is taken (is virtio_mem loaded?)\n");
		goto err_unregister_group;
	}
	pv->pm_notifier.notifier_call = pvmem_pm_notify;
	rc = register_pm_notifier(&pv->pm_notifier);
	if (rc)
		goto err_unregister_mm;

	pv->unplug_all_pending = pv->boot_cfg.plugged_size != 0;
	dev_info(&vdev->dev,
		 "region %#llx-%#llx node %d block %#llx memory block %#llx usable %#llx requested %#llx%s\n",
		 pv->boot_cfg.addr,
		 pv->boot_cfg.addr + pv->boot_cfg.region_size - 1, pv->nid,
		 pv->lo.block_size, pv->lo.mb_size,
		 pv->boot_cfg.usable_region_size, pv->boot_cfg.requested_size,
		 pv->unplug_all_pending ? ", unplugging leftovers first" : "");

	pvmem_fault_init(pv);
	virtio_device_ready(vdev);
	atomic_set(&pv->config_changed, 1);
	queue_delayed_work(system_freezable_wq, &pv->work, 0);
	return 0;

err_unregister_mm:
	pvmem_mm_unregister(pv);
err_unregister_group:
	memory_group_unregister(pv->mgid);
err_release_region:
	pvmem_release_region(pv);
err_free_map:
	kvfree(pv->map_mem);
err_del_vq:
	vdev->config->del_vqs(vdev);
err_free_dev:
	vdev->priv = NULL;
	kfree(pv);
	return rc;
}

/*
 * Take every added memory block out of Linux; return how many remain.
 * A working device gets everything unplugged first, the way the worker
 * does it (bounded migration); what is left (a broken device, or memory
 * that would not migrate) is offlined and removed as it is.
 */
static u32 pvmem_remove_all_memory(struct pvmem_dev *pv)
{
	u32 mb, left = 0;

	if (pv->state != PVMEM_DEV_BROKEN) {
		atomic_set(&pv->config_changed, 0);
		mutex_lock(&pv->hp_lock);
		pvmem_map_clear_busy(&pv->map);
		mutex_unlock(&pv->hp_lock);
		pvmem_unplug(pv, pv->map.total_plugged, true);
		pvmem_remove_empty(pv);
	}
	for (mb = 0; mb < pv->map.nb_mb; mb++) {
		if (pv->map.state[mb] == PVMEM_MB_UNUSED)
			continue;
		/* Owed blocks are out of Linux already; UNPLUG_ALL follows. */
		if (pv->map.state[mb] != PVMEM_MB_OWED && pvmem_mm_remove(pv, mb)) {
			left++;
			continue;
		}
		mutex_lock(&pv->hp_lock);
		pvmem_map_set(&pv->map, mb, 0, pv->map.sbs_per_mb, false);
		pvmem_mb_set_state(pv, mb, PVMEM_MB_UNUSED);
		mutex_unlock(&pv->hp_lock);
	}
	return left;
}

static void pvmem_remove(struct virtio_device *vdev)
{
	struct pvmem_dev *pv = vdev->priv;
	u32 left;

	spin_lock_irq(&pv->stop_lock);
	pv->stopping = true;
	spin_unlock_irq(&pv->stop_lock);
	cancel_delayed_work_sync(&pv->work);
	pvmem_fault_exit(pv);

	left = pvmem_remove_all_memory(pv);
	if (!left)
		unregister_pm_notifier(&pv->pm_notifier);
	mutex_lock(&pv->hp_lock);
	pv->removing = true;
	mutex_unlock(&pv->hp_lock);

	if (!left && pv->map.total_plugged == 0 && pv->state != PVMEM_DEV_BROKEN &&
	    pvmem_send(pv, PVMEM_REQ_UNPLUG_ALL, 0, 0))
		dev_warn(&vdev->dev, "UNPLUG_ALL failed; the host still sees memory plugged\n");

	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);

	if (left) {
		/*
		 * Linux still uses some of our memory: keep answering for it
		 * (callback, notifier, region) and keep the module loaded.
		 */
		dev_err(&vdev->dev,
			"%u memory blocks could not be removed; pvmem keeps managing them\n",
			left);
		pv->vdev = NULL;
		return;
	}
	pvmem_mm_unregister(pv);
	memory_group_unregister(pv->mgid);
	pvmem_release_region(pv);
	pvmem_update_pin(pv);
	kvfree(pv->map_mem);
	vdev->priv = NULL;
	kfree(pv);
}

static unsigned int pvmem_features[] = {
	PVMEM_F_ACPI_PXM,
	PVMEM_F_UNPLUGGED_INACCESSIBLE,
};

static const struct virtio_device_id pvmem_id_table[] = {
	{ PVMEM_VIRTIO_ID, VIRTIO_DEV_ANY_ID },
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
};

/* Parameters that only matter at load are checked here: bad ones refuse. */
static int __init pvmem_init(void)
{
	if (response_timeout < 1 || response_timeout > 3600) {
		pr_err("pvmem: response_timeout=%u is outside 1-3600 seconds\n",
		       response_timeout);
		return -EINVAL;
	}
	if (retry_min_ms < PVMEM_RETRY_MS_MIN || retry_max_ms > PVMEM_RETRY_MS_MAX ||
	    retry_min_ms > retry_max_ms) {
		pr_err("pvmem: retry_min_ms=%u retry_max_ms=%u: need 10 <= min <= max <= 3600000\n",
		       retry_min_ms, retry_max_ms);
		return -EINVAL;
	}
	if (!offline_cap_mb) {
		pr_err("pvmem: offline_cap_mb must not be 0\n");
		return -EINVAL;
	}
	return register_virtio_driver(&pvmem_driver);
}
module_init(pvmem_init);

static void __exit pvmem_exit(void)
{
	unregister_virtio_driver(&pvmem_driver);
	pvmem_fault_cleanup();
}
module_exit(pvmem_exit);
MODULE_DEVICE_TABLE(virtio, pvmem_id_table);
MODULE_DESCRIPTION("pvmem: paravirtualized memory driver for virtio-mem devices");
MODULE_LICENSE("GPL");
