// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target over pvmem's pure core and passes.
 *
 * The first bytes are a config and a response: validation must answer
 * with one named error or accept, never crash, and what it accepts must be
 * safe to use (the layout fits, the planners stay inside the map and the
 * usable region).  The bytes after them are a script for the real passes
 * against the fake device and memory of pvmem_fake.c: requests, passes,
 * answers (BUSY, NACK, ERROR, late, none, ...), config changes between any
 * two backend calls, pinned blocks, no room, onlining and offlining.  After
 * every step the invariants of fake_check() must hold: Linux never holds
 * a page the device unplugged, the device never has more plugged than
 * pvmem believes (bar requests of unknown outcome), every block state
 * change is allowed, the counters add up, and every pass ends within a
 * bounded number of backend calls.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined; `make fuzz-run`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "pvmem_fake.h"

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct input {
	uint64_t cfg[6]; /* block_size, addr, region, usable, plugged, requested */
	uint16_t node;
	uint8_t mb_shift; /* memory block size: 2^(12 + mb_shift % 20) */
	uint8_t req_type;
	uint16_t resp[5]; /* a response buffer */
	uint32_t len;
	uint64_t want;
	uint64_t bits[4]; /* which device blocks to mark plugged */
};

static void fuzz_responses(const struct input *in)
{
	struct pvmem_reply reply;
	enum pvmem_resp_err err;

	err = pvmem_resp_decode(in->req_type,
				(const struct virtio_mem_resp *)in->resp,
				in->len, &reply);
	if (err == PVMEM_RESP_OK) {
		CHECK(in->req_type < PVMEM_REQ_NR);
		CHECK(in->len == PVMEM_RESP_SIZE);
		CHECK(reply.type < PVMEM_RESP_NR);
		CHECK(reply.state < PVMEM_STATE_NR);
		CHECK(reply.type != VIRTIO_MEM_RESP_NACK ||
		      in->req_type == VIRTIO_MEM_REQ_PLUG);
	}
}

