// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem debugfs: what does not fit sysfs's one value per file.
 *
 *   /sys/kernel/debug/pvmem/virtioN/blocks        the block map
 *   /sys/kernel/debug/pvmem/virtioN/last_request  the last request
 *
 * plus, in builds with CONFIG_PVMEM_FAULT_INJECT, the fault counters of
 * pvmem_fault.c in the same directory.  Documented in the admin guide.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "pvmem.h"

static struct dentry *pvmem_debugfs_root;

/* The block map: see pvmem_mm_show_blocks(). */
static int pvmem_blocks_show(struct seq_file *m, void *unused)
{
	struct pvmem_dev *pv = m->private;

	pvmem_mm_show_blocks(&pv->mm, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvmem_blocks);

/* "<seconds since boot> <request> <response or pending>", or "none". */
static int pvmem_last_request_show(struct seq_file *m, void *unused)
{
	struct pvmem_dev *pv = m->private;
	const u64 ns = READ_ONCE(pv->last_req_ns);
	const u16 resp = READ_ONCE(pv->last_resp_type);

	if (!ns) {
		seq_puts(m, "none\n");
		return 0;
	}
	seq_printf(m, "%llu.%06llu %s %s\n", ns / NSEC_PER_SEC,
		   (ns % NSEC_PER_SEC) / NSEC_PER_USEC,
		   pvmem_req_name(READ_ONCE(pv->last_req_type)),
		   resp < PVMEM_RESP_NR ? pvmem_resp_name(resp) : "pending");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvmem_last_request);

/**
 * pvmem_debugfs_add - create a device's debugfs directory
 * @pv: the device, probed
 *
 * Failures are not errors: debugfs is for debugging.
 */
void pvmem_debugfs_add(struct pvmem_dev *pv)
{
	if (!pvmem_debugfs_root)
		pvmem_debugfs_root = debugfs_create_dir("pvmem", NULL);
	pv->debugfs = debugfs_create_dir(pv->name, pvmem_debugfs_root);
	debugfs_create_file("blocks", 0400, pv->debugfs, pv,
			    &pvmem_blocks_fops);
	debugfs_create_file("last_request", 0400, pv->debugfs, pv,
			    &pvmem_last_request_fops);
	pvmem_fault_init(pv, pv->debugfs);
}

/**
 * pvmem_debugfs_remove - remove a device's debugfs directory
 * @pv: the device
 *
 * Waits for readers of its files to finish.
 */
void pvmem_debugfs_remove(struct pvmem_dev *pv)
{
	debugfs_remove_recursive(pv->debugfs);
	pv->debugfs = NULL;
}

/* Module exit: every device is gone. */
void pvmem_debugfs_exit(void)
{
	debugfs_remove_recursive(pvmem_debugfs_root);
	pvmem_debugfs_root = NULL;
}
