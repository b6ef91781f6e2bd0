// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of pvmem's pure core: config and response validation, the
 * wire encoding, the block map and the plug planner.  Built with ASan and
 * UBSan; run by `make check`.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "pvmem_core.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

static const struct pvmem_limits lim = {
	.page_size = 4096,
	.mb_size = 128 * MiB,
	.plug_start = 0,
	.plug_end = (1ULL << 46) - 1,
};

/* What QEMU offers for a 16 GiB device above 4 GiB with 2 MiB blocks. */
static struct pvmem_cfg good_cfg(void)
{
	return (struct pvmem_cfg) {
		.block_size = 2 * MiB,
		.addr = 4 * GiB,
		.region_size = 16 * GiB,
		.usable_region_size = 8 * GiB,
		.plugged_size = 0,
		.requested_size = 4 * GiB,
	};
}

TEST(good_config_passes)
{
	struct pvmem_cfg cfg = good_cfg();

	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	cfg.block_size = 4096;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	cfg.block_size = 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
}

/* One bad field per variant, and the one error it must produce. */
FIXTURE(bad_config) {
	struct pvmem_cfg cfg;
};

FIXTURE_VARIANT(bad_config) {
	int field;
	u64 value;
	enum pvmem_cfg_err err;
};

enum { F_BS, F_ADDR, F_REGION, F_USABLE, F_PLUGGED, F_REQUESTED };

FIXTURE_VARIANT_ADD(bad_config, bs_zero) {
	.field = F_BS,
	.value = 0,
	.err = PVMEM_CFG_BS_ZERO,
};

FIXTURE_VARIANT_ADD(bad_config, bs_not_pow2) {
	.field = F_BS,
	.value = 3 * MiB,
	.err = PVMEM_CFG_BS_NOT_POW2,
};

FIXTURE_VARIANT_ADD(bad_config, bs_below_page) {
	.field = F_BS,
	.value = 2048,
	.err = PVMEM_CFG_BS_TOO_SMALL,
};

FIXTURE_VARIANT_ADD(bad_config, bs_above_mb) {
	.field = F_BS,
	.value = 256 * MiB,
	.err = PVMEM_CFG_BS_TOO_BIG,
};

FIXTURE_VARIANT_ADD(bad_config, addr_unaligned) {
	.field = F_ADDR,
	.value = 4 * GiB + 4096,
	.err = PVMEM_CFG_ADDR_UNALIGNED,
};

FIXTURE_VARIANT_ADD(bad_config, addr_wraps) {
	.field = F_ADDR,
	.value = ~0ULL - 2 * MiB + 1,
	.err = PVMEM_CFG_REGION_OVERFLOW,
};

FIXTURE_VARIANT_ADD(bad_config, addr_beyond_pluggable) {
	.field = F_ADDR,
	.value = 1ULL << 46,
	.err = PVMEM_CFG_REGION_NOT_PLUGGABLE,
};

FIXTURE_VARIANT_ADD(bad_config, region_zero) {
	.field = F_REGION,
	.value = 0,
	.err = PVMEM_CFG_REGION_ZERO,
};

FIXTURE_VARIANT_ADD(bad_config, region_unaligned) {
	.field = F_REGION,
	.value = 16 * GiB + 4096,
	.err = PVMEM_CFG_REGION_UNALIGNED,
};

FIXTURE_VARIANT_ADD(bad_config, region_no_memory_block) {
	.field = F_REGION,
	.value = 64 * MiB,
	.err = PVMEM_CFG_REGION_NO_MB,
};

FIXTURE_VARIANT_ADD(bad_config, usable_unaligned) {
	.field = F_USABLE,
	.value = 1 * MiB,
	.err = PVMEM_CFG_USABLE_UNALIGNED,
};

FIXTURE_VARIANT_ADD(bad_config, usable_gt_region) {
	.field = F_USABLE,
	.value = 18 * GiB,
	.err = PVMEM_CFG_USABLE_GT_REGION,
};

