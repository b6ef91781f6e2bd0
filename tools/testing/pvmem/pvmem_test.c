// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of pvmem's pure core and passes: config and response
 * validation, the wire encoding, the block map and planners, and the
 * worker's real plug and unplug passes driven against a fake device and
 * fake memory (pvmem_fake.c).  Built with ASan and UBSan; run by `make
 * check`.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include "kselftest_harness.h"
#include "pvmem_fake.h"

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

static const struct pvmem_limits lim = {
	.page_size = 4096,
	.pageblock_size = 2 * MiB,
	.mb_size = 128 * MiB,
	.plug_start = 0,
	.plug_end = (1ULL << 46) - 1,
};

/* What QEMU offers for a 16 GiB device above 4 GiB with 2 MiB blocks. */
static struct pvmem_cfg good_cfg(void)
{
	return (struct pvmem_cfg){
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
	cfg.block_size = 2 * MiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	cfg.block_size = 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
}

/* One bad field per variant, and the one error it must produce. */
FIXTURE(bad_config)
{
	struct pvmem_cfg cfg;
};

FIXTURE_VARIANT(bad_config)
{
	int field;
	u64 value;
	enum pvmem_cfg_err err;
};

enum { F_BS, F_ADDR, F_REGION, F_USABLE, F_PLUGGED, F_REQUESTED };

/* clang-format 14 would take these for calls: no space before "{". */
/* clang-format off */
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

FIXTURE_VARIANT_ADD(bad_config, bs_below_pageblock) {
	.field = F_BS,
	.value = MiB,
	.err = PVMEM_CFG_BS_BELOW_PAGEBLOCK,
};

FIXTURE_VARIANT_ADD(bad_config, bs_below_page) {
	.field = F_BS,
	.value = 2048,
	.err = PVMEM_CFG_BS_TOO_SMALL,
};

FIXTURE_VARIANT_ADD(bad_config, bs_above_16g) {
	.field = F_BS,
	.value = 32 * GiB,
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

/* clang-format on */

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
	EXPECT_NE(0, strcmp(pvmem_cfg_errstr(err),
			    pvmem_cfg_errstr(PVMEM_CFG_OK)));
}

TEST(too_many_device_blocks)
{
	struct pvmem_cfg cfg = good_cfg();
	struct pvmem_limits small = lim;

	/* As a kernel with 4 KiB pageblocks would take them. */
	small.pageblock_size = 4096;
	cfg.block_size = 4096;
	cfg.region_size = 512 * GiB;
	cfg.usable_region_size = 0;
	cfg.requested_size = 0;
	EXPECT_EQ(PVMEM_CFG_REGION_TOO_MANY, pvmem_cfg_check(&cfg, &small));
}

TEST(region_at_end_of_pluggable_range)
{
	struct pvmem_cfg cfg = good_cfg();

	cfg.addr = lim.plug_end + 1 - cfg.region_size;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	cfg.addr += 2 * MiB;
	EXPECT_EQ(PVMEM_CFG_REGION_NOT_PLUGGABLE, pvmem_cfg_check(&cfg, &lim));
}

TEST(region_below_pluggable_range)
{
	struct pvmem_limits high = lim;
	struct pvmem_cfg cfg = good_cfg();

	high.plug_start = 8 * GiB;
	EXPECT_EQ(PVMEM_CFG_REGION_NOT_PLUGGABLE, pvmem_cfg_check(&cfg, &high));
	cfg.addr = 8 * GiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &high));
}

TEST(runtime_change_of_immutable_fields)
{
	const struct pvmem_cfg old = good_cfg();
	struct pvmem_cfg cfg = old;

	cfg.requested_size = 8 * GiB;
	EXPECT_EQ(PVMEM_CFG_OK, pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.block_size = 4 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_BLOCK_SIZE,
		  pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.node_id = 1;
	EXPECT_EQ(PVMEM_CFG_CHANGED_NODE,
		  pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.addr += 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_ADDR,
		  pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.region_size -= 128 * MiB;
	EXPECT_EQ(PVMEM_CFG_CHANGED_REGION,
		  pvmem_cfg_check_update(&old, &cfg, &lim));
	cfg = old;
	cfg.requested_size = 9 * GiB;
	EXPECT_EQ(PVMEM_CFG_REQUESTED_GT_USABLE,
		  pvmem_cfg_check_update(&old, &cfg, &lim));
}

TEST(wire_sizes_and_encoding)
{
	struct virtio_mem_req req;
	unsigned char *b = (unsigned char *)&req;

	ASSERT_EQ(PVMEM_REQ_SIZE, sizeof(struct virtio_mem_req));
	ASSERT_EQ(PVMEM_RESP_SIZE, sizeof(struct virtio_mem_resp));
	ASSERT_EQ(PVMEM_CONFIG_SIZE, sizeof(struct virtio_mem_config));

	memset(&req, 0xaa, sizeof(req));
	pvmem_req_encode(&req, VIRTIO_MEM_REQ_UNPLUG, 0x123456789000ULL,
			 0x0102);
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

static struct virtio_mem_resp resp_of(u16 type, u16 state)
{
	struct virtio_mem_resp r = {
		.type = htole16(type),
		.u.state.state = htole16(state),
	};

	return r;
}

TEST(responses)
{
	struct pvmem_reply reply;
	struct virtio_mem_resp r;

	r = resp_of(VIRTIO_MEM_RESP_ACK, 0);
	EXPECT_EQ(PVMEM_RESP_OK,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 10, &reply));
	EXPECT_EQ(VIRTIO_MEM_RESP_ACK, reply.type);
	r = resp_of(VIRTIO_MEM_RESP_NACK, 0);
	EXPECT_EQ(PVMEM_RESP_OK,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 10, &reply));
	EXPECT_EQ(VIRTIO_MEM_RESP_NACK, reply.type);
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_UNPLUG, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_UNPLUG_ALL, &r, 10, &reply));
	r = resp_of(VIRTIO_MEM_RESP_BUSY, 0);
	EXPECT_EQ(PVMEM_RESP_OK,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_UNPLUG_ALL, &r, 10, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_FOR_REQ,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_STATE, &r, 10, &reply));
	r = resp_of(4, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_TYPE,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 10, &reply));
	r = resp_of(0xffff, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_TYPE,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 10, &reply));
	r = resp_of(VIRTIO_MEM_RESP_ACK, 0);
	EXPECT_EQ(PVMEM_RESP_BAD_LEN,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 0, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_LEN,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 9, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_LEN,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_PLUG, &r, 11, &reply));
	EXPECT_EQ(PVMEM_RESP_BAD_REQ, pvmem_resp_decode(4, &r, 10, &reply));
	r = resp_of(VIRTIO_MEM_RESP_ACK, VIRTIO_MEM_STATE_MIXED);
	EXPECT_EQ(PVMEM_RESP_OK,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_STATE, &r, 10, &reply));
	EXPECT_EQ(VIRTIO_MEM_STATE_MIXED, reply.state);
	r = resp_of(VIRTIO_MEM_RESP_ACK, 3);
	EXPECT_EQ(PVMEM_RESP_BAD_STATE,
		  pvmem_resp_decode(VIRTIO_MEM_REQ_STATE, &r, 10, &reply));
}

/* Every error has a message of its own, and none is the OK one. */
TEST(every_error_has_its_own_message)
{
	int i, j;

	for (i = 1; i < PVMEM_CFG_ERR_NR; i++) {
		for (j = 0; j < i; j++)
			EXPECT_NE(0, strcmp(pvmem_cfg_errstr(i),
					    pvmem_cfg_errstr(j)))
		TH_LOG("config errors %d and %d", i, j);
	}
	for (i = 1; i < PVMEM_RESP_ERR_NR; i++)
		for (j = 0; j < i; j++)
			EXPECT_NE(0, strcmp(pvmem_resp_errstr(i),
					    pvmem_resp_errstr(j)));
	EXPECT_STREQ("unknown config error",
		     pvmem_cfg_errstr(PVMEM_CFG_ERR_NR));
}

TEST(block_transitions)
{
	const struct pvmem_layout lo = { .nb_mb = 2, .sbs_per_mb = 64 };
	struct pvmem_map map;
	u64 mem[16] = { 0 };

	pvmem_map_init(&map, &lo, mem);
	/* Only through adding; never from online straight out. */
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_MOVABLE));
	EXPECT_EQ(PVMEM_MB_UNUSED, map.state[0]);
	EXPECT_EQ(2U, map.count[PVMEM_MB_UNUSED]);
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_ADDING));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_KERNEL));
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_UNUSED));
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_OWED));
	/* A big block's Linux memory blocks go online one by one. */
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_MOVABLE));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_KERNEL));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_REMOVING));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_KERNEL));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_OFFLINE));
	/* Offline memory is removed through REMOVING only, plugged or not. */
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_OWED));
	pvmem_map_set(&map, 0, 0, 1, true);
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_REMOVING));
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_ADDING));
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_OWED));
	EXPECT_FALSE(pvmem_map_set_state(&map, 0, PVMEM_MB_OFFLINE));
	pvmem_map_set(&map, 0, 0, 1, false);
	EXPECT_TRUE(pvmem_map_set_state(&map, 0, PVMEM_MB_UNUSED));
	EXPECT_TRUE(pvmem_map_set_state(&map, 1, PVMEM_MB_ADDING));
	EXPECT_TRUE(pvmem_map_set_state(&map, 1, PVMEM_MB_OWED));
	EXPECT_EQ(1U, map.count[PVMEM_MB_UNUSED]);
	EXPECT_EQ(1U, map.count[PVMEM_MB_OWED]);
	/* Strings stay whole (checkpatch), after the call. */
	/* clang-format off */
	EXPECT_FALSE(pvmem_mb_transition_ok(PVMEM_MB_STATE_NR, PVMEM_MB_UNUSED));
	/* clang-format on */
	/* Marking twice counts once. */
	pvmem_map_set(&map, 1, 0, 4, true);
	pvmem_map_set(&map, 1, 2, 4, true);
	EXPECT_EQ(6U, map.nr_plugged[1]);
	EXPECT_EQ(6U, map.total_plugged);
}

/*
 * The real passes over a fake device: 16 GiB region, 8 GiB usable, 2 MiB
 * blocks, 128 memory blocks of 64 device blocks.
 */
/* Does the planner, asked for @want, choose run @mb+@sb+@nb? */
static bool plan_is(const struct pvmem_map *map, u64 want, u32 mb, u32 sb,
		    u32 nb)
{
	struct pvmem_run run;

	return pvmem_plan_unplug(map, want, true, &run) && run.mb == mb &&
	       run.sb == sb && run.nb == nb;
}

