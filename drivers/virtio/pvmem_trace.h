/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvmem tracepoints: /sys/kernel/tracing/events/pvmem/.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pvmem

#if !defined(_PVMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PVMEM_TRACE_H

#include <linux/tracepoint.h>

/* A request goes to the device. */
TRACE_EVENT(pvmem_request,
	    TP_PROTO(const char *dev, const char *type, u64 addr, u16 nb),
	    TP_ARGS(dev, type, addr, nb),
	    TP_STRUCT__entry(__string(dev, dev)
			     __string(type, type)
			     __field(u64, addr)
			     __field(u16, nb)),
	    TP_fast_assign(__assign_str(dev, dev);
			   __assign_str(type, type);
			   __entry->addr = addr;
			   __entry->nb = nb;),
	    TP_printk("%s %s addr=%#llx blocks=%u", __get_str(dev),
		      __get_str(type), __entry->addr, __entry->nb)
);

/* The device answered (or did not: resp is "invalid" or "timeout"). */
TRACE_EVENT(pvmem_response,
	    TP_PROTO(const char *dev, const char *type, u64 addr, u16 nb,
		     const char *resp, int result),
	    TP_ARGS(dev, type, addr, nb, resp, result),
	    TP_STRUCT__entry(__string(dev, dev)
			     __string(type, type)
			     __field(u64, addr)
			     __field(u16, nb)
			     __string(resp, resp)
			     __field(int, result)),
	    TP_fast_assign(__assign_str(dev, dev);
			   __assign_str(type, type);
			   __entry->addr = addr;
			   __entry->nb = nb;
			   __assign_str(resp, resp);
			   __entry->result = result;),
	    TP_printk("%s %s addr=%#llx blocks=%u resp=%s result=%d",
		      __get_str(dev), __get_str(type), __entry->addr,
		      __entry->nb, __get_str(resp), __entry->result)
);

/* A memory block changes state: added, onlined, offlined, removed. */
TRACE_EVENT(pvmem_block,
	    TP_PROTO(const char *dev, u64 addr, const char *from, const char *to,
		     u32 plugged),
	    TP_ARGS(dev, addr, from, to, plugged),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, addr)
			     __string(from, from)
			     __string(to, to)
			     __field(u32, plugged)),
	    TP_fast_assign(__assign_str(dev, dev);
			   __entry->addr = addr;
			   __assign_str(from, from);
			   __assign_str(to, to);
			   __entry->plugged = plugged;),
	    TP_printk("%s block=%#llx %s -> %s plugged=%u", __get_str(dev),
		      __entry->addr, __get_str(from), __get_str(to),
		      __entry->plugged)
);

/* The worker will run again after a backoff. */
TRACE_EVENT(pvmem_retry,
	    TP_PROTO(const char *dev, unsigned int delay_ms, int err),
	    TP_ARGS(dev, delay_ms, err),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(unsigned int, delay_ms)
			     __field(int, err)),
	    TP_fast_assign(__assign_str(dev, dev);
			   __entry->delay_ms = delay_ms;
			   __entry->err = err;),
	    TP_printk("%s in %u ms after %d", __get_str(dev),
		      __entry->delay_ms, __entry->err)
);

#endif /* _PVMEM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE pvmem_trace
#include <trace/define_trace.h>
