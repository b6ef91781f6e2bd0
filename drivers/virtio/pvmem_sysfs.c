// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem sysfs: per-device status, knobs and counters.
 *
 * Two attribute groups on the bound virtio device, attached through the
 * driver's dev_groups so they appear after a successful probe and are gone
 * (with every reader drained) before remove() runs:
 *   /sys/bus/virtio/devices/virtioN/pvmem/        status and knobs
 *   /sys/bus/virtio/devices/virtioN/pvmem_stats/  counters (only go up)
 *   /sys/bus/virtio/devices/virtioN/pvmem_held/   memory an unplug could
 *                                                 not take, and why
 * One value per file; the block map and the last request are in debugfs
 * (pvmem_debugfs.c).  Documented in Documentation/ABI/testing/sysfs-driver-pvmem.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/string_helpers.h>
#include <linux/sysfs.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "pvmem.h"

static struct pvmem_dev *to_pv(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

#define PVMEM_ATTR_U64(name, fmt, expr)                                       \
	static ssize_t name##_show(struct device *dev,                        \
				   struct device_attribute *attr, char *buf)  \
	{                                                                     \
		struct pvmem_dev *pv = to_pv(dev);                            \
		return sysfs_emit(buf, fmt "\n", (unsigned long long)(expr)); \
	}                                                                     \
	static DEVICE_ATTR_RO(name)

PVMEM_ATTR_U64(region_start, "0x%llx", pv->ctl.boot_cfg.addr);
PVMEM_ATTR_U64(region_size, "%llu", pv->ctl.boot_cfg.region_size);
PVMEM_ATTR_U64(usable_region_size, "%llu", pvmem_ctl_usable(&pv->ctl));
PVMEM_ATTR_U64(block_size, "%llu", pv->ctl.lo.block_size);
PVMEM_ATTR_U64(memory_block_size, "%llu", pv->ctl.lo.lmb_size);
/* What pvmem plugs and adds only whole, in big-block mode; else 0. */
PVMEM_ATTR_U64(big_block_size, "%llu", pv->ctl.lo.bbm ? pv->ctl.lo.mb_size : 0);
PVMEM_ATTR_U64(plugged_size, "%llu",
	       pv->kdump ? pv->kdump_bytes : pvmem_mm_plugged_bytes(&pv->mm));
PVMEM_ATTR_U64(requested_size, "%llu", pvmem_ctl_requested(&pv->ctl));
/* Whether pvmem still asks for memory maps inside fully plugged blocks. */
PVMEM_ATTR_U64(memmap_on_memory, "%llu",
	       (u64)(READ_ONCE(pv->mm.selfmap) != PVMEM_SELFMAP_OFF));
PVMEM_ATTR_U64(memmap_on_memory_blocks, "%llu",
	       (u64)READ_ONCE(pv->mm.map.nr_selfmap));
/* Memory map Linux keeps for the unplugged parts of its memory blocks. */
PVMEM_ATTR_U64(memmap_unplugged_bytes, "%llu",
	       pv->kdump ? 0 : pvmem_mm_memmap_unplugged_bytes(&pv->mm));

/*
 * What pvmem itself holds for this device, as asked of the allocators:
 * its state and its block map (in a crash kernel, the bitmap of what the
 * device had plugged instead).
 */
static u64 pvmem_own_bytes(const struct pvmem_dev *pv)
{
	const struct pvmem_cfg *cfg = &pv->ctl.boot_cfg;

	if (pv->kdump)
		return sizeof(*pv) +
		       BITS_TO_LONGS(cfg->region_size / cfg->block_size) *
			       sizeof(unsigned long);
	return sizeof(*pv) +
	       pvmem_map_bytes(pv->mm.lo.nb_mb, pv->mm.lo.sbs_per_mb);
}
PVMEM_ATTR_U64(own_bytes, "%llu", pvmem_own_bytes(pv));

static ssize_t node_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%d\n", to_pv(dev)->nid);
}
static DEVICE_ATTR_RO(node);

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	/* Device blocks inside memory blocks, or whole big blocks only. */
	return sysfs_emit(buf, "%s\n",
			  to_pv(dev)->ctl.lo.bbm ? "big_block" : "sub_block");
}
static DEVICE_ATTR_RO(mode);

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct pvmem_dev *pv = to_pv(dev);

	return sysfs_emit(buf, "%s\n",
			  pvmem_dev_state_name(pvmem_ctl_state(&pv->ctl)));
}
static DEVICE_ATTR_RO(state);