/* The planner alone: a block's own memory map only ever goes whole. */
TEST(unplug_planner_keeps_memory_maps)
{
	const struct pvmem_layout lo = { .nb_mb = 2,
					 .sbs_per_mb = 64,
					 .memmap_sbs = 2 };
	struct pvmem_map map;
	u64 mem[16] = { 0 };
	u32 mb;

	pvmem_map_init(&map, &lo, mem);
	for (mb = 0; mb < 2; mb++) {
		pvmem_map_set(&map, mb, 0, 64, true);
		ASSERT_TRUE(pvmem_map_set_state(&map, mb, PVMEM_MB_ADDING));
		pvmem_map_set_selfmap(&map, mb, true);
		ASSERT_TRUE(pvmem_map_set_state(&map, mb, PVMEM_MB_MOVABLE));
	}
	EXPECT_EQ(2U, map.nr_selfmap);
	/* Less than a block: from the top, never into the map. */
	EXPECT_TRUE(plan_is(&map, 63, 1, 2, 62));
	/* All of it: the whole block, map and all (by removal). */
	EXPECT_TRUE(plan_is(&map, 64, 1, 0, 64));
	/* A block down to its map waits while another can meet the want. */
	pvmem_map_set(&map, 1, 2, 62, false);
	EXPECT_TRUE(plan_is(&map, 1, 0, 63, 1));
	/* ... and goes whole, first, once the want covers it. */
	EXPECT_TRUE(plan_is(&map, 2, 1, 0, 2));
	/* 62 unplugged device blocks in blocks Linux holds. */
	EXPECT_EQ(62U, pvmem_map_unplugged_in_linux(&map));
	/* Removed: its map went with it. */
	ASSERT_TRUE(pvmem_map_set_state(&map, 1, PVMEM_MB_REMOVING));
	ASSERT_TRUE(pvmem_map_set_state(&map, 1, PVMEM_MB_OWED));
	EXPECT_EQ(0U, pvmem_mb_pinned(&map, 1));
	EXPECT_EQ(1U, map.nr_selfmap);
	EXPECT_EQ(0U, pvmem_map_unplugged_in_linux(&map));
}

FIXTURE(fake)
{
	struct fake f;
};

FIXTURE_SETUP(fake)
{
	ASSERT_EQ(0, fake_init(&self->f, 16 * GiB, 2 * MiB, 8 * GiB));
}

FIXTURE_TEARDOWN(fake)
{
	fake_free(&self->f);
}

#define BLK (2 * MiB)

/* Ask for @blocks device blocks and run the worker until it rests. */
static enum pvmem_result want(struct fake *f, u64 blocks)
{
	fake_request(f, blocks * BLK);
	return fake_run(f, 50);
}

/* Device and driver agree on @blocks plugged, and every invariant holds. */
static void assert_at(struct __test_metadata *_metadata, struct fake *f,
		      u64 blocks)
{
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	ASSERT_EQ(blocks, fake_dev_plugged(f));
	ASSERT_EQ(blocks, f->map.total_plugged);
}

#define ASSERT_AT(f, blocks) assert_at(_metadata, f, blocks)

TEST_F(fake, plug_4g_plus_6m_exactly)
{
	struct fake *f = &self->f;
	const u64 n = (4 * GiB + 6 * MiB) / BLK;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, n));
	ASSERT_AT(f, n);
	EXPECT_EQ(n, fake_usable(f));
	EXPECT_EQ(PVMEM_DEV_IDLE, f->ctl.state);
	/*
	 * 33 new memory blocks: block 0 alone, blocks 2-31 at most 8 per
	 * PLUG, block 1 (the keeper), the 3 device blocks of block 32.
	 */
	EXPECT_EQ(7, f->nr_type[VIRTIO_MEM_REQ_PLUG]);
	EXPECT_EQ(33U, f->map.count[PVMEM_MB_MOVABLE]);
	EXPECT_EQ(3U, f->map.nr_plugged[32]);
	EXPECT_TRUE(pvmem_map_test(&f->map, 32, 0, 3, true));
	EXPECT_TRUE(pvmem_map_test(&f->map, 32, 3, 61, false));
	EXPECT_EQ(0, f->sends_locked);
}

TEST_F(fake, holes_in_added_blocks_first)
{
	struct fake *f = &self->f;
	struct pvmem_run run;
	long plugs;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3));
	plugs = f->nr_type[VIRTIO_MEM_REQ_PLUG];
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 203));
	ASSERT_AT(f, 203);
	/* 61 fill block 0, then block 2, the keeper block 1, 11 in block 3. */
	EXPECT_EQ(4, f->nr_type[VIRTIO_MEM_REQ_PLUG] - plugs);
	EXPECT_EQ(64U, f->map.nr_plugged[0]);
	EXPECT_EQ(64U, f->map.nr_plugged[1]);
	EXPECT_EQ(64U, f->map.nr_plugged[2]);
	EXPECT_EQ(11U, f->map.nr_plugged[3]);
	/* A hole inside an added block is what the planner fills first. */
	pvmem_map_set(&f->map, 1, 10, 5, false);
	ASSERT_TRUE(pvmem_plan_plug(&f->map, 100, 4096, ~0U, &run));
	EXPECT_EQ(1U, run.mb);
	EXPECT_EQ(10U, run.sb);
	EXPECT_EQ(5U, run.nb);
}

TEST_F(fake, offline_cap_waits_for_onlining)
{
	struct fake *f = &self->f;
	int i;

	f->auto_online = false;
	f->ctl.knobs.offline_cap = 3 * 128 * MiB;
	EXPECT_EQ(PVMEM_RES_WAIT_ONLINE, want(f, 1000));
	EXPECT_EQ(PVMEM_DEV_WAIT_ONLINE, f->ctl.state);
	EXPECT_EQ(3U, f->map.count[PVMEM_MB_OFFLINE]);
	EXPECT_EQ(0U, fake_usable(f));
	/* Each onlining lets one more block in, never more than 3 offline. */
	for (i = 0; i < 30 && f->map.total_plugged < 1000; i++) {
		u32 mb;

		for (mb = 0; f->map.state[mb] != PVMEM_MB_OFFLINE; mb++)
			;
		ASSERT_EQ(0, fake_online(f, mb, true));
		EXPECT_EQ(i + 1, f->kicks);
		fake_run(f, 50);
		ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
		EXPECT_GE(3U, f->map.count[PVMEM_MB_OFFLINE]);
	}
	EXPECT_EQ(1000U, fake_dev_plugged(f));
}

/*
 * Linux rechecks a zone after each onlined memory block, walking from its
 * start to the first hole.  Model that over the order the real pass adds
 * memory blocks in: the walks must add up to about one per block, not
 * N^2 / 2.
 */
TEST_F(fake, keeper_keeps_zone_walks_short)
{
	struct fake *f = &self->f;
	unsigned char present[128] = { 0 };
	u64 walked = 0;
	int i, lo, mb;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4096));
	ASSERT_AT(f, 4096);
	ASSERT_EQ(64, f->nadd);
	EXPECT_EQ(0U, f->add_log[0]);
	EXPECT_EQ(2U, f->add_log[1]);
	EXPECT_EQ(1U, f->add_log[63]);
	for (i = 0; i < f->nadd; i++) {
		present[f->add_log[i]] = 1;
		for (lo = 0; lo < 128 && !present[lo]; lo++)
			;
		for (mb = lo; mb < 128 && present[mb]; mb++)
			walked++;
	}
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

TEST_F(fake, stops_at_usable_region)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4096));
	ASSERT_AT(f, 4096);
	EXPECT_EQ(64U, f->map.count[PVMEM_MB_MOVABLE]);
	/* The host grows the usable region: the next 100 blocks go in. */
	f->dev.usable_region_size = 8 * GiB + 200 * MiB;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4196));
	ASSERT_AT(f, 4196);
}

/*
 * One request carries at most 65535 device blocks.  With 4 KiB device
 * blocks a memory block holds 32768 of them, so plug runs (8 memory
 * blocks) and owed UNPLUGs (batches of 8) must be cut into several.
 */
/*
 * A request reaching into the partial memory block at the region's end
 * is met as far as whole memory blocks go; the pass then rests, it does
 * not run again and again for the rest.
 */
TEST(request_beyond_whole_memory_blocks_rests)
{
	struct fake fk, *f = &fk;
	const u64 region = 2 * GiB + 64 * MiB;

	ASSERT_EQ(0, fake_init(f, region, 2 * MiB, region));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, region / BLK));
	ASSERT_AT(f, 2 * GiB / BLK);
	EXPECT_EQ(1, f->events[PVMEM_EV_PLUG_OUTSIDE]);
	EXPECT_EQ(PVMEM_DEV_IDLE, f->ctl.state);
	fake_free(f);
}

TEST(big_device_blocks_make_big_blocks)
{
	struct pvmem_cfg cfg = good_cfg();
	struct pvmem_limits forced = lim;
	struct pvmem_layout lo;

	/* 2 MiB: Linux memory blocks of 64 device blocks each. */
	pvmem_layout_init(&lo, &cfg, &lim);
	EXPECT_FALSE(lo.bbm);
	EXPECT_EQ(128 * MiB, lo.mb_size);
	/* 1 GiB device blocks: big blocks of eight Linux memory blocks. */
	cfg.block_size = 1 * GiB;
	ASSERT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &lim));
	pvmem_layout_init(&lo, &cfg, &lim);
	EXPECT_TRUE(lo.bbm);
	EXPECT_EQ(1 * GiB, lo.mb_size);
	EXPECT_EQ(128 * MiB, lo.lmb_size);
	EXPECT_EQ(1U, lo.sbs_per_mb);
	EXPECT_EQ(16U, lo.nb_mb);
	/* Forced, 512 MiB: big blocks of 256 device blocks, no own maps. */
	cfg.block_size = 2 * MiB;
	forced.bbm_size = 512 * MiB;
	forced.memmap_size = 2 * MiB;
	ASSERT_EQ(PVMEM_CFG_OK, pvmem_cfg_check(&cfg, &forced));
	pvmem_layout_init(&lo, &cfg, &forced);
	EXPECT_TRUE(lo.bbm);
	EXPECT_EQ(256U, lo.sbs_per_mb);
	EXPECT_EQ(0U, lo.memmap_sbs);
	/* Forced at the memory block size: still whole blocks only. */
	forced.bbm_size = 128 * MiB;
	pvmem_layout_init(&lo, &cfg, &forced);
	EXPECT_TRUE(lo.bbm);
	EXPECT_EQ(64U, lo.sbs_per_mb);
	/* A region that holds no whole big block. */
	cfg.addr = 5 * GiB;
	cfg.region_size = 1 * GiB;
	cfg.usable_region_size = 1 * GiB;
	cfg.requested_size = 0;
	forced.bbm_size = 2 * GiB;
	EXPECT_EQ(PVMEM_CFG_REGION_NO_MB, pvmem_cfg_check(&cfg, &forced));
}

/* Every memory block of @f plugged whole or not at all. */
static bool all_whole(const struct fake *f)
{
	u32 mb;

	for (mb = 0; mb < f->map.nb_mb; mb++)
		if (f->map.nr_plugged[mb] % f->map.sbs_per_mb)
			return false;
	return true;
}

