/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem tracepoints: /sys/kernel/tracing/events/pvmem/.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pvmem

#if !defined(_PVMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PVMEM_TRACE_H

#include <linux/tracepoint.h>

#include "pvmem_compat.h"
#include "pvmem_pass.h"

/* Enum values traces print by name: exported for userspace tools. */
TRACE_DEFINE_ENUM(PVMEM_ANS_ACK);
TRACE_DEFINE_ENUM(PVMEM_ANS_NACK);
TRACE_DEFINE_ENUM(PVMEM_ANS_BUSY);
TRACE_DEFINE_ENUM(PVMEM_ANS_ERROR);
TRACE_DEFINE_ENUM(PVMEM_ANS_UNSENT);
TRACE_DEFINE_ENUM(PVMEM_ANS_TIMEOUT);
TRACE_DEFINE_ENUM(PVMEM_ANS_INVALID);
TRACE_DEFINE_ENUM(PVMEM_ANS_GONE);
TRACE_DEFINE_ENUM(PVMEM_MB_UNUSED);
TRACE_DEFINE_ENUM(PVMEM_MB_ADDING);
TRACE_DEFINE_ENUM(PVMEM_MB_OFFLINE);
TRACE_DEFINE_ENUM(PVMEM_MB_KERNEL);
TRACE_DEFINE_ENUM(PVMEM_MB_MOVABLE);
TRACE_DEFINE_ENUM(PVMEM_MB_OWED);
TRACE_DEFINE_ENUM(PVMEM_MB_REMOVING);
TRACE_DEFINE_ENUM(PVMEM_WHY_NONE);
TRACE_DEFINE_ENUM(PVMEM_WHY_BUSY);
TRACE_DEFINE_ENUM(PVMEM_WHY_NACK);
TRACE_DEFINE_ENUM(PVMEM_WHY_UNSENT);
TRACE_DEFINE_ENUM(PVMEM_WHY_ADD);
TRACE_DEFINE_ENUM(PVMEM_WHY_MEMMAP);
TRACE_DEFINE_ENUM(PVMEM_WHY_ISOLATE_BUSY);
TRACE_DEFINE_ENUM(PVMEM_WHY_ISOLATE_NOMEM);
TRACE_DEFINE_ENUM(PVMEM_WHY_STUCK);
TRACE_DEFINE_ENUM(PVMEM_WHY_REMOVE);
TRACE_DEFINE_ENUM(PVMEM_WHY_CONFIG);
TRACE_DEFINE_ENUM(PVMEM_WHY_OFFLINING);

/* Enum values by name. */
#define pvmem_show_req(v)	__print_symbolic(v,	\
	{ VIRTIO_MEM_REQ_PLUG, "plug" },	\
	{ VIRTIO_MEM_REQ_UNPLUG, "unplug" },	\
	{ VIRTIO_MEM_REQ_UNPLUG_ALL, "unplug_all" },	\
	{ VIRTIO_MEM_REQ_STATE, "state" })

#define pvmem_show_answer(v)	__print_symbolic(v,	\
	{ PVMEM_ANS_ACK, "ack" },	\
	{ PVMEM_ANS_NACK, "nack" },	\
	{ PVMEM_ANS_BUSY, "busy" },	\
	{ PVMEM_ANS_ERROR, "error" },	\
	{ PVMEM_ANS_UNSENT, "unsent" },	\
	{ PVMEM_ANS_TIMEOUT, "timeout" },	\
	{ PVMEM_ANS_INVALID, "invalid" },	\
	{ PVMEM_ANS_GONE, "gone" })

#define pvmem_show_mb_state(v)	__print_symbolic(v,	\
	{ PVMEM_MB_UNUSED, "unused" },	\
	{ PVMEM_MB_ADDING, "adding" },	\
	{ PVMEM_MB_OFFLINE, "offline" },	\
	{ PVMEM_MB_KERNEL, "online_kernel" },	\
	{ PVMEM_MB_MOVABLE, "online_movable" },	\
	{ PVMEM_MB_OWED, "owed" },	\
	{ PVMEM_MB_REMOVING, "removing" })