/* Why the device is broken; empty while it is not. */
static ssize_t broken_reason_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  pvmem_ctl_broken_reason(&to_pv(dev)->ctl));
}
static DEVICE_ATTR_RO(broken_reason);

static ssize_t features_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct pvmem_dev *pv = to_pv(dev);
	int len = 0;

	if (virtio_has_feature(pv->vdev, VIRTIO_MEM_F_ACPI_PXM))
		len += sysfs_emit_at(buf, len, "acpi_pxm ");
	if (virtio_has_feature(pv->vdev, VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE))
		len += sysfs_emit_at(buf, len, "unplugged_inaccessible ");
	if (virtio_has_feature(pv->vdev, VIRTIO_MEM_F_PERSISTENT_SUSPEND))
		len += sysfs_emit_at(buf, len, "persistent_suspend ");
	if (len)
		len--; /* no trailing blank */
	return len + sysfs_emit_at(buf, len, "\n");
}
static DEVICE_ATTR_RO(features);

/* --- knobs --- */

/*
 * A whole-word boolean: 0/1, n/y, no/yes, off/on, false/true (any case,
 * trailing newline allowed), read by kstrtobool() once the word is known
 * to be whole: alone it would take "yes please".
 */
static int pvmem_parse_bool(const char *buf, bool *val)
{
	static const char *const words[] = {
		"0", "1", "n", "y", "no", "yes", "off", "on", "false", "true",
	};
	char word[8];
	size_t i;

	/* No word is longer than "false\n". */
	if (strscpy(word, buf, sizeof(word)) < 0)
		return -EINVAL;
	string_lower(word, word);
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (sysfs_streq(word, words[i]))
			return kstrtobool(word, val);
	return -EINVAL;
}

/* A number in [@lo, @hi]; anything else (sign, junk, overflow) is -EINVAL. */
static int pvmem_parse_range(const char *buf, u64 lo, u64 hi, u64 *val)
{
	if (kstrtou64(buf, 0, val) || *val < lo || *val > hi)
		return -EINVAL;
	return 0;
}

static ssize_t unplug_online_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  READ_ONCE(to_pv(dev)->ctl.knobs.unplug_online));
}

static ssize_t unplug_online_store(struct device *dev,
				   struct device_attribute *attr,
				   const char *buf, size_t count)
{
	struct pvmem_dev *pv = to_pv(dev);
	bool val;

	/* Takes effect at the next pass; retry_now runs one at once. */
	if (pvmem_parse_bool(buf, &val))
		return -EINVAL;
	WRITE_ONCE(pv->ctl.knobs.unplug_online, val);
	return count;
}
static DEVICE_ATTR_RW(unplug_online);

static ssize_t offline_cap_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  READ_ONCE(to_pv(dev)->ctl.knobs.offline_cap));
}

/* Bytes, from one memory block up to the whole region. */
static ssize_t offline_cap_store(struct device *dev,
				 struct device_attribute *attr, const char *buf,
				 size_t count)
{
	struct pvmem_dev *pv = to_pv(dev);
	u64 val;

	if (pvmem_parse_range(buf, pv->ctl.lo.mb_size,
			      pv->ctl.boot_cfg.region_size, &val))
		return -EINVAL;
	WRITE_ONCE(pv->ctl.knobs.offline_cap, val);
	pvmem_kick(pv);
	return count;
}
static DEVICE_ATTR_RW(offline_cap);

static ssize_t retry_min_ms_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(to_pv(dev)->ctl.knobs.retry_min_ms));
}

/* 10 ms to an hour, not above retry_max_ms. */
static ssize_t retry_min_ms_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t count)
{
	struct pvmem_dev *pv = to_pv(dev);
	u64 val;

	if (pvmem_parse_range(buf, PVMEM_RETRY_MS_MIN,
			      READ_ONCE(pv->ctl.knobs.retry_max_ms), &val))
		return -EINVAL;
	WRITE_ONCE(pv->ctl.knobs.retry_min_ms, val);
	return count;
}
static DEVICE_ATTR_RW(retry_min_ms);