TEST(gib_device_blocks_go_whole)
{
	struct fake f;

	ASSERT_EQ(0, fake_init(&f, 16 * GiB, 1 * GiB, 8 * GiB));
	fake_request(&f, 3 * GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(3U, fake_dev_plugged(&f));
	EXPECT_EQ(3U, f.map.count[PVMEM_MB_MOVABLE]);
	/* One in use: it migrates away as a whole. */
	f.used[2] = 1;
	fake_request(&f, 1 * GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(1U, fake_dev_plugged(&f));
	EXPECT_EQ(15U, f.map.count[PVMEM_MB_UNUSED]);
	fake_free(&f);
}

TEST(forced_bbm_rounds_requests_to_big_blocks)
{
	struct fake f;

	ASSERT_EQ(0, fake_init_bbm(&f, 16 * GiB, BLK, 8 * GiB, 128 * MiB));
	/* 4 GiB + 6 MiB: 32 big blocks; the 6 MiB would cut one. */
	fake_request(&f, 4 * GiB + 6 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(4 * GiB / BLK, fake_dev_plugged(&f));
	EXPECT_EQ(32U, f.map.count[PVMEM_MB_MOVABLE]);
	EXPECT_EQ(PVMEM_DEV_IDLE, f.ctl.state);
	/* Down to 3 GiB + 2 MiB: 25 big blocks stay. */
	fake_request(&f, 3 * GiB + 2 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ((3 * GiB + 128 * MiB) / BLK, fake_dev_plugged(&f));
	EXPECT_TRUE(all_whole(&f));
	/* Up by less than a big block: nothing to do. */
	fake_request(&f, 3 * GiB + 126 * MiB + 128 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	EXPECT_EQ((3 * GiB + 128 * MiB) / BLK, fake_dev_plugged(&f));
	fake_request(&f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(0U, fake_dev_plugged(&f));
	fake_free(&f);

	/*
	 * 16 GiB big blocks of 8192 device blocks, 7 per PLUG at most; the
	 * region from 4 GiB holds 10 whole ones.  With one plugged, eight
	 * would follow in one run but for the 16-bit cap.
	 */
	ASSERT_EQ(0, fake_init_bbm(&f, 176 * GiB, BLK, 176 * GiB, 16 * GiB));
	fake_request(&f, 16 * GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	fake_request(&f, 176 * GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(160 * GiB / BLK, fake_dev_plugged(&f));
	EXPECT_TRUE(all_whole(&f));
	fake_free(&f);
}

TEST_F(fake, bbm_planner_takes_big_blocks_whole)
{
	struct fake *f = &self->f;
	struct pvmem_run run;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->map.bbm = true;
	/* Less than a block is not taken from one. */
	EXPECT_FALSE(pvmem_plan_unplug(&f->map, 63, true, &run));
	ASSERT_TRUE(pvmem_plan_unplug(&f->map, 64, true, &run));
	EXPECT_EQ(0U, run.sb);
	EXPECT_EQ(64U, run.nb);
	f->map.bbm = false;
	ASSERT_TRUE(pvmem_plan_unplug(&f->map, 63, true, &run));
	EXPECT_EQ(63U, run.nb);
}

TEST(forced_bbm_never_splits_a_block)
{
	struct fake f;

	ASSERT_EQ(0, fake_init_bbm(&f, 16 * GiB, BLK, 8 * GiB, 128 * MiB));
	fake_request(&f, 4 * 128 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	/*
	 * Block 3's top device block will not migrate: 3 stays whole.  It
	 * holds the fewest pages in use, so it is tried first.
	 */
	f.pinned[3] = FAKE_PIN_TOP;
	f.used[0] = 1;
	f.used[1] = 1;
	f.used[2] = 1;
	fake_request(&f, 2 * 128 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_TRUE(fake_check(&f)) TH_LOG("%s", f.err);
	EXPECT_EQ(2 * 64U, fake_dev_plugged(&f));
	EXPECT_EQ(64U, f.map.nr_plugged[3]);
	EXPECT_EQ(64U, f.map.nr_plugged[0]);
	EXPECT_TRUE(all_whole(&f));
	fake_free(&f);
}

TEST(request_cap_is_16_bits)
{
	const u64 n = GiB / 4096;
	struct fake f;

	ASSERT_EQ(0, fake_init(&f, 2 * GiB, 4096, 2 * GiB));
	fake_request(&f, GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_AT(&f, n);
	EXPECT_LE((long)(n / 65535 + 1), f.nr_type[VIRTIO_MEM_REQ_PLUG]);
	fake_request(&f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_AT(&f, 0);
	EXPECT_LE((long)(n / 65535 + 1), f.nr_type[VIRTIO_MEM_REQ_UNPLUG]);
	/* Offline blocks are removed first and owe their UNPLUG in batches. */
	f.auto_online = false;
	fake_request(&f, GiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_AT(&f, n);
	fake_request(&f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&f, 50));
	ASSERT_AT(&f, 0);
	EXPECT_EQ(16U, f.map.count[PVMEM_MB_UNUSED]);
	fake_free(&f);
}

TEST_F(fake, unplug_offline_before_online)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	ASSERT_EQ(0, fake_offline(f, 1));
	ASSERT_EQ(0, fake_offline(f, 2));
	ASSERT_EQ(0, fake_online(f, 2, false));
	f->nremove = 0;
	/* Offline first, then movable (highest address on a tie), kernel last. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 1 * 64));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	ASSERT_EQ(4, f->nremove);
	EXPECT_EQ(1U, f->remove_log[0]);
	EXPECT_EQ(3U, f->remove_log[1]);
	EXPECT_EQ(0U, f->remove_log[2]);
	EXPECT_EQ(2U, f->remove_log[3]);
}

TEST_F(fake, unplug_online_forbidden)
{
	struct fake *f = &self->f;

	f->ctl.knobs.unplug_online = false;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 2 * 64 - 10));
	EXPECT_EQ(PVMEM_WHY_STUCK, f->ctl.why);
	EXPECT_EQ(PVMEM_DEV_RETRY, f->ctl.state);
	ASSERT_AT(f, 128);
	/* An offline block may go: from its top. */
	ASSERT_EQ(0, fake_offline(f, 0));
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(118U, fake_dev_plugged(f));
	EXPECT_EQ(54U, f->map.nr_plugged[0]);
	EXPECT_TRUE(pvmem_map_test(&f->map, 0, 54, 10, false));
}

TEST_F(fake, unplug_fewest_plugged_first)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64 + 5));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64 + 5 - 20));
	ASSERT_AT(f, 3 * 64 - 15);
	/* Block 3's five went first and it is gone; then 15 from the top. */
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[3]);
	EXPECT_EQ(49U, f->map.nr_plugged[2]);
	EXPECT_TRUE(pvmem_map_test(&f->map, 2, 49, 15, false));
}

/* The planner takes the topmost contiguous run, cut to what is wanted. */
TEST_F(fake, unplug_planner_takes_topmost_run)
{
	struct fake *f = &self->f;
	struct pvmem_run run;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	pvmem_map_set(&f->map, 0, 20, 4, false); /* runs 0-19, 24-63 */
	ASSERT_TRUE(pvmem_plan_unplug(&f->map, 60, true, &run));
	EXPECT_EQ(24U, run.sb);
	EXPECT_EQ(40U, run.nb);
	pvmem_map_set(&f->map, 0, 24, 40, false);
	ASSERT_TRUE(pvmem_plan_unplug(&f->map, 10, true, &run));
	EXPECT_EQ(10U, run.sb);
	EXPECT_EQ(10U, run.nb);
	pvmem_map_set_busy(&f->map, 0);
	EXPECT_FALSE(pvmem_plan_unplug(&f->map, 10, true, &run));
	pvmem_map_clear_busy(&f->map);
	EXPECT_TRUE(pvmem_plan_unplug(&f->map, 10, true, &run));
}

TEST_F(fake, owed_unplug_spans_memory_blocks)
{
	struct fake *f = &self->f;
	struct pvmem_run run;
	u32 mb;

	f->auto_online = false;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 5 * 64));
	EXPECT_FALSE(pvmem_plan_owed(&f->map, &run));
	for (mb = 1; mb < 5; mb += 1 + (mb == 2)) {
		/* Strings stay whole (checkpatch), after the call. */
		/* clang-format off */
		ASSERT_TRUE(pvmem_map_set_state(&f->map, mb, PVMEM_MB_REMOVING));
		/* clang-format on */
		ASSERT_TRUE(pvmem_map_set_state(&f->map, mb, PVMEM_MB_OWED));
	}
	/* Blocks 1 and 2 in one request; block 4 is not adjacent. */
	ASSERT_TRUE(pvmem_plan_owed(&f->map, &run));
	EXPECT_EQ(1U, run.mb);
	EXPECT_EQ(0U, run.sb);
	EXPECT_EQ(128U, run.nb);
	pvmem_map_set(&f->map, run.mb, run.sb, run.nb, false);
	ASSERT_TRUE(pvmem_plan_owed(&f->map, &run));
	EXPECT_EQ(4U, run.mb);
	EXPECT_EQ(64U, run.nb);
	/* Owed blocks are never planned for plug or unplug. */
	pvmem_map_set(&f->map, 4, 0, 64, false);
	EXPECT_FALSE(pvmem_plan_owed(&f->map, &run));
	ASSERT_TRUE(pvmem_plan_unplug(&f->map, 64, true, &run));
	EXPECT_NE(4U, run.mb);
}

TEST_F(fake, unplug_everything_exactly)
{
	struct fake *f = &self->f;
	const u64 n = (4 * GiB + 6 * MiB) / BLK;
	long unplugs;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, n));
	unplugs = f->nr_type[VIRTIO_MEM_REQ_UNPLUG];
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 1024));
	ASSERT_AT(f, 1024);
	/*
	 * The 3-block remainder, then 16 idle whole blocks, removed first
	 * and unplugged in two batches of 8.
	 */
	EXPECT_EQ(3, f->nr_type[VIRTIO_MEM_REQ_UNPLUG] - unplugs);
	EXPECT_EQ(16U, f->map.count[PVMEM_MB_MOVABLE]);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	EXPECT_EQ(128U, f->map.count[PVMEM_MB_UNUSED]);
}

/* Memory maps inside memory blocks (memory_hotplug.memmap_on_memory). */
FIXTURE(selfmap)
{
	struct fake f;
};

FIXTURE_SETUP(selfmap)
{
	ASSERT_EQ(0, fake_init_memmap(&self->f, 16 * GiB, 2 * MiB, 8 * GiB,
				      2 * MiB));
}

FIXTURE_TEARDOWN(selfmap)
{
	fake_free(&self->f);
}

TEST_F(selfmap, full_blocks_carry_their_map_exact_request_holds)
{
	struct fake *f = &self->f;
	const u64 n = (4 * GiB + 6 * MiB) / BLK;

	EXPECT_EQ(1U, f->ctl.lo.memmap_sbs);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, n));
	ASSERT_AT(f, n);
	/* 32 full memory blocks carry their map; the 6 MiB one does not. */
	EXPECT_EQ(32, f->selfmap_adds);
	EXPECT_EQ(32U, f->map.nr_selfmap);
	EXPECT_EQ(0U, pvmem_mb_pinned(&f->map, 32));
	EXPECT_EQ(1U, pvmem_mb_pinned(&f->map, 31));
	EXPECT_EQ(33, f->nadd);
	EXPECT_EQ(PVMEM_DEV_IDLE, f->ctl.state);
}