FIXTURE_VARIANT_ADD(bad_config, plugged_unaligned) {
	.field = F_PLUGGED,
	.value = 4096,
	.err = PVMEM_CFG_PLUGGED_UNALIGNED,
};

FIXTURE_VARIANT_ADD(bad_config, plugged_gt_usable) {
	.field = F_PLUGGED,
	.value = 10 * GiB,
	.err = PVMEM_CFG_PLUGGED_GT_USABLE,
};

FIXTURE_VARIANT_ADD(bad_config, requested_unaligned) {
	.field = F_REQUESTED,
	.value = 4 * GiB + 1,
	.err = PVMEM_CFG_REQUESTED_UNALIGNED,
};

FIXTURE_VARIANT_ADD(bad_config, requested_gt_usable) {
	.field = F_REQUESTED,
	.value = 9 * GiB,
	.err = PVMEM_CFG_REQUESTED_GT_USABLE,
};

FIXTURE_SETUP(bad_config)
{
	self->cfg = good_cfg();
}

FIXTURE_TEARDOWN(bad_config)
{
}

TEST_F(bad_config, rejected_with_its_error)
{
	u64 *f[] = {
		[F_BS] = &self->cfg.block_size,
		[F_ADDR] = &self->cfg.addr,
		[F_REGION] = &self->cfg.region_size,
		[F_USABLE] = &self->cfg.usable_region_size,
		[F_PLUGGED] = &self->cfg.plugged_size,
		[F_REQUESTED] = &self->cfg.requested_size,
	};
	enum pvmem_cfg_err err;

	*f[variant->field] = variant->value;
	err = pvmem_cfg_check(&self->cfg, &lim);
	EXPECT_EQ(variant->err, err)
		TH_LOG("got \"%s\"", pvmem_cfg_errstr(err));
	/* Every error has its own message. */
	EXPECT_NE(0, strcmp(pvmem_cfg_errstr(err), pvmem_cfg_errstr(PVMEM_CFG_OK)));
}

TEST(too_many_device_blocks)
{
	struct pvmem_cfg cfg = good_cfg();

	cfg.block_size = 4096;
	cfg.region_size = 512 * GiB;
	cfg.usable_region_size = 0;
	cfg.requested_size = 0;
	EXPECT_EQ(PVMEM_CFG_REGION_TOO_MANY, pvmem_cfg_check(&cfg, &lim));
}

TEST(region_at_end_of_pluggable_range)
{
	struct pvmem_cfg cfg = good_cfg();

	cfg.addr = lim.plug_end + 1 - cfg.region_size;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	cfg.addr += 2 * MiB;
	EXPECT_EQ(PVMEM_CFG_REGION_NOT_PLUGGABLE, pvmem_cfg_check(&cfg, &lim));
}

