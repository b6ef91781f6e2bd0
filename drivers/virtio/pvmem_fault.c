// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem fault injection, only in builds with CONFIG_PVMEM_FAULT_INJECT
 * (make FAULT_INJECT=1): the device's debugfs directory
 * (/sys/kernel/debug/pvmem/virtioN/, see pvmem_debugfs.c) holds counters;
 * while one is above zero the matching operation fails and the counter
 * drops by one:
 *   busy, nack, error  the next requests get that answer without reaching
 *                      the device
 *   bad_resp           ... an answer of an unknown type
 *   config             the next config reads see addr changed
 *   fail_isolate       the next range isolations fail (-EBUSY)
 *   fail_add           the next memory additions fail (-ENOMEM)
 *   late               the next requests reach the device, which acts on
 *                      them, but the answer counts as too late (timeout)
 *   lost               the next requests never reach the device, and no
 *                      answer comes (timeout, without the wait)
 * and one setting, which stays until set to 0:
 *   slow_ms            a slow host: every answer is taken this many
 *                      milliseconds after the request went out; an unbind
 *                      meanwhile finds the request still in flight
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>

#include "pvmem.h"

/* Take one from @counter if it is above zero. */
static bool pvmem_fault_take(atomic_t *counter)
{
	return atomic_add_unless(counter, -1, 0);
}

/**
 * pvmem_fault_resp - the injected answer to a request, if any
 * @pv: the device
 *
 * Return: VIRTIO_MEM_RESP_BUSY, _NACK, _ERROR or an invalid type to answer
 * instead of the device, or -1 to send the request.
 */
int pvmem_fault_resp(struct pvmem_dev *pv)
{
	if (pvmem_fault_take(&pv->fault.busy))
		return VIRTIO_MEM_RESP_BUSY;
	if (pvmem_fault_take(&pv->fault.nack))
		return VIRTIO_MEM_RESP_NACK;
	if (pvmem_fault_take(&pv->fault.error))
		return VIRTIO_MEM_RESP_ERROR;
	if (pvmem_fault_take(&pv->fault.bad_resp))
		return PVMEM_RESP_NR + 3;
	return -1;
}

bool pvmem_fault_late(struct pvmem_dev *pv)
{
	return pvmem_fault_take(&pv->fault.late);
}

bool pvmem_fault_lost(struct pvmem_dev *pv)
{
	return pvmem_fault_take(&pv->fault.lost);
}

/**
 * pvmem_fault_slow - wait as for the answer of a slow host
 * @pv: the device, with a request in flight
 *
 * Return: true if the device was unbound meanwhile: the request is
 * still in flight, as far as the driver knows.
 */
bool pvmem_fault_slow(struct pvmem_dev *pv)
{
	const unsigned int ms = atomic_read(&pv->fault.slow_ms);

	if (!ms)
		return false;
	return wait_event_timeout(pv->resp_wq,
				  READ_ONCE(pv->bind) == PVMEM_DETACHED,
				  msecs_to_jiffies(ms)) > 0;
}

bool pvmem_fault_config(struct pvmem_dev *pv)
{
	return pvmem_fault_take(&pv->fault.config);
}

bool pvmem_fault_isolate(struct pvmem_dev *pv)
{
	return pvmem_fault_take(&pv->fault.isolate);
}

bool pvmem_fault_add(struct pvmem_dev *pv)
{
	return pvmem_fault_take(&pv->fault.add);
}

void pvmem_fault_init(struct pvmem_dev *pv, struct dentry *dir)
{
	debugfs_create_atomic_t("busy", 0600, dir, &pv->fault.busy);
	debugfs_create_atomic_t("nack", 0600, dir, &pv->fault.nack);
	debugfs_create_atomic_t("error", 0600, dir, &pv->fault.error);
	debugfs_create_atomic_t("bad_resp", 0600, dir, &pv->fault.bad_resp);
	debugfs_create_atomic_t("config", 0600, dir, &pv->fault.config);
	debugfs_create_atomic_t("fail_isolate", 0600, dir, &pv->fault.isolate);
	debugfs_create_atomic_t("fail_add", 0600, dir, &pv->fault.add);
	debugfs_create_atomic_t("late", 0600, dir, &pv->fault.late);
	debugfs_create_atomic_t("lost", 0600, dir, &pv->fault.lost);
	debugfs_create_atomic_t("slow_ms", 0600, dir, &pv->fault.slow_ms);
}