TEST_F(selfmap, map_stays_until_its_block_goes)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	memset(f->used, 1, 2);
	/* 2 MiB more than a block's memory: its map has to stay. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 65));
	ASSERT_AT(f, 65);
	EXPECT_EQ(64U, f->map.nr_plugged[0] + f->map.nr_plugged[1] - 1);
	EXPECT_EQ(2U, f->map.nr_selfmap);
	/* Down to 1 device block: that block's map goes with it. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 1));
	ASSERT_AT(f, 1);
	EXPECT_EQ(1U, f->map.nr_selfmap);
	EXPECT_EQ(1, f->nremove);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	EXPECT_EQ(0U, f->map.nr_selfmap);
	EXPECT_EQ(2, f->nremove);
}

TEST_F(selfmap, idle_blocks_go_whole_without_isolation)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 8 * 64));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	EXPECT_EQ(0, f->isolations);
	EXPECT_EQ(8, f->nremove);
	EXPECT_EQ(0U, f->map.nr_selfmap);
}

TEST_F(selfmap, teardown_keeps_blocks_with_their_map)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	memset(f->used, 1, 2);
	EXPECT_FALSE(pvmem_ctl_teardown(&f->ctl));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	/* The maps stay plugged: no UNPLUG_ALL under added memory. */
	EXPECT_EQ(0, f->nr_type[VIRTIO_MEM_REQ_UNPLUG_ALL]);
	EXPECT_EQ(2U, f->map.nr_selfmap);
	EXPECT_LE(2U, fake_dev_plugged(f));
}

TEST_F(selfmap, kernel_that_says_no_gets_batches_again)
{
	struct fake *f = &self->f;

	f->memmap_refused = true;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 16 * 64));
	ASSERT_AT(f, 16 * 64);
	EXPECT_EQ(0, f->selfmap_adds);
	EXPECT_EQ(0U, f->map.nr_selfmap);
	EXPECT_TRUE(f->ctl.selfmap_off);
	/* Asked once, alone; then up to 8 memory blocks per PLUG again. */
	EXPECT_GE(5, f->nr_type[VIRTIO_MEM_REQ_PLUG]);
}

/*
 * A memory map of two device blocks (memory blocks of 2 GiB have 32 MiB
 * of it): requests are still met exactly.  A block left with only its map
 * goes last, and what it took too much is plugged again elsewhere.
 */
TEST(selfmap_of_two_device_blocks_meets_requests_exactly)
{
	struct fake fk, *f = &fk;
	long isolations;

	ASSERT_EQ(0, fake_init_memmap(f, 16 * GiB, 2 * MiB, 8 * GiB, 4 * MiB));
	EXPECT_EQ(2U, f->ctl.lo.memmap_sbs);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64));
	memset(f->used, 1, 3);
	/* Block 2 keeps its map; the last device block comes from block 1. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64 + 1));
	ASSERT_AT(f, 2 * 64 + 1);
	EXPECT_EQ(2U, f->map.nr_plugged[2]);
	EXPECT_EQ(63U, f->map.nr_plugged[1]);
	/*
	 * 1 device block: blocks 2 and 1 go whole; block 0, down to its
	 * map, goes last and takes one device block too many, which the
	 * next pass plugs again with its map outside.
	 */
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 1));
	ASSERT_AT(f, 1);
	EXPECT_EQ(2, f->isolations - isolations);
	EXPECT_EQ(3, f->nremove);
	EXPECT_EQ(0U, f->map.nr_selfmap);
	EXPECT_EQ(1U, f->map.nr_plugged[0]);
	EXPECT_EQ(0U, pvmem_mb_pinned(&f->map, 0));
	fake_free(f);
}

/*
 * Two full memory blocks with data, unplugged to @in0 device blocks left
 * at the bottom of block 0 and @in1 at the top of block 1: pinned memory
 * makes each unplug go to the other block.
 */
static void sparse_blocks(struct __test_metadata *_metadata, struct fake *f,
			  u32 in0, u32 in1)
{
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	memset(f->used, 1, 2);
	f->pinned[1] = 1;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64 + in0));
	f->pinned[1] = 0;
	f->pinned[0] = 1;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, in0 + in1));
	f->pinned[0] = 0;
	ASSERT_AT(f, in0 + in1);
	ASSERT_EQ(in0, f->map.nr_plugged[0]);
	ASSERT_EQ(in1, f->map.nr_plugged[1]);
	ASSERT_EQ(2 * 64 - in0 - in1, pvmem_map_unplugged_in_linux(&f->map));
}

TEST_F(fake, tidy_empties_a_sparse_block_into_holes)
{
	struct fake *f = &self->f;

	sparse_blocks(_metadata, f, 8, 8);
	/* Block 1 goes (data migrated); its 8 land in block 0's holes. */
	f->ctl.knobs.tidy_ms = 1000;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 16);
	EXPECT_EQ(16U, f->map.nr_plugged[0]);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[1]);
	EXPECT_EQ(64 - 16U, pvmem_map_unplugged_in_linux(&f->map));
	EXPECT_EQ(1U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
	/* Nothing left worth it: at rest for good. */
	EXPECT_EQ(PVMEM_NO_PASS,
		  pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
}

TEST_F(fake, tidy_waits_its_interval_and_stops_at_zero)
{
	struct fake *f = &self->f;
	long isolations;

	sparse_blocks(_metadata, f, 8, 8);
	/* The next tidy is due 1000 ms after the last (at 0). */
	f->ctl.knobs.tidy_ms = 1000;
	f->ctl.tidy_at = 1000;
	isolations = f->isolations;
	EXPECT_EQ(1000U, pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	EXPECT_EQ(isolations, f->isolations);
	f->now_ms = 400;
	EXPECT_EQ(600U, pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	/* Due, but the device is going away: no tidy. */
	f->now_ms = 1000;
	pvmem_ctl_stop(&f->ctl, true);
	pvmem_ctl_pass(&f->ctl);
	pvmem_ctl_stop(&f->ctl, false);
	EXPECT_EQ(isolations, f->isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
	/* Nor with unplugging from online memory forbidden. */
	f->ctl.knobs.unplug_online = false;
	EXPECT_EQ(PVMEM_NO_PASS,
		  pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	f->ctl.knobs.unplug_online = true;
	EXPECT_EQ(isolations, f->isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
	/* Switched off: nothing is scheduled, nothing moves. */
	f->ctl.knobs.tidy_ms = 0;
	f->now_ms = 5000;
	EXPECT_EQ(PVMEM_NO_PASS,
		  pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	EXPECT_EQ(isolations, f->isolations);
	EXPECT_EQ(8U, f->map.nr_plugged[1]);
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
}

TEST_F(fake, tidy_only_where_the_holes_can_take_it)
{
	struct fake *f = &self->f;

	f->ctl.knobs.tidy_ms = 1000;
	/* One full block and one with 8: no holes to move the 8 into. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	memset(f->used, 1, 2);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64 + 8));
	f->now_ms += 5000;
	EXPECT_EQ(PVMEM_NO_PASS,
		  pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	ASSERT_AT(f, 64 + 8);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
}

TEST_F(fake, tidy_leaves_blocks_more_than_a_quarter_plugged)
{
	struct fake *f = &self->f;

	/* Block 0 with 40 device blocks, block 1 with 20 (> 64 / 4). */
	sparse_blocks(_metadata, f, 40, 20);
	f->ctl.knobs.tidy_ms = 1000;
	f->now_ms += 5000;
	EXPECT_EQ(PVMEM_NO_PASS,
		  pvmem_ctl_settle(&f->ctl, pvmem_ctl_pass(&f->ctl)));
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
	/* Offline, it is left alone too: removal costs it nothing later. */
	ASSERT_EQ(0, fake_offline(f, 1));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 60 - 16));
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_TIDIED));
}

/* How a pass ends when the n-th request is answered with @act. */
FIXTURE(answers)
{
	struct fake f;
};

FIXTURE_VARIANT(answers)
{
	enum fake_act act;
	bool unplug; /* shrink instead of grow */
	bool recovers; /* the next passes get there */
};

/* clang-format 14 would take these for calls: no space before "{". */
/* clang-format off */
FIXTURE_VARIANT_ADD(answers, busy_plug) {
	.act = FA_BUSY,
	.recovers = true,
};

FIXTURE_VARIANT_ADD(answers, busy_unplug) {
	.act = FA_BUSY,
	.unplug = true,
	.recovers = true,
};

FIXTURE_VARIANT_ADD(answers, nack_plug) {
	.act = FA_NACK,
	.recovers = true,
};

FIXTURE_VARIANT_ADD(answers, nack_unplug) {
	.act = FA_NACK,
	.unplug = true,
};

FIXTURE_VARIANT_ADD(answers, unsent_plug) {
	.act = FA_UNSENT,
	.recovers = true,
};

FIXTURE_VARIANT_ADD(answers, unsent_unplug) {
	.act = FA_UNSENT,
	.unplug = true,
	.recovers = true,
};

FIXTURE_VARIANT_ADD(answers, error_plug) {
	.act = FA_ERROR,
};

FIXTURE_VARIANT_ADD(answers, error_unplug) {
	.act = FA_ERROR,
	.unplug = true,
};

FIXTURE_VARIANT_ADD(answers, invalid_plug) {
	.act = FA_INVALID,
};

FIXTURE_VARIANT_ADD(answers, invalid_unplug) {
	.act = FA_INVALID,
	.unplug = true,
};

FIXTURE_VARIANT_ADD(answers, gone_plug) {
	.act = FA_GONE,
};

FIXTURE_VARIANT_ADD(answers, gone_unplug) {
	.act = FA_GONE,
	.unplug = true,
};

FIXTURE_VARIANT_ADD(answers, late_plug) {
	.act = FA_LATE,
};

FIXTURE_VARIANT_ADD(answers, late_unplug) {
	.act = FA_LATE,
	.unplug = true,
};

FIXTURE_VARIANT_ADD(answers, never_plug) {
	.act = FA_NEVER,
};

FIXTURE_VARIANT_ADD(answers, never_unplug) {
	.act = FA_NEVER,
	.unplug = true,
};

/* clang-format on */

FIXTURE_SETUP(answers)
{
}

FIXTURE_TEARDOWN(answers)
{
}

/* From 2 GiB + 6 MiB to 6 GiB + 10 MiB, or back: whole and partial runs. */
static void resize_setup(struct __test_metadata *_metadata, struct fake *f,
			 bool unplug, u64 *to)
{
	const u64 small = (2 * GiB + 6 * MiB) / BLK;
	const u64 big = (6 * GiB + 10 * MiB) / BLK;

	ASSERT_EQ(0, fake_init(f, 16 * GiB, 2 * MiB, 8 * GiB));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, unplug ? big : small));
	ASSERT_AT(f, unplug ? big : small);
	/* Some of it offline, so every unplug path is taken. */
	ASSERT_EQ(0, fake_offline(f, 9));
	*to = unplug ? small : big;
}

TEST_F(answers, at_every_request_of_a_pass)
{
	struct fake *f = &self->f;
	long sends, n, k;
	u64 to;

	/* How many requests a clean pass sends. */
	resize_setup(_metadata, f, variant->unplug, &to);
	sends = f->sends;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, to));
	n = f->sends - sends;
	fake_free(f);
	ASSERT_LT(2, n);

	for (k = 0; k < n; k++) {
		enum pvmem_result res;

		resize_setup(_metadata, f, variant->unplug, &to);
		fake_script(f, k, variant->act);
		fake_request(f, to * BLK);
		res = fake_run(f, 1);
		ASSERT_TRUE(fake_check(f)) TH_LOG("request %ld: %s", k, f->err);
		/* Linux never holds what the device may have taken back. */
		ASSERT_GE(fake_dev_plugged(f), fake_usable(f));
		if (variant->recovers) {
			ASSERT_EQ(PVMEM_RES_RETRY, res)
			TH_LOG("request %ld", k);
			ASSERT_NE(PVMEM_WHY_NONE, f->ctl.why);
			res = fake_run(f, 50);
			ASSERT_EQ(PVMEM_RES_DONE, res) TH_LOG("request %ld", k);
			ASSERT_AT(f, to);
		} else {
			ASSERT_EQ(PVMEM_RES_BROKEN, res)
			TH_LOG("request %ld", k);
			ASSERT_EQ(PVMEM_DEV_BROKEN, f->ctl.state);
			ASSERT_EQ(1, f->events[PVMEM_EV_BROKEN]);
			/* Broken stays broken and sends nothing (fake_send checks). */
			sends = f->sends;
			fake_request(f, 0);
			ASSERT_EQ(PVMEM_RES_BROKEN, fake_run(f, 5));
			ASSERT_EQ(sends, f->sends);
			/*
			 * Unbound broken: nothing is sent, Linux keeps what is
			 * plugged; bound again, the device is asked (STATE)
			 * before anything else, then driven as usual.
			 */
			ASSERT_FALSE(pvmem_ctl_teardown(&f->ctl));
			ASSERT_EQ(sends, f->sends);
			fake_unbind(f, false);
			ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
			f->nscript = 0;
			f->all = FA_NORMAL;
			fake_rebind(f);
			ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
			ASSERT_EQ(1, f->events[PVMEM_EV_ADOPTED]);
			memset(f->unknown, 0, f->dev_blocks);
			ASSERT_AT(f, 0);
		}
		fake_free(f);
	}
	TH_LOG("%ld requests, each answered %d", n, variant->act);
}