static void fuzz_map(const struct pvmem_cfg *cfg,
		     const struct pvmem_limits *lim, const struct input *in)
{
	struct pvmem_layout lo;
	struct pvmem_map map;
	struct pvmem_run run;
	u64 usable, total, i;
	void *mem;
	u32 mb;

	pvmem_layout_init(&lo, cfg, lim);
	CHECK(lo.nb_mb >= 1);
	CHECK(lo.first_mb_addr >= cfg->addr);
	CHECK(lo.first_mb_addr + (u64)lo.nb_mb * lo.mb_size <=
	      cfg->addr + cfg->region_size);
	total = (u64)lo.nb_mb * lo.sbs_per_mb;
	CHECK(total <= PVMEM_MAX_DEVICE_BLOCKS);
	usable = pvmem_layout_usable_blocks(&lo, cfg);
	CHECK(usable <= total);
	if (total > (1U << 22))
		return; /* 512 KiB of map at most: keep iterations fast */

	mem = calloc(1, pvmem_map_bytes(lo.nb_mb, lo.sbs_per_mb));
	CHECK(mem);
	pvmem_map_init(&map, &lo, mem);
	for (i = 0; i < total && i < 256; i++) {
		if (!(in->bits[i / 64] >> (i % 64) & 1))
			continue;
		pvmem_map_set(&map, i / lo.sbs_per_mb, i % lo.sbs_per_mb, 1,
			      true);
		if (map.state[i / lo.sbs_per_mb] == PVMEM_MB_UNUSED) {
			enum pvmem_mb_state st = 2 + in->node % 3;

			CHECK(pvmem_map_set_state(&map, i / lo.sbs_per_mb,
						  PVMEM_MB_ADDING));
			CHECK(pvmem_map_set_state(&map, i / lo.sbs_per_mb, st));
		}
	}
	if (pvmem_plan_plug(&map, in->want, usable, in->node % 9, &run)) {
		CHECK(run.nb && run.nb <= in->want &&
		      run.nb <= PVMEM_MAX_REQ_BLOCKS);
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

/* A broken invariant: say which, with the step, and stop. */
static void fuzz_check(struct fake *f, size_t step)
{
	if (fake_check(f))
		return;
	fprintf(stderr, "step %zu: %s\n", step, f->err);
	abort();
}

/*
 * Geometries: device block size, region and forced big-block size (0:
 * none), small enough to be quick.
 */
static const struct {
	u64 block, region, bbm;
} fuzz_geo[] = {
	{ 2 * FAKE_MiB, 2 * FAKE_GiB },
	{ 4 * FAKE_MiB, 1 * FAKE_GiB },
	{ 1 * FAKE_MiB, 1 * FAKE_GiB },
	{ 128 * FAKE_MiB, 4 * FAKE_GiB },
	{ 4096, 512 * FAKE_MiB }, /* runs above the 16-bit request cap */
	{ 512 * FAKE_MiB, 8 * FAKE_GiB }, /* big blocks of one device block */
	{ 2 * FAKE_MiB, 2 * FAKE_GiB, 256 * FAKE_MiB }, /* forced big blocks */
};

/* Run the real passes through a script of two-byte steps. */
static void fuzz_passes(const uint8_t *p, size_t n)
{
	const size_t ngeo = ARRAY_SIZE(fuzz_geo);
	struct fake f;
	u64 bs, step;
	size_t i;
	u32 mb;

	if (n < 1)
		return;
	bs = fuzz_geo[p[0] % ngeo].block;
	CHECK(!fake_init_bbm(&f, fuzz_geo[p[0] % ngeo].region, bs,
			     fuzz_geo[p[0] % ngeo].region / 2,
			     fuzz_geo[p[0] % ngeo].bbm));
	step = f.dev.region_size / 256;
	for (i = 1; i + 1 < n && i < 2 * 64; i += 2) {
		const uint8_t op = p[i], arg = p[i + 1];

		mb = arg % f.map.nb_mb;
		switch (op % 16) {
		case 0: /* the host asks for a size within the usable region */
			fake_request(&f, (f.dev.usable_region_size / 255 *
					  arg) & ~(bs - 1));
			break;
		case 1:
			fake_run(&f, 1 + arg % 4);
			break;
		case 2:
			fake_script(&f, arg % 4,
				    (enum fake_act)(arg / 4 % FA_NR));
			break;
		case 3: /* data in the block: none, a little, more, pinned */
			f.pinned[mb] = arg & 0x40;
			f.used[mb] = arg & 0x21;
			break;
		case 4: /* and where it can go */
			f.no_room = arg & 1;
			f.stale_idle = arg & 2;
			f.land_takes = arg >> 2 & 3;
			break;
		case 5:
			f.add_room = arg & 0x80 ? ~0U : arg % 4;
			break;
		case 6:
			fake_online(&f, mb, arg & 1);
			break;
		case 7:
			fake_offline(&f, mb);
			break;
		case 8: /* the request changes before some backend call */
			f.change_at = f.calls + 1 + arg % 64;
			f.change_to = (f.dev.usable_region_size / 255 *
				       (arg ^ 0x5a)) &
				      ~(bs - 1);
			break;
		case 9:
			f.fail_add = arg % 3;
			break;
		case 10:
			f.auto_online = arg & 1;
			f.kernel_zone = arg & 2;
			break;
		case 11:
			f.ctl.knobs.unplug_online = arg & 1;
			f.ctl.knobs.offline_cap =
				(1 + arg % 8) * f.ctl.lo.mb_size;
			break;
		case 12: /* the usable region grows */
			f.dev.usable_region_size += (step * (arg % 8)) &
						    ~(bs - 1);
			if (f.dev.usable_region_size > f.dev.region_size)
				f.dev.usable_region_size = f.dev.region_size;
			f.changed = true;
			break;
		case 13: /* a user on- or offlines a block at every request */
			f.race_mb = arg & 0x80 ? PVMEM_NO_MB : mb;
			f.race_online = arg & 1;
			break;
		case 14:
			f.fail_remove = arg % 3;
			break;
		case 15: /* a user's offlining that goes on, or its end */
			if (f.map.offlining == PVMEM_NO_MB)
				fake_offline_begin(&f, mb);
			else
				fake_offline_end(&f, arg & 1);
			break;
		}
		fuzz_check(&f, i / 2);
	}
	/* Let every backoff run out, then unbind. */
	if (f.map.offlining != PVMEM_NO_MB)
		fake_offline_end(&f, false);
	f.change_at = 0;
	f.race_mb = PVMEM_NO_MB;
	f.nscript = 0;
	fake_run(&f, 8);
	fuzz_check(&f, ~(size_t)0);
	/* Unbind, with or without a pass running, and bind again. */
	fake_unbind(&f, n & 1);
	fuzz_check(&f, ~(size_t)0);
	fake_rebind(&f);
	fake_request(&f, 0);
	fake_run(&f, 8);
	fuzz_check(&f, ~(size_t)0);
	fake_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvmem_limits lim = {
		.page_size = 4096,
		.pageblock_size = 4096,
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
	cfg = (struct pvmem_cfg){
		.block_size = in.cfg[0],
		.node_id = in.node,
		.addr = in.cfg[1],
		.region_size = in.cfg[2],
		.usable_region_size = in.cfg[3],
		.plugged_size = in.cfg[4],
		.requested_size = in.cfg[5],
	};
	fuzz_responses(&in);

	fuzz_passes(data + sizeof(in), size - sizeof(in));

	err = pvmem_cfg_check(&cfg, &lim);
	if (err != PVMEM_CFG_OK)
		return 0;
	/* What was accepted obeys every rule. */
	CHECK(cfg.block_size && !(cfg.block_size & (cfg.block_size - 1)));
	CHECK(cfg.block_size >= lim.page_size &&
	      cfg.block_size <= PVMEM_MAX_BIG_BLOCK);
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
