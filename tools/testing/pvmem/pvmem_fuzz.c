// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target over pvmem's pure core: whatever a device puts in its
 * config or its responses, validation must answer with one named error or
 * accept, never crash, and what it accepts must be safe to use: the layout
 * fits, the planners stay inside the map and the usable region.
 * Built with clang -fsanitize=fuzzer,address,undefined; `make fuzz-run`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvmem_core.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

struct input {
	uint64_t cfg[6];	/* block_size, addr, region, usable, plugged, requested */
	uint16_t node;
	uint8_t mb_shift;	/* memory block size: 2^(12 + mb_shift % 20) */
	uint8_t req_type;
	uint16_t resp[5];	/* a response buffer */
	uint32_t len;
	uint64_t want;
	uint64_t bits[4];	/* which device blocks to mark plugged */
};

static void fuzz_responses(const struct input *in)
{
	struct pvmem_reply reply;
	enum pvmem_resp_err err;

	err = pvmem_resp_decode(in->req_type, (const struct pvmem_resp *)in->resp,
				in->len, &reply);
	CHECK(pvmem_resp_errstr(err));
	if (err == PVMEM_RESP_OK) {
		CHECK(in->req_type < PVMEM_REQ_NR);
		CHECK(in->len == PVMEM_RESP_SIZE);
		CHECK(reply.type < PVMEM_RESP_NR);
		CHECK(reply.state < PVMEM_STATE_NR);
		CHECK(reply.type != PVMEM_RESP_NACK || in->req_type == PVMEM_REQ_PLUG);
	}
}

static void fuzz_map(const struct pvmem_cfg *cfg, const struct pvmem_limits *lim,
		     const struct input *in)
{
	struct pvmem_layout lo;
	struct pvmem_map map;
	struct pvmem_run run;
	u64 usable, total, i;
	void *mem;
	u32 mb;

	pvmem_layout_init(&lo, cfg, lim->mb_size);
	CHECK(lo.nb_mb >= 1);
	CHECK(lo.first_mb_addr >= cfg->addr);
	CHECK(lo.first_mb_addr + (u64)lo.nb_mb * lo.mb_size <= cfg->addr + cfg->region_size);
	total = (u64)lo.nb_mb * lo.sbs_per_mb;
	CHECK(total <= PVMEM_MAX_DEVICE_BLOCKS);
	usable = pvmem_layout_usable_blocks(&lo, cfg);
	CHECK(usable <= total);
	if (total > 4096)
		return;	/* keep iterations fast */

	mem = calloc(1, pvmem_map_bytes(lo.nb_mb, lo.sbs_per_mb));
	CHECK(mem);
	pvmem_map_init(&map, lo.nb_mb, lo.sbs_per_mb, mem);
	for (i = 0; i < total && i < 256; i++) {
		if (!(in->bits[i / 64] >> (i % 64) & 1))
			continue;
		pvmem_map_set(&map, i / lo.sbs_per_mb, i % lo.sbs_per_mb, 1, true);
		if (map.state[i / lo.sbs_per_mb] == PVMEM_MB_UNUSED)
			pvmem_map_set_state(&map, i / lo.sbs_per_mb,
					    (enum pvmem_mb_state)(2 + in->node % 3));
	}
	if (pvmem_plan_plug(&map, in->want, usable, in->node % 9, &run)) {
		CHECK(run.nb && run.nb <= in->want && run.nb <= PVMEM_MAX_REQ_BLOCKS);
		CHECK((u64)run.mb * lo.sbs_per_mb + run.sb + run.nb <= usable);
		CHECK(pvmem_map_test(&map, run.mb, run.sb, run.nb, false));
	}
	if (pvmem_plan_unplug(&map, in->want, in->node & 1, &run)) {
		CHECK(run.nb && run.nb <= in->want);
		CHECK(run.sb + run.nb <= lo.sbs_per_mb);
		CHECK(pvmem_map_test(&map, run.mb, run.sb, run.nb, true));
	}
	if (pvmem_plan_remove(&map, &mb))
		CHECK(mb < lo.nb_mb && !map.nr_plugged[mb]);
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvmem_limits lim = {
		.page_size = 4096,
		.plug_start = 0,
		.plug_end = (1ULL << 46) - 1,
	};
	struct pvmem_cfg cfg, next;
	enum pvmem_cfg_err err;
	struct input in;

	if (size < sizeof(in))
		return 0;
	memcpy(&in, data, sizeof(in));
	lim.mb_size = 1ULL << (12 + in.mb_shift % 20);
	cfg = (struct pvmem_cfg) {
		.block_size = in.cfg[0], .node_id = in.node, .addr = in.cfg[1],
		.region_size = in.cfg[2], .usable_region_size = in.cfg[3],
		.plugged_size = in.cfg[4], .requested_size = in.cfg[5],
	};
	fuzz_responses(&in);

	err = pvmem_cfg_check(&cfg, &lim);
	CHECK(pvmem_cfg_errstr(err));
	if (err != PVMEM_CFG_OK)
		return 0;
	/* What was accepted obeys every rule. */
	CHECK(cfg.block_size && !(cfg.block_size & (cfg.block_size - 1)));
	CHECK(cfg.block_size >= lim.page_size && cfg.block_size <= lim.mb_size);
	CHECK(cfg.addr + cfg.region_size > cfg.addr);
	CHECK(cfg.requested_size <= cfg.usable_region_size);
	CHECK(cfg.usable_region_size <= cfg.region_size);
	CHECK(cfg.plugged_size <= cfg.usable_region_size);

	/* A runtime update that changes an immutable field is refused. */
	next = cfg;
	next.addr ^= in.want & ~(cfg.block_size - 1);
	err = pvmem_cfg_check_update(&cfg, &next, &lim);
	CHECK(next.addr == cfg.addr || err == PVMEM_CFG_CHANGED_ADDR);

	fuzz_map(&cfg, &lim, &in);
	return 0;
}