/* The host changes its mind before any one backend call of a pass. */
FIXTURE(change)
{
	struct fake f;
};

FIXTURE_VARIANT(change)
{
	bool unplug;
};

/* clang-format 14 would take these for calls: no space before "{". */
/* clang-format off */
FIXTURE_VARIANT_ADD(change, while_plugging) { .unplug = false };
FIXTURE_VARIANT_ADD(change, while_unplugging) { .unplug = true };

/* clang-format on */

FIXTURE_SETUP(change)
{
}

FIXTURE_TEARDOWN(change)
{
}

TEST_F(change, between_any_two_backend_calls)
{
	struct fake *f = &self->f;
	const u64 mid = (3 * GiB + 4 * MiB) / BLK;
	long calls, k;
	u64 to;

	resize_setup(_metadata, f, variant->unplug, &to);
	calls = f->calls;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, to));
	calls = f->calls - calls;
	fake_free(f);

	for (k = 1; k <= calls; k++) {
		resize_setup(_metadata, f, variant->unplug, &to);
		f->change_at = f->calls + k;
		f->change_to = mid * BLK;
		ASSERT_EQ(PVMEM_RES_DONE, want(f, to)) TH_LOG("call %ld", k);
		ASSERT_TRUE(fake_check(f)) TH_LOG("call %ld: %s", k, f->err);
		/* The pass saw it, or the one after did. */
		fake_run(f, 50);
		ASSERT_AT(f, mid);
		fake_free(f);
	}
	TH_LOG("config changed before each of %ld backend calls", calls);
}

TEST_F(fake, pinned_block_is_skipped)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	f->pinned[3] = 1;
	/* Block 3 (topmost) is in use: idle blocks 2 and 1 go instead. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	ASSERT_AT(f, 2 * 64);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[3]);
	EXPECT_EQ(64U, f->map.nr_plugged[3]);
	EXPECT_EQ(0, f->ctl.stats[PVMEM_STAT_ISOLATE_BUSY]);
	/* Nothing else left: retry with backoff until it lets go. */
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 0));
	EXPECT_EQ(PVMEM_WHY_STUCK, f->ctl.why);
	EXPECT_LT(0, f->ctl.stats[PVMEM_STAT_ISOLATE_BUSY]);
	ASSERT_AT(f, 64);
	f->pinned[3] = 0;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(128U, f->map.count[PVMEM_MB_UNUSED]);
}

/*
 * Device blocks that would not migrate are recorded as held, exactly;
 * the next unplug tries other memory blocks before held ones, and
 * plugging forgets them.
 */
TEST_F(fake, held_blocks_recorded_and_tried_last)
{
	struct fake *f = &self->f;
	u64 busy;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	f->pinned[3] = FAKE_PIN_TOP;
	f->used[0] = 1;
	f->used[1] = 1;
	f->used[2] = 1;
	/*
	 * Block 3 has the fewest pages in use (its pinned top).  That would
	 * not go, so the free rest below it goes through the range
	 * allocator; only its top stays.
	 */
	EXPECT_EQ(PVMEM_RES_DONE, want(f, 3 * 64 + 1));
	ASSERT_AT(f, 3 * 64 + 1);
	EXPECT_EQ(1U, f->map.nr_held);
	EXPECT_TRUE(test_bit(3 * 64 + 63, f->map.held));
	EXPECT_TRUE(pvmem_mb_held(&f->map, 3));
	EXPECT_FALSE(pvmem_mb_held(&f->map, 2));
	EXPECT_EQ(1U, f->map.nr_plugged[3]);
	EXPECT_EQ(64U, f->map.nr_plugged[2]);
	/*
	 * Fewest in use and fewest plugged would pick block 3, but held
	 * ranks it after blocks 0-2: block 2 goes, block 3 is not tried.
	 */
	f->pinned[3] = FAKE_PIN_ALL;
	busy = f->ctl.stats[PVMEM_STAT_ISOLATE_BUSY];
	EXPECT_EQ(PVMEM_RES_DONE, want(f, 2 * 64 + 1));
	EXPECT_EQ(busy, f->ctl.stats[PVMEM_STAT_ISOLATE_BUSY]);
	EXPECT_EQ(0U, f->map.nr_plugged[2]);
	EXPECT_EQ(1U, f->map.nr_plugged[3]);
	/* To zero: stuck on block 3's top, held still. */
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 0));
	EXPECT_EQ(PVMEM_WHY_STUCK, f->ctl.why);
	ASSERT_AT(f, 1);
	EXPECT_EQ(1U, f->map.nr_held);
	/* Plugging forgets what was held. */
	EXPECT_EQ(PVMEM_RES_DONE, want(f, 64));
	EXPECT_EQ(0U, f->map.nr_held);
	f->pinned[3] = 0;
	EXPECT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
}

/* A device block that is unplugged at last is no longer held. */
TEST_F(fake, held_block_that_goes_is_not_held)
{
	struct fake *f = &self->f;
	u32 gen;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	f->pinned[0] = FAKE_PIN_ALL;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 0));
	EXPECT_EQ(64U, f->map.nr_held);
	/* Every attempt is news for a survey of what holds them. */
	gen = f->map.held_gen;
	EXPECT_EQ(PVMEM_RES_RETRY, fake_run(f, 1));
	EXPECT_NE(gen, f->map.held_gen);
	f->pinned[0] = 0;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(0U, f->map.nr_held);
}

TEST_F(fake, no_room_for_memory_maps)
{
	struct fake *f = &self->f;

	f->add_room = 0;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 1000));
	EXPECT_EQ(PVMEM_WHY_MEMMAP, f->ctl.why);
	EXPECT_EQ(PVMEM_RES_RETRY, fake_run(f, 1));
	/* Said once per stall, counted every pass. */
	EXPECT_EQ(1, f->events[PVMEM_EV_PLUG_PAUSED]);
	EXPECT_EQ(2U, f->ctl.stats[PVMEM_STAT_PLUG_NOMEM]);
	ASSERT_AT(f, 0);
	/* Room for two: they go in, then the next stall is said again. */
	f->add_room = 2;
	EXPECT_EQ(PVMEM_RES_RETRY, fake_run(f, 1));
	EXPECT_LT(0U, f->map.total_plugged);
	EXPECT_EQ(2, f->events[PVMEM_EV_PLUG_PAUSED]);
	f->add_room = ~0U;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 1000);
}

TEST_F(fake, no_room_to_migrate)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64 + 3));
	/* Data in all three blocks: it must move first. */
	memset(f->used, 1, 3);
	f->no_room = true;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 0));
	ASSERT_AT(f, 2 * 64 + 3);
	EXPECT_LT(0U, f->ctl.stats[PVMEM_STAT_ISOLATE_NOMEM]);
	f->no_room = false;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
}

TEST_F(fake, failed_hot_add_gives_memory_back)
{
	struct fake *f = &self->f;

	f->fail_add = 1;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 3 * 64));
	EXPECT_EQ(PVMEM_WHY_ADD, f->ctl.why);
	EXPECT_EQ(1, f->events[PVMEM_EV_ADD_FAILED]);
	/* The device got it back at once; nothing is owed. */
	ASSERT_AT(f, 0);
	EXPECT_EQ(128U, f->map.count[PVMEM_MB_UNUSED]);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 3 * 64);
}

TEST_F(fake, leftovers_cleared_first)
{
	struct fake *f = &self->f;

	fake_free(f);
	ASSERT_EQ(0, fake_init(f, 16 * GiB, 2 * MiB, 8 * GiB));
	/* 20 blocks plugged before probe, the way a kexec leaves them. */
	memset(f->dev_plugged + 100, 1, 20);
	f->ctl.boot_cfg.plugged_size = 20 * BLK;
	pvmem_ctl_init(&f->ctl, f->ctl.ops, f, &f->map);
	ASSERT_EQ(PVMEM_DEV_LEFTOVERS, f->ctl.state);
	ASSERT_STREQ("unplug_all", pvmem_dev_state_name(f->ctl.state));
	fake_script(f, 0, FA_BUSY);
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 64));
	/* Still first in line, and nothing else was tried. */
	EXPECT_EQ(PVMEM_DEV_LEFTOVERS, f->ctl.state);
	EXPECT_EQ(1, f->sends);
	EXPECT_TRUE(pvmem_ctl_kick(&f->ctl));
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	EXPECT_EQ(1, f->events[PVMEM_EV_LEFTOVERS_CLEARED]);
	EXPECT_EQ(2, f->nr_type[VIRTIO_MEM_REQ_UNPLUG_ALL]);
	ASSERT_AT(f, 64);
}