TEST(runtime_change_of_immutable_fields)
{
	const struct pvmem_cfg old = good_cfg();
	struct pvmem_cfg cfg = old;

	cfg.requested_size = 8 * GiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.block_size = 4 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_BLOCK_SIZE, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.node_id = 1;
	EXPECT_EQ(PVMEM_CFG_CHANGED_NODE, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.addr += 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_ADDR, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.region_size -= 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_REGION, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.requested_size = 9 * GiB;
	EXPECT_EQ(PVMEM_CFG_REQUESTED_GT_USABLE, pvmem_cfg_check_update(&old, &cfg, &lim));
}

TEST(wire_sizes_and_encoding)
{
	struct pvmem_req req;
	unsigned char *b = (unsigned char *)&req;

	ASSERT_EQ(PVMEM_REQ_SIZE, sizeof(struct pvmem_req));
	ASSERT_EQ(PVMEM_RESP_SIZE, sizeof(struct pvmem_resp));
	ASSERT_EQ(PVMEM_CONFIG_SIZE, sizeof(struct pvmem_config));

	memset(&req, 0xaa, sizeof(req));
	pvmem_req_encode(&req, PVMEM_REQ_UNPLUG, 0x123456789000ULL, 0x0102);
	/* type at 0, addr at 8, nb_blocks at 16, all little endian. */
	EXPECT_EQ(1, b[0]);
	EXPECT_EQ(0, b[1]);
	EXPECT_EQ(0x00, b[8]);
	EXPECT_EQ(0x90, b[9]);
	EXPECT_EQ(0x78, b[10]);
	EXPECT_EQ(0x12, b[13]);
	EXPECT_EQ(0x02, b[16]);
	EXPECT_EQ(0x01, b[17]);
	/* Padding is zeroed, not left over. */
	EXPECT_EQ(0, b[2] | b[7] | b[18] | b[23]);
}

static struct pvmem_resp resp_of(u16 type, u16 state)
{
	struct pvmem_resp r = { .type = htole16(type), .state = htole16(state) };

	return r;
}

TEST(responses)
{
	struct pvmem_reply reply;
	struct pvmem_resp r;

	r = resp_of(PVMEM_RESP_ACK, 0);
	EXPECT_EQ(PVMEM_RESP_OK, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_ACK, reply.type);
	r = resp_of(PVMEM_RESP_NACK, 0);
	EXPECT_EQ(PVMEM_RESP_OK, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_NACK, reply.type);
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ, pvmem_resp_decode(PVMEM_REQ_UNPLUG, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ, pvmem_resp_decode(PVMEM_REQ_UNPLUG_ALL, &r, 10, &reply));
	r = resp_of(PVMEM_RESP_BUSY, 0);
	EXPECT_EQ(PVMEM_RESP_OK, pvmem_resp_decode(PVMEM_REQ_UNPLUG_ALL, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ, pvmem_resp_decode(PVMEM_REQ_STATE, &r, 10, &reply));
	r = resp_of(4, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_TYPE, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 10, &reply));
	r = resp_of(0xffff, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_TYPE, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 10, &reply));
	r = resp_of(PVMEM_RESP_ACK, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_LEN, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 0, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_LEN, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 9, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_LEN, pvmem_resp_decode(PVMEM_REQ_PLUG, &r, 11, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_REQ, pvmem_resp_decode(4, &r, 10, &reply));
	r = resp_of(PVMEM_RESP_ACK, PVMEM_STATE_MIXED);
	EXPECT_EQ(PVMEM_RESP_OK, pvmem_resp_decode(PVMEM_REQ_STATE, &r, 10, &reply));
	EXPECT_EQ(PVMEM_STATE_MIXED, reply.state);
	r = resp_of(PVMEM_RESP_ACK, 3);
	EXPECT_EQ(PVMEM_RESP_BAD_STATE, pvmem_resp_decode(PVMEM_REQ_STATE, &r, 10, &reply));
}

/* A map over a config, with the buffer the driver would kvzalloc(). */
FIXTURE(map) {
	struct pvmem_cfg cfg;
	struct pvmem_layout lo;
	struct pvmem_map map;
	void *mem;
};

FIXTURE_SETUP(map)
{
	self->cfg = good_cfg();
	pvmem_layout_init(&self->lo, &self->cfg, lim.mb_size);
	self->mem = calloc(1, pvmem_map_bytes(self->lo.nb_mb, self->lo.sbs_per_mb));
	ASSERT_NE(NULL, self->mem);
	pvmem_map_init(&self->map, self->lo.nb_mb, self->lo.sbs_per_mb, self->mem);
}

FIXTURE_TEARDOWN(map)
{
	free(self->mem);
}

/* Plug like the driver does: plan, mark plugged, new blocks get added. */
static u64 plug_all(struct pvmem_map *map, u64 want, u64 usable, int *runs)
{
	struct pvmem_run run;
	u64 done = 0;

	*runs = 0;
	while (done < want && pvmem_plan_plug(map, want - done, usable, ~0U, &run)) {
		const u32 last = (run.sb + run.nb - 1) / map->sbs_per_mb + run.mb;
		u32 mb;

		if (!run.nb || last >= map->nb_mb)
			return ~0ULL;
		/* Only runs over unused memory blocks may span several. */
		if (last != run.mb && map->state[run.mb] != PVMEM_MB_UNUSED)
			return ~0ULL;
		if (!pvmem_map_test(map, run.mb, run.sb, run.nb, false))
			return ~0ULL;
		pvmem_map_set(map, run.mb, run.sb, run.nb, true);
		for (mb = run.mb; mb <= last; mb++)
			if (map->state[mb] == PVMEM_MB_UNUSED)
				pvmem_map_set_state(map, mb, PVMEM_MB_MOVABLE);
		done += run.nb;
		(*runs)++;
	}
	return done;
}

TEST_F(map, layout_of_aligned_region)
{
	EXPECT_EQ(4 * GiB, self->lo.first_mb_addr);
	EXPECT_EQ(128U, self->lo.nb_mb);
	EXPECT_EQ(64U, self->lo.sbs_per_mb);
	EXPECT_EQ(4096U, pvmem_layout_usable_blocks(&self->lo, &self->cfg));
}

TEST(layout_of_unaligned_region)
{
	struct pvmem_cfg cfg = good_cfg();
	struct pvmem_layout lo;

	cfg.addr = 4 * GiB + 2 * MiB;
	cfg.usable_region_size = 130 * MiB;
	pvmem_layout_init(&lo, &cfg, lim.mb_size);
	EXPECT_EQ(4 * GiB + 128 * MiB, lo.first_mb_addr);
	EXPECT_EQ(127U, lo.nb_mb);
	/* usable ends at 4G + 132M: two device blocks of the first block. */
	EXPECT_EQ(2U, pvmem_layout_usable_blocks(&lo, &cfg));
	cfg.usable_region_size = 64 * MiB;
	EXPECT_EQ(0U, pvmem_layout_usable_blocks(&lo, &cfg));
}

TEST_F(map, plug_4g_plus_6m_exactly)
{
	const u64 want = (4 * GiB + 6 * MiB) / (2 * MiB);
	int runs;

	EXPECT_EQ(want, plug_all(&self->map, want, 4096, &runs));
	EXPECT_EQ(want, self->map.total_plugged);
	/*
	 * 33 new memory blocks: block 0 alone, blocks 2-31 at most 8 per
	 * PLUG, block 1 (the keeper), the 3 device blocks of block 32.
	 */
	EXPECT_EQ(7, runs);
	EXPECT_EQ(33U, self->map.count[PVMEM_MB_MOVABLE]);
	EXPECT_EQ(3U, self->map.nr_plugged[32]);
	EXPECT_TRUE(pvmem_map_test(&self->map, 32, 0, 3, true));
	EXPECT_TRUE(pvmem_map_test(&self->map, 32, 3, 61, false));
}

TEST_F(map, holes_in_added_blocks_first)
{
	struct pvmem_run run;
	int runs;

	EXPECT_EQ(3U, plug_all(&self->map, 3, 4096, &runs));
	EXPECT_EQ(200U, plug_all(&self->map, 200, 4096, &runs));
	/* 61 fill block 0, then block 2, the keeper block 1, 11 in block 3. */
	EXPECT_EQ(4, runs);
	EXPECT_EQ(64U, self->map.nr_plugged[0]);
	EXPECT_EQ(64U, self->map.nr_plugged[1]);
	EXPECT_EQ(64U, self->map.nr_plugged[2]);
	EXPECT_EQ(11U, self->map.nr_plugged[3]);
	pvmem_map_set(&self->map, 1, 10, 5, false);
	ASSERT_TRUE(pvmem_plan_plug(&self->map, 100, 4096, ~0U, &run));
	EXPECT_EQ(1U, run.mb);
	EXPECT_EQ(10U, run.sb);
	EXPECT_EQ(5U, run.nb);
}

TEST_F(map, offline_cap_limits_new_blocks)
{
	struct pvmem_run run;
	int runs;

	/* Block 0 goes alone (block 1 is the keeper); then at most 3. */
	ASSERT_TRUE(pvmem_plan_plug(&self->map, 1000, 4096, 3, &run));
	EXPECT_EQ(0U, run.mb);
	EXPECT_EQ(64U, run.nb);
	pvmem_map_set(&self->map, 0, 0, 64, true);
	pvmem_map_set_state(&self->map, 0, PVMEM_MB_MOVABLE);
	ASSERT_TRUE(pvmem_plan_plug(&self->map, 1000, 4096, 3, &run));
	EXPECT_EQ(2U, run.mb);
	EXPECT_EQ(3U * 64, run.nb);
	EXPECT_FALSE(pvmem_plan_plug(&self->map, 1000, 4096, 0, &run));
	/* Holes in added blocks are filled whatever the cap. */
	pvmem_map_set(&self->map, 0, 10, 54, false);
	ASSERT_TRUE(pvmem_plan_plug(&self->map, 1000, 4096, 0, &run));
	EXPECT_EQ(0U, run.mb);
	EXPECT_EQ(10U, run.sb);
	EXPECT_EQ(54U, run.nb);
	(void)runs;
}

/*
 * Linux rechecks a zone after each onlined memory block, walking from its
 * start to the first hole.  Model that over the order pvmem starts memory
 * blocks in: the walks must add up to about one per block, not N^2 / 2.
 */
TEST_F(map, keeper_keeps_zone_walks_short)
{
	u32 order[64], n = 0, mb, i, lo;
	u64 done = 0, walked = 0;
	struct pvmem_run run;

	while (pvmem_plan_plug(&self->map, 4096 - done, 4096, ~0U, &run)) {
		ASSERT_EQ(0U, run.sb);
		for (mb = run.mb; mb < run.mb + run.nb / 64; mb++) {
			ASSERT_EQ(PVMEM_MB_UNUSED, self->map.state[mb]);
			pvmem_map_set_state(&self->map, mb, PVMEM_MB_MOVABLE);
			order[n++] = mb;
		}
		pvmem_map_set(&self->map, run.mb, 0, run.nb, true);
		done += run.nb;
		ASSERT_GE(64U, n);
		/* The zone walk after each block this run onlined. */
		for (i = n - run.nb / 64; i < n; i++) {
			for (lo = 0; lo < 128 && self->map.state[lo] == PVMEM_MB_UNUSED; lo++)
				;
			for (mb = lo; mb < 128 && self->map.state[mb] != PVMEM_MB_UNUSED; mb++)
				walked++;
		}
	}
	EXPECT_EQ(4096U, done);
	EXPECT_EQ(64U, n);
	EXPECT_EQ(0U, order[0]);
	EXPECT_EQ(2U, order[1]);
	EXPECT_EQ(1U, order[63]);
	/* The 64 usable blocks: 2080 in address order; here 63 short, 1 full. */
	TH_LOG("zone walks: %llu memory blocks", (unsigned long long)walked);
	EXPECT_GE(2U * 64 + 64, walked);
}

/* 128 MiB memory blocks of 4 KiB pages need 512 pages of memory map each. */
TEST(memmap_room)
{
	/* 16 MiB margin (4096 pages); what is left above it, in whole maps. */
	EXPECT_EQ(0U, pvmem_memmap_room(0, 4096, 512));
	EXPECT_EQ(0U, pvmem_memmap_room(4096, 4096, 512));
	EXPECT_EQ(0U, pvmem_memmap_room(4096 + 511, 4096, 512));
	EXPECT_EQ(1U, pvmem_memmap_room(4096 + 512, 4096, 512));
	EXPECT_EQ(16U, pvmem_memmap_room(4096 + 16 * 512 + 100, 4096, 512));
	/* Less available than the margin is not a huge unsigned room. */
	EXPECT_EQ(0U, pvmem_memmap_room(100, 4096, 512));
	/* No division by zero, and no truncation to a small number. */
	EXPECT_EQ(0U, pvmem_memmap_room(1ULL << 40, 0, 0));
	EXPECT_EQ(0xffffffffU, pvmem_memmap_room(~0ULL, 0, 1));
}

TEST_F(map, stops_at_usable_region)
{
	int runs;

	/* 8 GiB usable = 4096 blocks; more is never planned. */
	EXPECT_EQ(4096U, plug_all(&self->map, 5000, 4096, &runs));
	EXPECT_EQ(64U, self->map.count[PVMEM_MB_MOVABLE]);
	EXPECT_EQ(100U, plug_all(&self->map, 100, 4196, &runs));
}

TEST_F(map, state_counters_add_up)
{
	u32 sum = 0;
	int s;

	pvmem_map_set_state(&self->map, 5, PVMEM_MB_ADDING);
	pvmem_map_set_state(&self->map, 5, PVMEM_MB_OFFLINE);
	pvmem_map_set_state(&self->map, 6, PVMEM_MB_KERNEL);
	for (s = 0; s < PVMEM_MB_STATE_NR; s++)
		sum += self->map.count[s];
	EXPECT_EQ(self->map.nb_mb, sum);
	EXPECT_EQ(1U, self->map.count[PVMEM_MB_OFFLINE]);
	EXPECT_EQ(1U, self->map.count[PVMEM_MB_KERNEL]);
	EXPECT_EQ(0U, self->map.count[PVMEM_MB_ADDING]);
	/* Marking twice counts once. */
	pvmem_map_set(&self->map, 5, 0, 4, true);
	pvmem_map_set(&self->map, 5, 2, 4, true);
	EXPECT_EQ(6U, self->map.nr_plugged[5]);
	EXPECT_EQ(6U, self->map.total_plugged);
}

/* Unplug like the driver does when nothing fails; returns runs used. */
static int unplug_all(struct pvmem_map *map, u64 want, bool online)
{
	struct pvmem_run run;
	int runs = 0;

	while (want && pvmem_plan_unplug(map, want, online, &run)) {
		if (!run.nb || run.nb > want || run.sb + run.nb > map->sbs_per_mb ||
		    !pvmem_map_test(map, run.mb, run.sb, run.nb, true))
			return -1;
		pvmem_map_set(map, run.mb, run.sb, run.nb, false);
		want -= run.nb;
		runs++;
	}
	return want ? -1 : runs;
}

TEST_F(map, unplug_offline_before_online)
{
	struct pvmem_run run;
	int runs;

	plug_all(&self->map, 4 * 64, 4096, &runs);	/* blocks 0-3 movable */
	pvmem_map_set_state(&self->map, 1, PVMEM_MB_OFFLINE);
	pvmem_map_set_state(&self->map, 2, PVMEM_MB_KERNEL);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 64, true, &run));
	EXPECT_EQ(1U, run.mb);
	EXPECT_EQ(0U, run.sb);
	EXPECT_EQ(64U, run.nb);
	pvmem_map_set(&self->map, run.mb, run.sb, run.nb, false);
	/* Then movable (highest address on a tie), kernel last. */
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 64, true, &run));
	EXPECT_EQ(3U, run.mb);
	pvmem_map_set(&self->map, run.mb, run.sb, run.nb, false);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 64, true, &run));
	EXPECT_EQ(0U, run.mb);
	pvmem_map_set(&self->map, run.mb, run.sb, run.nb, false);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 64, true, &run));
	EXPECT_EQ(2U, run.mb);
}