static ssize_t retry_max_ms_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(to_pv(dev)->ctl.knobs.retry_max_ms));
}

/* Not below retry_min_ms, an hour at most. */
static ssize_t retry_max_ms_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t count)
{
	struct pvmem_dev *pv = to_pv(dev);
	u64 val;

	if (pvmem_parse_range(buf, READ_ONCE(pv->ctl.knobs.retry_min_ms),
			      PVMEM_RETRY_MS_MAX, &val))
		return -EINVAL;
	WRITE_ONCE(pv->ctl.knobs.retry_max_ms, val);
	return count;
}
static DEVICE_ATTR_RW(retry_max_ms);

static ssize_t tidy_ms_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(to_pv(dev)->ctl.knobs.tidy_ms));
}

/* 0 (never), or 10 ms to an hour; the next pass at rest takes it up. */
static ssize_t tidy_ms_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct pvmem_dev *pv = to_pv(dev);
	u64 val;

	if (pvmem_parse_range(buf, 0, PVMEM_RETRY_MS_MAX, &val) ||
	    (val && val < PVMEM_RETRY_MS_MIN))
		return -EINVAL;
	WRITE_ONCE(pv->ctl.knobs.tidy_ms, val);
	if (!pv->kdump)
		pvmem_rerun(pv);
	return count;
}
static DEVICE_ATTR_RW(tidy_ms);

/* Write 1: a worker waiting for its backoff (or for onlining) runs now. */
static ssize_t retry_now_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t count)
{
	u64 val;

	if (pvmem_parse_range(buf, 1, 1, &val))
		return -EINVAL;
	pvmem_kick(to_pv(dev));
	return count;
}
static DEVICE_ATTR_WO(retry_now);

/* One attribute a line, as sysfs tables are written. */
/* clang-format off */
static struct attribute *pvmem_attrs[] = {
	&dev_attr_node.attr,
	&dev_attr_region_start.attr,
	&dev_attr_region_size.attr,
	&dev_attr_usable_region_size.attr,
	&dev_attr_block_size.attr,
	&dev_attr_memory_block_size.attr,
	&dev_attr_big_block_size.attr,
	&dev_attr_mode.attr,
	&dev_attr_plugged_size.attr,
	&dev_attr_requested_size.attr,
	&dev_attr_memmap_on_memory.attr,
	&dev_attr_memmap_on_memory_blocks.attr,
	&dev_attr_memmap_unplugged_bytes.attr,
	&dev_attr_own_bytes.attr,
	&dev_attr_state.attr,
	&dev_attr_features.attr,
	&dev_attr_broken_reason.attr,
	&dev_attr_unplug_online.attr,
	&dev_attr_offline_cap.attr,
	&dev_attr_retry_min_ms.attr,
	&dev_attr_retry_max_ms.attr,
	&dev_attr_retry_now.attr,
	&dev_attr_tidy_ms.attr,
	NULL,
};

/* clang-format on */

static const struct attribute_group pvmem_group = {
	.name = "pvmem",
	.attrs = pvmem_attrs,
};

/* --- counters --- */

#define PVMEM_STAT(name, expr) PVMEM_ATTR_U64(name, "%llu", READ_ONCE(expr))
#define PVMEM_CTL_STAT(name, stat) \
	PVMEM_ATTR_U64(name, "%llu", pvmem_ctl_stat(&pv->ctl, stat))