TEST_F(fake, config_checked_every_pass)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	f->corrupt_addr = true;
	EXPECT_EQ(PVMEM_RES_BROKEN, want(f, 128));
	EXPECT_EQ(1, f->events[PVMEM_EV_CONFIG_REJECTED]);
	EXPECT_STREQ("addr changed at runtime", f->ctl.broken_reason);
	ASSERT_AT(f, 64);
}

TEST_F(fake, plugged_size_must_agree)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	/* The device claims a block pvmem never plugged. */
	f->dev_plugged[4000] = 1;
	f->unknown[4000] = 1;
	EXPECT_EQ(PVMEM_RES_BROKEN, want(f, 128));
	EXPECT_EQ(1, f->events[PVMEM_EV_PLUGGED_MISMATCH]);
	EXPECT_EQ(64U, f->map.total_plugged);
}

TEST_F(fake, each_new_request_is_reported_once)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	EXPECT_EQ(1, f->events[PVMEM_EV_RESIZE]);
	EXPECT_EQ(0U, f->event_a[PVMEM_EV_RESIZE]);
	EXPECT_EQ(64 * BLK, f->event_b[PVMEM_EV_RESIZE]);
	/* A config change that leaves the request as it was says nothing. */
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	EXPECT_EQ(1, f->events[PVMEM_EV_RESIZE]);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 16));
	EXPECT_EQ(2, f->events[PVMEM_EV_RESIZE]);
	EXPECT_EQ(64 * BLK, f->event_a[PVMEM_EV_RESIZE]);
	EXPECT_EQ(16 * BLK, f->event_b[PVMEM_EV_RESIZE]);
	ASSERT_AT(f, 16);
}

TEST_F(fake, backoff_doubles_to_the_cap)
{
	struct fake *f = &self->f;
	const unsigned int want_ms[] = { 100, 200, 400, 800, 1600 };
	unsigned int i;

	f->ctl.knobs.retry_max_ms = 1600;
	for (i = 0; i < 5; i++)
		EXPECT_EQ(want_ms[i],
			  pvmem_ctl_settle(&f->ctl, PVMEM_RES_RETRY));
	EXPECT_EQ(1600U, pvmem_ctl_settle(&f->ctl, PVMEM_RES_RETRY));
	EXPECT_EQ(PVMEM_DEV_RETRY, f->ctl.state);
	EXPECT_EQ(6U, f->ctl.stats[PVMEM_STAT_RETRIES]);
	/* A kick starts over from retry_min_ms. */
	EXPECT_TRUE(pvmem_ctl_kick(&f->ctl));
	EXPECT_EQ(100U, pvmem_ctl_settle(&f->ctl, PVMEM_RES_RETRY));
	f->changed = false;
	EXPECT_EQ(PVMEM_NO_PASS, pvmem_ctl_settle(&f->ctl, PVMEM_RES_DONE));
	EXPECT_EQ(PVMEM_DEV_IDLE, f->ctl.state);
	EXPECT_FALSE(pvmem_ctl_kick(&f->ctl));
	EXPECT_EQ(0U, pvmem_ctl_settle(&f->ctl, PVMEM_RES_AGAIN));
}

TEST_F(fake, teardown_gives_everything_back)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 5 * 64 + 7));
	ASSERT_EQ(0, fake_offline(f, 2));
	/* remove() may hold the hotplug locks: it removes no memory. */
	EXPECT_TRUE(pvmem_ctl_teardown(&f->ctl));
	ASSERT_AT(f, 0);
	/* Then UNPLUG_ALL, for what an earlier binding may have left. */
	EXPECT_EQ(1, f->nr_type[VIRTIO_MEM_REQ_UNPLUG_ALL]);
	EXPECT_EQ(0, f->events[PVMEM_EV_UNPLUG_ALL_FAILED]);
	EXPECT_EQ(0, f->nremove);
	EXPECT_EQ(6U, pvmem_ctl_in_linux(&f->ctl));
	/* The detached worker does, with nothing plugged left in them. */
	EXPECT_EQ(0U, fake_unbind(f, true));
	EXPECT_EQ(6, f->nremove);
	EXPECT_EQ(128U, f->map.count[PVMEM_MB_UNUSED]);
}

/*
 * Teardown gives back what holds no data, and empties only
 * PVMEM_TEARDOWN_MIGRATE blocks in use (migration takes as long as the
 * data is large): the others stay plugged, untouched.
 */
TEST_F(fake, teardown_unplug_all_refused_is_reported)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	fake_script(f, 0, FA_BUSY);
	EXPECT_FALSE(pvmem_ctl_teardown(&f->ctl));
	EXPECT_EQ(1, f->nr_type[VIRTIO_MEM_REQ_UNPLUG_ALL]);
	EXPECT_EQ(1, f->events[PVMEM_EV_UNPLUG_ALL_FAILED]);
	ASSERT_AT(f, 0);
}

TEST_F(fake, teardown_leaves_data_where_it_is)
{
	struct fake *f = &self->f;
	long isolations;
	u32 mb;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 9 * 64));
	for (mb = 1; mb < 7; mb++)
		f->used[mb] = 1;
	isolations = f->isolations;
	EXPECT_FALSE(pvmem_ctl_teardown(&f->ctl));
	ASSERT_AT(f, (6 - PVMEM_TEARDOWN_MIGRATE) * 64);
	EXPECT_EQ(isolations + 3 + PVMEM_TEARDOWN_MIGRATE, f->isolations);
	EXPECT_EQ(6U - PVMEM_TEARDOWN_MIGRATE, fake_unbind(f, true));
}

TEST_F(fake, teardown_leaves_what_will_not_go)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->pinned[1] = 1;
	f->used[0] = 1;
	f->no_room = true;
	/*
	 * Block 1 will not migrate, block 0's data has nowhere to go: Linux
	 * keeps both, in use.
	 */
	EXPECT_FALSE(pvmem_ctl_teardown(&f->ctl));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(128U, fake_dev_plugged(f));
	EXPECT_EQ(2U, fake_unbind(f, true));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(128U, fake_usable(f));
	EXPECT_EQ(0, f->nremove);
}

/*
 * Memory in use is never offlined: a pinned, fully plugged movable block
 * is left in Linux (the fake fails if pvmem offlines a block that holds
 * data: 6.1's offline_pages() would migrate for ever), and goes once the
 * pin is gone.
 */
TEST_F(fake, pinned_block_never_offlined)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	f->pinned[0] = 1;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 0));
	ASSERT_AT(f, 64);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[0]);
	EXPECT_EQ(0, f->nremove);
	EXPECT_LT(0, f->ctl.stats[PVMEM_STAT_ISOLATE_BUSY]);
	/* Unbind leaves it too: in use, not offlined "as is". */
	EXPECT_EQ(1U, fake_unbind(f, false));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(0, f->nremove);
	f->pinned[0] = 0;
}

/*
 * An idle memory block goes first, removed as a whole and unplugged
 * after; one in use all over is emptied with the range allocator and
 * unplugged, then removed with nothing plugged.
 */
TEST_F(fake, block_in_use_emptied_before_removal)
{
	struct fake *f = &self->f;
	long isolations;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64));
	f->used[1] = 1;
	f->used[2] = 1;
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_AT(f, 64);
	EXPECT_EQ(2, f->nremove);
	/* Block 0 (idle) was not isolated; block 2 (in use) was, whole. */
	EXPECT_EQ(1, f->isolations - isolations);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[2]);
	EXPECT_EQ(64U, f->map.nr_plugged[1]);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
}

/*
 * The order follows what is in use: the idle blocks first, then the one
 * with the fewest pages in use, though it is neither the topmost nor
 * the least plugged.
 */
TEST_F(fake, unplug_takes_least_in_use_first)
{
	struct fake *f = &self->f;
	const u32 sbs = f->map.sbs_per_mb;
	long isolations;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	f->sb_used[3 * sbs + 5] = 9; /* the topmost: more in use */
	f->sb_used[1 * sbs + 7] = 2;
	f->sb_used[2 * sbs + 60] = 5;
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64));
	EXPECT_EQ(0, f->isolations - isolations);
	EXPECT_EQ(0U, f->map.nr_plugged[0]);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	EXPECT_EQ(0U, f->map.nr_plugged[1]);
	EXPECT_EQ(64U, f->map.nr_plugged[2]);
	EXPECT_EQ(64U, f->map.nr_plugged[3]);
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	EXPECT_EQ(0U, f->map.nr_plugged[2]);
	EXPECT_EQ(64U, f->map.nr_plugged[3]);
	ASSERT_AT(f, 64);
}

/*
 * A block that goes whole but holds a few runs in use: only those runs
 * are isolated (migrated, zeroed) and unplugged, each in one request;
 * the free rest is removed untouched and unplugged after, a request for
 * each of the three pieces the runs left.
 */
TEST_F(fake, block_emptied_of_its_runs_in_use_then_removed)
{
	struct fake *f = &self->f;
	const u32 sbs = f->map.sbs_per_mb;
	long isolations, unplugs;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->used[0] = 1;
	f->sb_used[sbs + 10] = 3;
	f->sb_used[sbs + 11] = 3;
	f->sb_used[sbs + 40] = 1;
	isolations = f->isolations;
	unplugs = f->nr_type[VIRTIO_MEM_REQ_UNPLUG];
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_AT(f, 64);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[1]);
	EXPECT_EQ(64U, f->map.nr_plugged[0]);
	EXPECT_EQ(2, f->isolations - isolations);
	EXPECT_EQ(2 + 3, f->nr_type[VIRTIO_MEM_REQ_UNPLUG] - unplugs);
	EXPECT_EQ(1U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
	EXPECT_EQ(0, f->sb_used[sbs + 10] + f->sb_used[sbs + 40]);
}

/*
 * Emptying a block whose run in use will not migrate: that stays held,
 * and the free rest goes through the range allocator in one run instead
 * of by removal (nor device block by device block).
 */
TEST_F(fake, emptying_around_what_is_held)
{
	struct fake *f = &self->f;
	long isolations, unplugs;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	f->pinned[3] = FAKE_PIN_TOP;
	f->used[0] = 1;
	f->used[1] = 1;
	f->used[2] = 1;
	isolations = f->isolations;
	unplugs = f->nr_type[VIRTIO_MEM_REQ_UNPLUG];
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64));
	ASSERT_AT(f, 3 * 64);
	EXPECT_EQ(1U, f->map.nr_plugged[3]);
	EXPECT_TRUE(test_bit(3 * 64 + 63, f->map.held));
	EXPECT_EQ(63U, f->map.nr_plugged[2]);
	/* Block 3's free 63, then block 2's top. */
	EXPECT_EQ(2, f->isolations - isolations);
	EXPECT_EQ(2, f->nr_type[VIRTIO_MEM_REQ_UNPLUG] - unplugs);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
}