TEST_F(map, unplug_online_forbidden)
{
	struct pvmem_run run;
	int runs;

	plug_all(&self->map, 2 * 64, 4096, &runs);
	EXPECT_FALSE(pvmem_plan_unplug(&self->map, 10, false, &run));
	pvmem_map_set_state(&self->map, 0, PVMEM_MB_OFFLINE);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 10, false, &run));
	EXPECT_EQ(0U, run.mb);
	/* Partial: from the top of the block. */
	EXPECT_EQ(54U, run.sb);
	EXPECT_EQ(10U, run.nb);
}

TEST_F(map, unplug_fewest_plugged_first_and_skips_busy)
{
	struct pvmem_run run;
	int runs;

	plug_all(&self->map, 3 * 64 + 5, 4096, &runs);	/* block 3 holds 5 */
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 100, true, &run));
	EXPECT_EQ(3U, run.mb);
	EXPECT_EQ(5U, run.nb);
	pvmem_map_set_busy(&self->map, 3);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 100, true, &run));
	EXPECT_EQ(2U, run.mb);
	pvmem_map_clear_busy(&self->map);
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 100, true, &run));
	EXPECT_EQ(3U, run.mb);
}

TEST_F(map, unplug_holes_one_run_per_contiguous_range)
{
	int runs;

	plug_all(&self->map, 64, 4096, &runs);
	pvmem_map_set(&self->map, 0, 20, 4, false);	/* runs 0-19, 24-63 */
	EXPECT_EQ(2, unplug_all(&self->map, 60, true));
	EXPECT_EQ(0U, self->map.total_plugged);
}