#define pvmem_show_why(v)	__print_symbolic(v,	\
	{ PVMEM_WHY_NONE, "none" },	\
	{ PVMEM_WHY_BUSY, "busy" },	\
	{ PVMEM_WHY_NACK, "nack" },	\
	{ PVMEM_WHY_UNSENT, "unsent" },	\
	{ PVMEM_WHY_ADD, "add_failed" },	\
	{ PVMEM_WHY_MEMMAP, "no_memmap_room" },	\
	{ PVMEM_WHY_ISOLATE_BUSY, "isolate_busy" },	\
	{ PVMEM_WHY_ISOLATE_NOMEM, "isolate_nomem" },	\
	{ PVMEM_WHY_STUCK, "unplug_stuck" },	\
	{ PVMEM_WHY_REMOVE, "remove_failed" },	\
	{ PVMEM_WHY_CONFIG, "config_inconsistent" },	\
	{ PVMEM_WHY_OFFLINING, "linux_offlining" })

/* A request goes to the device. */
TRACE_EVENT(pvmem_request,
	    TP_PROTO(const char *dev, u16 type, u64 addr, u16 nb),
	    TP_ARGS(dev, type, addr, nb),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u16, type)
			     __field(u64, addr)
			     __field(u16, nb)),
	    TP_fast_assign(pvmem_assign_str(dev, dev);
			   __entry->type = type;
			   __entry->addr = addr;
			   __entry->nb = nb;),
	    TP_printk("%s %s addr=%#llx blocks=%u", __get_str(dev),
		      pvmem_show_req(__entry->type),
		      __entry->addr, __entry->nb)
);

/* How a request ended: the device's answer, or none (timeout, invalid). */
TRACE_EVENT(pvmem_response,
	    TP_PROTO(const char *dev, u16 type, u64 addr, u16 nb, int ans),
	    TP_ARGS(dev, type, addr, nb, ans),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u16, type)
			     __field(u64, addr)
			     __field(u16, nb)
			     __field(int, ans)),
	    TP_fast_assign(pvmem_assign_str(dev, dev);
			   __entry->type = type;
			   __entry->addr = addr;
			   __entry->nb = nb;
			   __entry->ans = ans;),
	    TP_printk("%s %s addr=%#llx blocks=%u resp=%s", __get_str(dev),
		      pvmem_show_req(__entry->type),
		      __entry->addr, __entry->nb,
		      pvmem_show_answer(__entry->ans))
);

/* A memory block changes state: added, onlined, offlined, removed. */
TRACE_EVENT(pvmem_block,
	    TP_PROTO(const char *dev, u64 addr, int from, int to, u32 plugged),
	    TP_ARGS(dev, addr, from, to, plugged),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, addr)
			     __field(int, from)
			     __field(int, to)
			     __field(u32, plugged)),
	    TP_fast_assign(pvmem_assign_str(dev, dev);
			   __entry->addr = addr;
			   __entry->from = from;
			   __entry->to = to;
			   __entry->plugged = plugged;),
	    TP_printk("%s block=%#llx %s -> %s plugged=%u", __get_str(dev),
		      __entry->addr,
		      pvmem_show_mb_state(__entry->from),
		      pvmem_show_mb_state(__entry->to),
		      __entry->plugged)
);

/* The worker will run again after a backoff. */
TRACE_EVENT(pvmem_retry,
	    TP_PROTO(const char *dev, unsigned int delay_ms, int why),
	    TP_ARGS(dev, delay_ms, why),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(unsigned int, delay_ms)
			     __field(int, why)),
	    TP_fast_assign(pvmem_assign_str(dev, dev);
			   __entry->delay_ms = delay_ms;
			   __entry->why = why;),
	    TP_printk("%s in %u ms: %s", __get_str(dev), __entry->delay_ms,
		      pvmem_show_why(__entry->why))
);

#endif /* _PVMEM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE pvmem_trace
#include <trace/define_trace.h>