/* More runs in use than PVMEM_EMPTY_RUNS: the block goes in one run. */
TEST_F(fake, block_with_many_runs_in_use_isolated_whole)
{
	struct fake *f = &self->f;
	long isolations;
	u32 i;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	for (i = 0; i <= PVMEM_EMPTY_RUNS; i++)
		f->sb_used[2 + 3 * i] = 1;
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	EXPECT_EQ(1, f->isolations - isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
}

/*
 * Emptying a block whose removal then fails: the runs still free go
 * through the range allocator (nothing can land in them any more), then
 * what is in use again, and the block, empty now, is removed after.
 */
TEST_F(fake, emptied_block_removal_failure_takes_the_rest)
{
	struct fake *f = &self->f;
	long isolations;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	f->sb_used[20] = 1;
	f->fail_remove = 1;
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	/* Device block 20, then 21-63 and 0-19. */
	EXPECT_EQ(3, f->isolations - isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
}

/*
 * What migrates out of a block being emptied lands in its own free rest,
 * and the removal finds it.  pvmem does not chase it from device block to
 * device block: the next round takes the rest, and the block goes in the
 * same pass.
 */
TEST_F(fake, emptying_does_not_chase_what_migrated)
{
	struct fake *f = &self->f;
	long isolations;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	f->sb_used[20] = 1;
	f->land_in_block = true;
	isolations = f->isolations;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 0));
	ASSERT_AT(f, 0);
	/* 20 (its page lands in 63), 21-62 and 0-19, then 63. */
	EXPECT_EQ(4, f->isolations - isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_REMOVE_FAILED));
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
}

/* Big blocks of one 256 MiB device block each, as QEMU's block-size=256M. */
FIXTURE(big)
{
	struct fake f;
};

FIXTURE_SETUP(big)
{
	ASSERT_EQ(0, fake_init(&self->f, 16 * GiB, 256 * MiB, 8 * GiB));
	ASSERT_TRUE(self->f.map.bbm);
	ASSERT_EQ(1U, self->f.map.sbs_per_mb);
	fake_request(&self->f, 4 * 256 * MiB);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(&self->f, 50));
	ASSERT_AT(&self->f, 4);
}

FIXTURE_TEARDOWN(big)
{
	fake_free(&self->f);
}

/*
 * A big block with a few pages in use: only the pageblocks they lie in go
 * through the range allocator, the rest by removal, and the block goes.
 */
TEST_F(big, block_in_use_emptied_in_pieces)
{
	struct fake *f = &self->f;

	f->sb_used[0] = 3;
	fake_request(f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(0, f->isolations);
	EXPECT_EQ(1, f->takes);
	EXPECT_EQ(1U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
	EXPECT_EQ(4, f->nremove);
	EXPECT_EQ(0U, f->map.count[PVMEM_MB_OWED]);
}

/*
 * What migrated landed in the free rest, so the removal fails: the next
 * round takes that too, and the block goes in the same pass, whole never.
 */
TEST_F(big, pieces_taken_again_after_what_moved_lands)
{
	struct fake *f = &self->f;

	f->sb_used[0] = 3;
	f->land_takes = 1;
	fake_request(f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
	EXPECT_EQ(0, f->isolations);
	EXPECT_EQ(2, f->takes);
	EXPECT_EQ(1U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
}

/*
 * What moves lands back in the block every round: after PVMEM_EMPTY_ROUNDS
 * the pieces go back to Linux and the block goes through the range
 * allocator whole, still in the same pass.
 */
TEST_F(big, block_that_keeps_catching_what_moved_goes_whole)
{
	struct fake *f = &self->f;

	f->sb_used[0] = 3;
	f->land_takes = PVMEM_EMPTY_ROUNDS;
	fake_request(f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
	EXPECT_EQ(PVMEM_EMPTY_ROUNDS, f->takes);
	EXPECT_EQ(1, f->isolations);
	EXPECT_EQ(0U, pvmem_ctl_stat(&f->ctl, PVMEM_STAT_EMPTIED));
}

/*
 * More pages in use than PVMEM_EMPTY_PIECES, each in a pageblock of its
 * own in the fake: the memory layer takes nothing, the block goes whole.
 */
TEST_F(big, block_with_many_pages_in_use_goes_whole)
{
	struct fake *f = &self->f;

	f->sb_used[0] = PVMEM_EMPTY_PIECES + 1;
	fake_request(f, 0);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
	/* Tried, but the memory layer counted too many and took nothing. */
	EXPECT_EQ(1, f->take_tries);
	EXPECT_EQ(0, f->takes);
	EXPECT_EQ(1, f->isolations);
}

/*
 * A pinned page will not migrate: nothing is taken, the whole block
 * fails too, and it is held, plugged and Linux's, until it lets go.
 */
TEST_F(big, pinned_block_keeps_nothing_taken)
{
	struct fake *f = &self->f;

	f->pinned[0] = FAKE_PIN_ALL;
	fake_request(f, 0);
	ASSERT_EQ(PVMEM_RES_RETRY, fake_run(f, 50));
	ASSERT_AT(f, 1);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[0]);
	EXPECT_EQ(0, f->takes);
	EXPECT_EQ(PVMEM_NO_MB, f->taken_mb);
	f->pinned[0] = 0;
	f->now_ms += 60000;
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 0);
}

/*
 * The idle check is racy: a block that looked idle but is not by the
 * time it would go offline is refused by the notifier, and emptied first
 * instead, in the same pass.
 */
TEST_F(fake, block_that_looked_idle_is_emptied_instead)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->used[1] = 1;
	f->stale_idle = true;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_AT(f, 64);
	EXPECT_EQ(1, f->isolations);
	EXPECT_EQ(1, f->nremove);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[1]);
	EXPECT_EQ(0U, f->ctl.stats[PVMEM_STAT_REMOVE_FAILED]);
}

/*
 * While an UNPLUG over a memory block awaits the device, Linux may not
 * offline or online that block: its isolated pages are neither plugged
 * nor unplugged yet.  Other blocks may.
 */
TEST_F(fake, block_in_flight_refuses_onlining_and_offlining)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->race_mb = 1;
	f->race_online = false;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64 + 32));
	ASSERT_AT(f, 64 + 32);
	EXPECT_LT(0, f->races_refused);
	EXPECT_EQ(0, f->races_done);
	/* Block 0 is not in flight when block 1 is: its offlining goes. */
	f->race_mb = 0;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_AT(f, 64);
	EXPECT_EQ(1, f->races_done);
	EXPECT_EQ(PVMEM_MB_OFFLINE, f->map.state[0]);
}

/*
 * An offline block chosen for removal is REMOVING before it goes: a user
 * cannot online it (to a kernel zone, say) in between.
 */
TEST_F(fake, block_being_removed_refuses_onlining)
{
	struct fake *f = &self->f;

	f->auto_online = false;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->race_mb = 1;
	f->race_online = true;
	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	ASSERT_AT(f, 64);
	EXPECT_LT(0, f->races_refused);
	EXPECT_EQ(0, f->races_done);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[1]);
}

/*
 * A user's offlining of pinned memory goes on for as long as the page will
 * not move, and Linux holds the hotplug locks all that time.  pvmem leaves
 * that block alone and adds or removes no memory block meanwhile (the
 * fake fails the test if it tries): it unplugs what the range allocator
 * can take elsewhere, leaves the emptied block for a retry, and runs
 * again once the offlining ends.
 */
TEST_F(fake, unplug_leaves_an_offlining_block_alone)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 4 * 64));
	/* Block 1 would go first: the others hold more data. */
	memset(f->used, 2, 4);
	f->used[1] = 0;
	f->pinned[1] = FAKE_PIN_ALL;
	ASSERT_EQ(0, fake_offline_begin(f, 1));
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 3 * 64));
	EXPECT_EQ(PVMEM_WHY_OFFLINING, f->ctl.why);
	ASSERT_AT(f, 3 * 64);
	EXPECT_EQ(64, f->map.nr_plugged[1]);
	EXPECT_EQ(0, f->map.nr_plugged[3]);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[3]);
	EXPECT_EQ(0, f->nremove);
	/* The user gives up: the worker runs at once, and block 3 goes. */
	fake_offline_end(f, false);
	EXPECT_EQ(1, f->kicks);
	EXPECT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 3 * 64);
	EXPECT_EQ(1, f->nremove);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[3]);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[1]);
}

/*
 * Linux may begin to offline the very block an unplug just chose (its
 * notifier got the map lock as the pass dropped it): the attempt skips
 * that block and takes the other.
 */
TEST_F(fake, offlining_that_begins_after_planning_is_skipped)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->offline_after_count = 1;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 64));
	EXPECT_EQ(PVMEM_WHY_OFFLINING, f->ctl.why);
	ASSERT_EQ(1, f->map.offlining);
	ASSERT_AT(f, 64);
	EXPECT_EQ(64, f->map.nr_plugged[1]);
	EXPECT_EQ(0, f->map.nr_plugged[0]);
	fake_offline_end(f, false);
	EXPECT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 64);
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[0]);
}

/*
 * While Linux offlines a memory block, plugging fills the holes of the
 * others but not of that one, and hot-adds nothing; the rest waits until
 * the offlining ends.
 */
TEST_F(fake, plug_skips_an_offlining_block)
{
	struct fake *f = &self->f;

	sparse_blocks(_metadata, f, 8, 8);
	f->pinned[0] = FAKE_PIN_ALL;
	ASSERT_EQ(0, fake_offline_begin(f, 0));
	EXPECT_EQ(PVMEM_RES_DONE, want(f, 8 + 64));
	ASSERT_AT(f, 8 + 64);
	EXPECT_EQ(8, f->map.nr_plugged[0]);
	EXPECT_EQ(64, f->map.nr_plugged[1]);
	/* Only block 0's holes and new blocks are left: it waits. */
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 8 + 64 + 16));
	EXPECT_EQ(PVMEM_WHY_OFFLINING, f->ctl.why);
	ASSERT_AT(f, 8 + 64);
	EXPECT_EQ(2, f->nadd);
	fake_offline_end(f, false);
	EXPECT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 8 + 64 + 16);
	EXPECT_EQ(8 + 16, f->map.nr_plugged[0]);
	EXPECT_EQ(2, f->nadd);
}

/* A removal that fails leaves the block as Linux has it, and is retried. */
TEST_F(fake, failed_removal_is_retried)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	/* In use: isolated and unplugged, then the empty block's removal. */
	f->used[0] = 1;
	f->used[1] = 1;
	f->fail_remove = 1;
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 64));
	EXPECT_EQ(PVMEM_WHY_REMOVE, f->ctl.why);
	ASSERT_AT(f, 64);
	EXPECT_EQ(PVMEM_MB_MOVABLE, f->map.state[1]);
	EXPECT_EQ(0U, f->map.nr_plugged[1]);
	EXPECT_EQ(1U, f->ctl.stats[PVMEM_STAT_REMOVE_FAILED]);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 5));
	EXPECT_EQ(PVMEM_MB_UNUSED, f->map.state[1]);
}

/*
 * A PLUG or UNPLUG without a clean answer: the blocks never reach Linux
 * again, and they are counted.
 */
TEST_F(fake, unknown_outcome_blocks_stay_away)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 64));
	fake_script(f, 0, FA_LATE);
	EXPECT_EQ(PVMEM_RES_BROKEN, want(f, 32));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(32U, f->ctl.stats[PVMEM_STAT_UNKNOWN_BLOCKS]);
	EXPECT_EQ(32U, fake_usable(f));
	fake_free(f);
	ASSERT_EQ(0, fake_init(f, 16 * GiB, 2 * MiB, 8 * GiB));
	fake_script(f, 0, FA_NEVER);
	EXPECT_EQ(PVMEM_RES_BROKEN, want(f, 64));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_EQ(64U, f->ctl.stats[PVMEM_STAT_UNKNOWN_BLOCKS]);
	EXPECT_EQ(0U, fake_usable(f));
}