TEST_F(map, owed_unplug_spans_memory_blocks)
{
	struct pvmem_run run;
	int runs;

	plug_all(&self->map, 5 * 64, 4096, &runs);
	EXPECT_FALSE(pvmem_plan_owed(&self->map, &run));
	pvmem_map_set_state(&self->map, 1, PVMEM_MB_OWED);
	pvmem_map_set_state(&self->map, 2, PVMEM_MB_OWED);
	pvmem_map_set_state(&self->map, 4, PVMEM_MB_OWED);
	/* Blocks 1 and 2 in one request; block 4 is not adjacent. */
	ASSERT_TRUE(pvmem_plan_owed(&self->map, &run));
	EXPECT_EQ(1U, run.mb);
	EXPECT_EQ(0U, run.sb);
	EXPECT_EQ(128U, run.nb);
	pvmem_map_set(&self->map, run.mb, run.sb, run.nb, false);
	EXPECT_EQ(0U, self->map.nr_plugged[1]);
	EXPECT_EQ(0U, self->map.nr_plugged[2]);
	EXPECT_EQ(64U, self->map.nr_plugged[3]);
	ASSERT_TRUE(pvmem_plan_owed(&self->map, &run));
	EXPECT_EQ(4U, run.mb);
	EXPECT_EQ(64U, run.nb);
	/* Owed blocks are never planned for plug or unplug. */
	pvmem_map_set(&self->map, 4, 0, 64, false);
	EXPECT_FALSE(pvmem_plan_owed(&self->map, &run));
	ASSERT_TRUE(pvmem_plan_unplug(&self->map, 64, true, &run));
	EXPECT_NE(4U, run.mb);
}

TEST_F(map, unplug_everything_exactly)
{
	const u64 want = (4 * GiB + 6 * MiB) / (2 * MiB);
	u32 mb;
	int runs;

	plug_all(&self->map, want, 4096, &runs);
	/* The 3-block remainder first, then 16 whole blocks from the top. */
	EXPECT_EQ(17, unplug_all(&self->map, want - 1024, true));
	EXPECT_EQ(1024U, self->map.total_plugged);
	EXPECT_EQ(16, unplug_all(&self->map, 1024, true));
	EXPECT_EQ(0U, self->map.total_plugged);
	/* Now every added block is empty and is a removal candidate. */
	ASSERT_TRUE(pvmem_plan_remove(&self->map, &mb));
	EXPECT_EQ(0U, mb);
	pvmem_map_set_busy(&self->map, 0);
	ASSERT_TRUE(pvmem_plan_remove(&self->map, &mb));
	EXPECT_EQ(1U, mb);
}

TEST_HARNESS_MAIN