PVMEM_STAT(requests_plug, pv->nr_req[VIRTIO_MEM_REQ_PLUG]);
PVMEM_STAT(requests_unplug, pv->nr_req[VIRTIO_MEM_REQ_UNPLUG]);
PVMEM_STAT(requests_unplug_all, pv->nr_req[VIRTIO_MEM_REQ_UNPLUG_ALL]);
PVMEM_STAT(requests_state, pv->nr_req[VIRTIO_MEM_REQ_STATE]);
PVMEM_STAT(responses_ack, pv->nr_resp[VIRTIO_MEM_RESP_ACK]);
PVMEM_STAT(responses_nack, pv->nr_resp[VIRTIO_MEM_RESP_NACK]);
PVMEM_STAT(responses_busy, pv->nr_resp[VIRTIO_MEM_RESP_BUSY]);
PVMEM_STAT(responses_error, pv->nr_resp[VIRTIO_MEM_RESP_ERROR]);
PVMEM_STAT(responses_invalid, pv->nr_resp_invalid);
PVMEM_STAT(bytes_plugged, pv->bytes_plugged);
PVMEM_STAT(bytes_unplugged, pv->bytes_unplugged);
PVMEM_CTL_STAT(unplug_failed_busy, PVMEM_STAT_ISOLATE_BUSY);
PVMEM_CTL_STAT(unplug_failed_nomem, PVMEM_STAT_ISOLATE_NOMEM);
PVMEM_CTL_STAT(remove_failed, PVMEM_STAT_REMOVE_FAILED);
PVMEM_CTL_STAT(plug_paused_nomem, PVMEM_STAT_PLUG_NOMEM);
PVMEM_CTL_STAT(retries, PVMEM_STAT_RETRIES);
PVMEM_CTL_STAT(tidied, PVMEM_STAT_TIDIED);
PVMEM_CTL_STAT(emptied, PVMEM_STAT_EMPTIED);
/* Memory of requests without a clean answer: Linux never gets it back. */
PVMEM_ATTR_U64(bytes_unknown, "%llu",
	       pvmem_ctl_stat(&pv->ctl, PVMEM_STAT_UNKNOWN_BLOCKS) *
		       pv->ctl.lo.block_size);

/* One attribute a line, as sysfs tables are written. */
/* clang-format off */
static struct attribute *pvmem_stats_attrs[] = {
	&dev_attr_requests_plug.attr,
	&dev_attr_requests_unplug.attr,
	&dev_attr_requests_unplug_all.attr,
	&dev_attr_requests_state.attr,
	&dev_attr_responses_ack.attr,
	&dev_attr_responses_nack.attr,
	&dev_attr_responses_busy.attr,
	&dev_attr_responses_error.attr,
	&dev_attr_responses_invalid.attr,
	&dev_attr_bytes_plugged.attr,
	&dev_attr_bytes_unplugged.attr,
	&dev_attr_unplug_failed_busy.attr,
	&dev_attr_unplug_failed_nomem.attr,
	&dev_attr_remove_failed.attr,
	&dev_attr_plug_paused_nomem.attr,
	&dev_attr_retries.attr,
	&dev_attr_tidied.attr,
	&dev_attr_emptied.attr,
	&dev_attr_bytes_unknown.attr,
	NULL,
};

/* clang-format on */

static const struct attribute_group pvmem_stats_group = {
	.name = "pvmem_stats",
	.attrs = pvmem_stats_attrs,
};

/* --- what holds memory an unplug could not take --- */

#define PVMEM_HELD(name, field)                                              \
	static ssize_t name##_show(struct device *dev,                       \
				   struct device_attribute *attr, char *buf) \
	{                                                                    \
		struct pvmem_dev *pv = to_pv(dev);                           \
		struct pvmem_mm_held held = {};                              \
		if (!pv->kdump)                                              \
			pvmem_mm_held(&pv->mm, &held);                       \
		return sysfs_emit(buf, "%llu\n",                             \
				  (unsigned long long)held.field);           \
	}                                                                    \
	static DEVICE_ATTR_RO(name)

PVMEM_HELD(size, bytes);
PVMEM_HELD(slab_pages, slab);
PVMEM_HELD(page_table_pages, page_tables);
PVMEM_HELD(movable_pages, movable);
PVMEM_HELD(other_pages, other);

static ssize_t blocks_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct pvmem_dev *pv = to_pv(dev);

	if (pv->kdump)
		return sysfs_emit(buf, "\n");
	return pvmem_mm_held_blocks(&pv->mm, buf);
}
static DEVICE_ATTR_RO(blocks);

/* One attribute a line, as sysfs tables are written. */
/* clang-format off */
static struct attribute *pvmem_held_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_blocks.attr,
	&dev_attr_slab_pages.attr,
	&dev_attr_page_table_pages.attr,
	&dev_attr_movable_pages.attr,
	&dev_attr_other_pages.attr,
	NULL,
};

/* clang-format on */

static const struct attribute_group pvmem_held_group = {
	.name = "pvmem_held",
	.attrs = pvmem_held_attrs,
};

const struct attribute_group *pvmem_groups[] = {
	&pvmem_group,
	&pvmem_stats_group,
	&pvmem_held_group,
	NULL,
};