/*
 * A block onlined after a pass looked at offline_cap but before it
 * settled into waiting for onlining kicks a worker that is not waiting
 * yet: the kick must not be lost, plugging goes on to the request.
 */
TEST_F(fake, onlining_during_a_pass_is_never_lost)
{
	struct fake *f = &self->f;
	enum pvmem_result res;
	u32 mb;

	f->auto_online = false;
	f->ctl.knobs.offline_cap = 2 * 128 * MiB;
	fake_request(f, 3 * 128 * MiB);
	res = pvmem_ctl_pass(&f->ctl);
	ASSERT_EQ(PVMEM_RES_WAIT_ONLINE, res);
	ASSERT_EQ(PVMEM_DEV_PLUGGING, f->ctl.state);
	/* The pass has not settled: the worker is not waiting yet. */
	for (mb = 0; !f->added[mb] || f->zone[mb]; mb++)
		;
	ASSERT_EQ(0, fake_online(f, mb, true));
	EXPECT_EQ(0, f->kicks);
	EXPECT_EQ(0U, pvmem_ctl_settle(&f->ctl, res));
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 5));
	ASSERT_AT(f, 3 * 64);
}

/* A storm of config interrupts still lets every pass get somewhere. */
TEST_F(fake, config_storm_cannot_livelock)
{
	struct fake *f = &self->f;

	f->storm = true;
	fake_request(f, 20 * 64 * BLK);
	fake_run(f, 50);
	EXPECT_EQ(20U * 64, fake_dev_plugged(f));
	fake_request(f, 0);
	fake_run(f, 50);
	EXPECT_EQ(0U, fake_dev_plugged(f));
	f->storm = false;
	fake_run(f, 5);
	ASSERT_AT(f, 0);
}

/* BUSY to the give-back after a failed hot-add: owed, sent again. */
TEST_F(fake, busy_give_back_stays_owed)
{
	struct fake *f = &self->f;

	f->fail_add = 1;
	fake_script(f, 1, FA_BUSY);
	EXPECT_EQ(PVMEM_RES_RETRY, want(f, 64));
	EXPECT_EQ(PVMEM_WHY_BUSY, f->ctl.why);
	EXPECT_NE(PVMEM_DEV_BROKEN, f->ctl.state);
	EXPECT_EQ(1U, f->map.count[PVMEM_MB_OWED]);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 5));
	ASSERT_AT(f, 64);
	EXPECT_EQ(0U, f->map.count[PVMEM_MB_OWED]);
}

/*
 * A device that raises requested_size before usable_region_size shows a
 * contradiction between the two updates.  A few reads of it are read
 * again, a few passes of it retried; only a lasting one is broken.
 */
TEST_F(fake, growth_seen_half_done_is_read_again)
{
	struct fake *f = &self->f;
	unsigned int pass;

	f->dev.usable_region_size = 1 * GiB;
	fake_grow(f, 4 * GiB, PVMEM_CFG_READS - 1);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 4 * GiB / BLK);
	/* Several passes' worth: retried with backoff, then it goes on. */
	fake_grow(f, 6 * GiB, PVMEM_CFG_READS * (PVMEM_CFG_BAD_PASSES - 1));
	for (pass = 1; pass < PVMEM_CFG_BAD_PASSES; pass++) {
		EXPECT_EQ(PVMEM_RES_RETRY, fake_run(f, 1));
		EXPECT_EQ(PVMEM_WHY_CONFIG, f->ctl.why);
	}
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50));
	ASSERT_AT(f, 6 * GiB / BLK);
	EXPECT_EQ(0, f->events[PVMEM_EV_CONFIG_REJECTED]);
	/* A contradiction that lasts marks the device broken. */
	fake_grow(f, 7 * GiB, 1000);
	for (pass = 1; pass < PVMEM_CFG_BAD_PASSES; pass++)
		EXPECT_EQ(PVMEM_RES_RETRY, fake_run(f, 1));
	EXPECT_EQ(PVMEM_RES_BROKEN, fake_run(f, 1));
	EXPECT_EQ(1, f->events[PVMEM_EV_CONFIG_REJECTED]);
	EXPECT_STREQ("requested_size exceeds usable_region_size",
		     pvmem_ctl_broken_reason(&f->ctl));
}

/*
 * A device going away (unbind) must not wait for a whole resize: a pass
 * ends after the run in hand; teardown then runs its own pass to the end.
 */
TEST_F(fake, stop_ends_a_pass_after_one_run)
{
	struct fake *f = &self->f;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 40 * 64));
	fake_request(f, 0);
	pvmem_ctl_stop(&f->ctl, true);
	EXPECT_EQ(PVMEM_RES_AGAIN, pvmem_ctl_pass(&f->ctl));
	ASSERT_TRUE(fake_check(f)) TH_LOG("%s", f->err);
	EXPECT_LT(30U * 64, f->map.total_plugged);
	EXPECT_TRUE(pvmem_ctl_teardown(&f->ctl));
	ASSERT_AT(f, 0);
	EXPECT_EQ(0U, fake_unbind(f, true));
}

/*
 * Unbound in the middle of a pass (remove() gives nothing back then),
 * with a PLUG whose answer was lost: Linux keeps what is plugged, and a
 * new binding asks the device about every run before anything else.
 * What the map has plugged the device must have; what it does not, the
 * device gives up (here the lost PLUG, and a run left mixed).
 */
TEST_F(fake, rebind_adopts_what_unbind_left)
{
	struct fake *f = &self->f;
	long sends;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 3 * 64 + 5));
	f->used[0] = 1;
	f->used[1] = 1;
	fake_script(f, 0, FA_LATE);
	EXPECT_EQ(PVMEM_RES_BROKEN, want(f, 4 * 64));
	EXPECT_EQ(4U, fake_unbind(f, true));
	/* The lost PLUG was done; the host undid two blocks of it since. */
	f->dev_plugged[f->map_offset + 3 * 64 + 9] = 0;
	f->dev_plugged[f->map_offset + 3 * 64 + 11] = 0;
	EXPECT_EQ(4U * 64 - 2, fake_dev_plugged(f));
	sends = f->sends;
	fake_rebind(f);
	EXPECT_EQ(PVMEM_DEV_ADOPTING, f->ctl.state);
	fake_request(f, 2 * 64 * BLK);
	ASSERT_EQ(PVMEM_RES_DONE, fake_run(f, 50))
	TH_LOG("why %d state %s err %s", f->ctl.why,
	       pvmem_dev_state_name(f->ctl.state), f->err);
	EXPECT_EQ(1, f->events[PVMEM_EV_ADOPTED]);
	EXPECT_EQ(0, f->events[PVMEM_EV_LEFTOVERS_CLEARED]);
	EXPECT_LT(sends + 4, f->sends);
	memset(f->unknown, 0, f->dev_blocks);
	ASSERT_AT(f, 2 * 64);
	EXPECT_EQ(2 * 64, (int)fake_usable(f));
}

/*
 * A device that unplugged memory Linux holds while unbound: the new
 * binding marks it broken before any other request, and Linux keeps the
 * memory block (its contents are gone, nothing can bring them back).
 */
TEST_F(fake, rebind_refuses_memory_the_device_lost)
{
	struct fake *f = &self->f;
	long unplugs;

	ASSERT_EQ(PVMEM_RES_DONE, want(f, 2 * 64));
	f->pinned[1] = 1;
	EXPECT_EQ(1U, fake_unbind(f, false));
	f->dev_plugged[f->map_offset + 64 + 3] = 0;
	unplugs = f->nr_type[VIRTIO_MEM_REQ_UNPLUG];
	fake_rebind(f);
	fake_request(f, 0);
	EXPECT_EQ(PVMEM_RES_BROKEN, fake_run(f, 50));
	EXPECT_EQ(1, f->events[PVMEM_EV_ADOPT_LOST]);
	EXPECT_STREQ("the device lost memory Linux holds",
		     pvmem_ctl_broken_reason(&f->ctl));
	EXPECT_EQ(64U, f->map.total_plugged);
	EXPECT_EQ(unplugs, f->nr_type[VIRTIO_MEM_REQ_UNPLUG]);
	f->pinned[1] = 0;
}

/*
 * A crash kernel: the device is asked (STATE, one request per memory
 * block's worth, block by block where mixed) which blocks are plugged;
 * nothing is plugged, unplugged or added, whatever the device has.
 */
TEST_F(fake, crash_kernel_survey_finds_what_is_plugged)
{
	struct fake *f = &self->f;
	const u64 usable = f->dev.usable_region_size / BLK;
	unsigned long *bits;
	u64 i, plugged = 0;

	for (i = 0; i < usable; i++)
		f->dev_plugged[i] = i < 64 || (i >= 64 + 10 && i < 64 + 20) ||
				    i == 64 + 3 ||
				    (i >= 5 * 64 && i < 6 * 64) ||
				    i == usable - 1;
	for (i = 0; i < usable; i++)
		plugged += f->dev_plugged[i];
	bits = calloc(BITS_TO_LONGS(f->dev_blocks), sizeof(long));
	ASSERT_NE(NULL, bits);
	EXPECT_EQ((s64)plugged, pvmem_ctl_survey(&f->ctl, bits));
	for (i = 0; i < f->dev_blocks; i++)
		ASSERT_EQ(i < usable && f->dev_plugged[i], test_bit(i, bits))
	TH_LOG("device block %llu", (unsigned long long)i);
	EXPECT_EQ(PVMEM_DEV_KDUMP, f->ctl.state);
	EXPECT_STREQ("kdump", pvmem_dev_state_name(f->ctl.state));
	/* One per 64 blocks, 64 more for each of the two mixed ranges. */
	EXPECT_EQ((long)(usable / 64 + 2 * 64),
		  f->nr_type[VIRTIO_MEM_REQ_STATE]);
	EXPECT_EQ(f->nr_type[VIRTIO_MEM_REQ_STATE], f->sends);
	EXPECT_EQ(0, f->nadd);
	free(bits);
}

/* A STATE request without an answer: what is not known stays unplugged. */
TEST_F(fake, crash_kernel_survey_failure_keeps_blocks_away)
{
	struct fake *f = &self->f;
	unsigned long *bits;
	u64 i;

	memset(f->dev_plugged, 1, f->dev.usable_region_size / BLK);
	bits = calloc(BITS_TO_LONGS(f->dev_blocks), sizeof(long));
	ASSERT_NE(NULL, bits);
	fake_script(f, 2, FA_NEVER);
	EXPECT_EQ(-1, pvmem_ctl_survey(&f->ctl, bits));
	for (i = 0; i < f->dev_blocks; i++)
		ASSERT_EQ(i < 2 * 64, test_bit(i, bits));
	EXPECT_EQ(3, f->sends);
	free(bits);
}

TEST_HARNESS_MAIN
