#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make mutants: a mutation check of pvmem's unit tests.

Each mutation below breaks one rule of the pure core or the passes (a
validation, the request cap, a plug or unplug order rule, a give-back on
failure, a state transition, the answer policy).  Each is applied alone to
a scratch copy of the tree; the unit tests (tools/testing/pvmem/pvmem_test)
must then fail (they stop at the first test that does).  Only the core and
the passes are mutated: the tests and the fake are compiled once for all.  A mutation whose text is not found exactly once is an
error: the list must follow the code.

Ends with 'N of M mutations caught'; exits 1 unless N = M.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
CORE = 'drivers/virtio/pvmem_core.c'
# A mutant may leave a helper unused: no reason to stop; -O0 builds quicker.
MUTANT_CFLAGS = '-Wno-error -O0'
# Seconds a mutant's unit tests may run (a mutant can make a loop endless).
TEST_TIMEOUT = 120
PASS = 'drivers/virtio/pvmem_pass.c'

# (name, file, text in the source, text it becomes)
MUTANTS = [
    ('tidy_takes_fuller_blocks', CORE,
     '!n || n > sparse ||', '!n ||'),
    ('tidy_ignores_the_holes', CORE,
     '\t\t    map->nr_plugged[best])\n\t\treturn false;\n\t*mb = best;', '\t\t    map->nr_plugged[best] && 0)\n\t\treturn false;\n\t*mb = best;'),
    ('tidy_not_rate_limited', PASS,
     '\tif (now < ctl->tidy_at) {', '\tif (0) {'),
    ('tidy_ignores_knob_off', PASS,
     '\tif (!every || READ_ONCE(ctl->stop) ||', '\tif (READ_ONCE(ctl->stop) ||'),
    ('tidy_while_stopping', PASS,
     '\tif (!every || READ_ONCE(ctl->stop) ||', '\tif (!every ||'),
    ('tidy_never_scheduled', PASS,
     '\t\treturn res == PVMEM_RES_DONE ? ctl->tidy_wait : PVMEM_NO_PASS;', '\t\treturn PVMEM_NO_PASS;'),
    ('memmap_of_owed_blocks_counted', CORE,
     '\t\t    map->state[mb] != PVMEM_MB_OWED)\n\t\t\tn += map->sbs_per_mb', '\t\t    1)\n\t\t\tn += map->sbs_per_mb'),
    ('memory_map_isolated_with_its_block', CORE,
     '\tfloor = want >= map->nr_plugged[mb] ? 0 : pinned;',
     '\tfloor = 0;'),
    ('memory_map_only_block_not_last', CORE,
     '\t\trank += 2 * PVMEM_UNPLUG_TIERS;', ''),
    ('memory_map_only_block_never_taken', CORE,
     '\t\trank += 2 * PVMEM_UNPLUG_TIERS;', '\t\treturn -1;'),
    ('overshoot_not_plugged_back', PASS,
     '\tif (req < plugged && ctl->map->total_plugged * bs < req)\n\t\treturn PVMEM_RES_AGAIN;', ''),
    ('plug_short_of_request_passes_again', PASS,
     '\tif (req < plugged && ctl->map->total_plugged * bs < req)', '\tif (ctl->map->total_plugged * bs < req)'),
    ('overshoot_wraps_want', PASS,
     '\t\twant -= done < want ? done : want;', '\t\twant -= done;'),
    ('memory_map_not_cut_from_a_failed_removal', PASS,
     '\tif (run->sb < pinned) {', '\tif (run->sb < pinned && 0) {'),
    ('memory_map_asked_for_partial_block', PASS,
     '\t\tselfmap = ctl->map->nr_plugged[i] == ctl->lo.sbs_per_mb &&',
     '\t\tselfmap = ctl->map->nr_plugged[i] &&'),
    ('memory_map_kept_after_removal', CORE,
     '\tif (state == PVMEM_MB_OWED || state == PVMEM_MB_UNUSED)\n\t\tpvmem_map_set_selfmap(map, mb, false);\n', ''),
    ('refused_memory_map_asked_again', PASS,
     '\t\tctl->selfmap_off = true;', '\t\t;'),
    ('every_config_read_reported_as_resize', PASS,
     '\tif (cfg.requested_size != ctl->cfg.requested_size)\n\t\tpvmem_report(ctl, PVMEM_EV_RESIZE',
     '\tif (cfg.requested_size || 1)\n\t\tpvmem_report(ctl, PVMEM_EV_RESIZE'),
    ('no_block_size_pow2_check', CORE,
     '\tif (!is_power_of_2(bs))\n\t\treturn PVMEM_CFG_BS_NOT_POW2;\n', ''),
    ('no_pageblock_check', CORE,
     '\tif (bs < lim->pageblock_size)\n\t\treturn PVMEM_CFG_BS_BELOW_PAGEBLOCK;\n', ''),
    ('no_plug_start_check', CORE,
     'if (cfg->addr < lim->plug_start || end - 1 > lim->plug_end)',
     'if (end - 1 > lim->plug_end)'),
    ('no_usable_within_region_check', CORE,
     '\tif (cfg->usable_region_size > cfg->region_size)\n'
     '\t\treturn PVMEM_CFG_USABLE_GT_REGION;\n', ''),
    ('no_requested_within_usable_check', CORE,
     '\tif (cfg->requested_size > cfg->usable_region_size)\n'
     '\t\treturn PVMEM_CFG_REQUESTED_GT_USABLE;\n', ''),
    ('no_immutable_addr_check', CORE,
     '\tif (cfg->addr != old->addr)\n\t\treturn PVMEM_CFG_CHANGED_ADDR;\n', ''),
    ('no_response_length_check', CORE,
     '\tif (len != PVMEM_RESP_SIZE)\n\t\treturn PVMEM_RESP_BAD_LEN;\n', ''),
    ('no_response_valid_for_request_check', CORE,
     '\tif (!(pvmem_resp_valid[req_type] & (1 << type)))\n'
     '\t\treturn PVMEM_RESP_BAD_FOR_REQ;\n', ''),
    ('no_request_cap_on_plug', CORE,
     '\tif (nb > PVMEM_MAX_REQ_BLOCKS)\n\t\tnb = PVMEM_MAX_REQ_BLOCKS;\n\t/* Big blocks are plugged',
     '\t/* Big blocks are plugged'),
    ('no_request_cap_on_owed_unplug', CORE,
     ' && end - bit < PVMEM_MAX_REQ_BLOCKS &&\n', ' &&\n'),
    ('keeper_rule_inverted', CORE,
     'if (want < 2 * (u64)map->sbs_per_mb)', 'if (want >= 2 * (u64)map->sbs_per_mb)'),
    ('offline_blocks_not_unplugged_first', CORE,
     '\t\treturn 0; /* nothing to migrate */', '\t\treturn 3; /* nothing to migrate */'),
    ('illegal_block_transition_allowed', CORE,
     '\t[PVMEM_MB_KERNEL] = 1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_MOVABLE |\n'
     '\t\t\t    1 << PVMEM_MB_REMOVING,',
     '\t[PVMEM_MB_KERNEL] = 1 << PVMEM_MB_OFFLINE | 1 << PVMEM_MB_MOVABLE |\n'
     '\t\t\t    1 << PVMEM_MB_REMOVING | 1 << PVMEM_MB_OWED,'),
    ('no_give_back_after_failed_unplug', PASS,
     '\t\tif (online)\n\t\t\tctl->ops->release(ctl->be, run);\n\t\treturn pvmem_answer_result(ctl, ans);',
     '\t\treturn pvmem_answer_result(ctl, ans);'),
    ('no_release_when_plugging_online_block', PASS,
     '\t\tif (pvmem_mb_online(map, run->mb))\n\t\t\tctl->ops->release(ctl->be, run);\n', ''),
    ('no_give_back_after_failed_add', PASS,
     '\tres = pvmem_settle_owed(ctl);\n\treturn res != PVMEM_RES_DONE ? res : pvmem_retry(ctl, PVMEM_WHY_ADD);',
     '\treturn pvmem_retry(ctl, PVMEM_WHY_ADD);'),
    ('lost_unplug_answer_gives_memory_back', PASS,
     'if (pvmem_answer_untouched(ans)) {',
     'if (ans != PVMEM_ANS_ACK) {'),
    ('added_block_left_adding', PASS,
     '\t\telse if (ctl->map->state[i] == PVMEM_MB_ADDING)\n'
     '\t\t\tpvmem_set_mb(ctl, i, PVMEM_MB_OFFLINE);\n', ''),
    ('owed_block_never_unused', PASS,
     '\t\t\tif (!map->nr_plugged[mb])\n\t\t\t\tpvmem_set_mb(ctl, mb, PVMEM_MB_UNUSED);\n', ''),
    ('error_answer_retried', PASS,
     '\t\treturn pvmem_broken(ctl, "device answered ERROR");',
     '\t\treturn pvmem_retry(ctl, PVMEM_WHY_BUSY);'),
    ('unplug_online_knob_ignored', PASS,
     '\t\t\t\t   READ_ONCE(ctl->knobs.unplug_online));', '\t\t\t\t   true);'),
    ('tidy_ignores_unplug_online', PASS,
     '\t    !READ_ONCE(ctl->knobs.unplug_online))', '\t    0)'),
    ('offline_cap_ignored', PASS,
     '\t\tcapped = pvmem_new_mb_allowed(ctl);', '\t\tcapped = ~0U;'),
    ('plugged_size_mismatch_ignored', PASS,
     '\tif (cfg.plugged_size != plugged) {', '\tif (0) {'),
    ('backoff_never_grows', PASS,
     'delay > hi / 2 ? hi : delay * 2', 'delay'),
    ('failed_block_not_skipped', PASS,
     '\tif (done < want && pvmem_skipped(ctl, *res))\n\t\tpvmem_map_set_busy(ctl->map, run->mb);\n',
     ''),
    ('requests_after_broken', PASS,
     '\tif (res == PVMEM_RES_BROKEN)\n\t\treturn res;\n\towed = pvmem_settle_owed(ctl);',
     '\towed = pvmem_settle_owed(ctl);'),
    ('online_block_removed_without_idle_check', PASS,
     '(pvmem_mb_online(map, run->mb) && pvmem_mb_idle(ctl, run->mb))',
     'pvmem_mb_online(map, run->mb)'),
    ('unplug_order_ignores_use', CORE,
     '\tif (map->in_use[mb] != map->in_use[best])\n', '\tif (0)\n'),
    ('unplug_order_most_in_use_first', CORE,
     '\t\treturn map->in_use[mb] < map->in_use[best];', '\t\treturn map->in_use[mb] > map->in_use[best];'),
    ('use_never_recounted', PASS,
     '\t\tif (ctl->recount)\n\t\t\tpvmem_count_in_use(ctl);\n', ''),
    ('runs_in_use_not_emptied_first', PASS,
     '\tif (pvmem_unplug_may_empty(ctl, run)) {', '\tif (0) {'),
    ('too_many_runs_emptied', PASS,
     '\treturn runs && runs <= PVMEM_EMPTY_RUNS;', '\treturn runs;'),
    ('emptied_removal_not_tried_again', PASS,
     '\tfor (round = 0; round < PVMEM_EMPTY_ROUNDS; round++) {\n\t\tif (round) {',
     '\tfor (round = 0; round < 1; round++) {\n\t\tif (round) {'),
    ('emptying_ignores_held', PASS,
     '\t\tif (pvmem_held_back(ctl, *res)) {\n\t\t\tdone += pvmem_unplug_kind(ctl, mb, false, res);',
     '\t\tif (pvmem_held_back(ctl, *res)) {\n\t\t\tdone += 0;'),
    ('removal_only_for_whole_runs', PASS,
     '\tif (ctl->keep_blocks || run->nb != map->nr_plugged[run->mb])\n\t\treturn false;\n',
     '\tif (ctl->keep_blocks)\n\t\treturn false;\n'),
    ('block_not_marked_in_flight', PASS,
     '\tctl->map->inflight = run->mb;\n', ''),
    ('empty_block_not_marked_removing', PASS,
     '\t\tif (found && hotplug)\n\t\t\tpvmem_set_mb(ctl, mb, PVMEM_MB_REMOVING);\n', ''),
    ('unknown_outcome_not_counted', PASS,
     'if (ans != PVMEM_ANS_ACK && !pvmem_answer_untouched(ans))', 'if (0)'),
    ('reap_forgets_memory_in_use', PASS,
     '\t\tif (map->state[mb] != PVMEM_MB_OWED)\n\t\t\tcontinue;\n', ''),
    ('failed_removal_not_skipped', PASS,
     '\t\t\tpvmem_lock(ctl);\n\t\t\tpvmem_map_set_busy(ctl->map, mb);\n\t\t\tpvmem_unlock(ctl);\n',
     ''),
    ('onlining_during_pass_lost', PASS,
     '\t\tif (res == PVMEM_RES_WAIT_ONLINE && READ_ONCE(ctl->kicked))\n\t\t\treturn 0;\n', ''),
    ('config_storm_livelocks_plugging', PASS,
     '\t\tif (done &&\n\t\t    (ctl->ops->config_changed(ctl->be) ||',
     '\t\tif ((ctl->ops->config_changed(ctl->be) ||'),
    ('config_storm_livelocks_unplugging', PASS,
     '\t\tif (tried && (ctl->ops->config_changed(ctl->be) ||',
     '\t\tif ((ctl->ops->config_changed(ctl->be) ||'),
    ('config_contradiction_fatal_at_once', CORE,
     '\treturn err >= PVMEM_CFG_USABLE_UNALIGNED &&\n\t       err <= PVMEM_CFG_REQUESTED_GT_USABLE;',
     '\treturn false;'),
    ('lasting_contradiction_never_fatal', PASS,
     '++ctl->cfg_bad >= PVMEM_CFG_BAD_PASSES', '0'),
    ('stop_ignored_by_unplug', PASS,
     '\t\tif (tried && (ctl->ops->config_changed(ctl->be) ||\n\t\t\t      READ_ONCE(ctl->stop))) {',
     '\t\tif (tried && ctl->ops->config_changed(ctl->be)) {'),
    ('unplug_sent_under_the_lock', PASS,
     '\tpvmem_unlock(ctl);\n\tans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_UNPLUG, run);\n\tpvmem_lock(ctl);',
     '\tans = pvmem_send_run(ctl, VIRTIO_MEM_REQ_UNPLUG, run);'),
    ('adoption_trusts_a_device_that_lost_memory', PASS,
     '\tif (plugged && state != VIRTIO_MEM_STATE_PLUGGED)\n\t\treturn pvmem_adopt_lost(ctl, run);\n',
     ''),
    ('adoption_keeps_leftovers_plugged', PASS,
     '\tif (state == VIRTIO_MEM_STATE_PLUGGED)\n\t\treturn pvmem_adopt_unplug(ctl, run, freed);',
     '\tif (state == VIRTIO_MEM_STATE_PLUGGED)\n\t\treturn PVMEM_RES_DONE;'),
    ('teardown_skips_unplug_all', PASS,
     '\tif (ctl->ops->send(ctl->be, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0) ==\n\t    PVMEM_ANS_ACK)\n',
     '\tif (1)\n'),
    ('teardown_unplug_all_failure_unreported', PASS,
     '\tpvmem_report(ctl, PVMEM_EV_UNPLUG_ALL_FAILED, 0, 0, 0);\n', ''),
    ('teardown_migrates_data', PASS,
     ' && !pvmem_teardown_migrates(ctl)) {', ' && 0) {'),
    ('teardown_migrate_budget_unbounded', PASS,
     '\tif (!ctl->migrate_budget)\n\t\treturn false;\n', ''),
    ('teardown_removes_memory', PASS,
     '\tif (ctl->keep_blocks || run->nb != map->nr_plugged[run->mb])',
     '\tif (run->nb != map->nr_plugged[run->mb])'),
    ('survey_takes_mixed_for_unplugged', PASS,
     '\t\tif (state == VIRTIO_MEM_STATE_UNPLUGGED)\n\t\t\tcontinue;\n\t\tfor (i = first;',
     '\t\tif (state != VIRTIO_MEM_STATE_PLUGGED)\n\t\t\tcontinue;\n\t\tfor (i = first;'),
    ('survey_goes_on_after_a_lost_answer', PASS,
     '\t\tans = pvmem_survey_query(ctl, first, nb, &state);\n\t\tif (ans != PVMEM_ANS_ACK)\n\t\t\treturn -1;',
     '\t\tans = pvmem_survey_query(ctl, first, nb, &state);\n\t\tif (ans != PVMEM_ANS_ACK)\n\t\t\tcontinue;'),
    ('bbm_split_one_by_one', PASS,
     '\t    !ctl->lo.bbm)\n\t\tdone = pvmem_unplug_singly',
     '\t    1)\n\t\tdone = pvmem_unplug_singly'),
    ('held_not_ranked_last', CORE,
     '\trank = 2 * tier + pvmem_mb_held(map, mb);', '\trank = 2 * tier;'),
    ('held_never_recorded', PASS,
     '\t\t\tpvmem_map_hold(ctl->map, run);\n', ''),
    ('held_not_forgotten_on_plug', PASS,
     '\t\tpvmem_map_clear_held(ctl->map);\n', ''),
    ('held_kept_when_unplugged', CORE,
     '\t\t\tmap->nr_held--;\n', ''),
    ('held_attempt_not_news', CORE,
     '\t\tmap->nr_held++;\n\t}\n\tmap->held_gen++;\n', '\t\tmap->nr_held++;\n\t}\n'),
    ('singly_stops_at_the_run', PASS,
     '\twhile (sb-- > floor && done < want) {', '\twhile (sb-- > run->sb && done < want) {'),
    ('bbm_planner_takes_part_of_a_block', CORE,
     '\tif (map->bbm && map->nr_plugged[mb] > want)\n\t\treturn -1;\n', ''),
    ('bbm_plug_run_not_whole', CORE,
     '\tif (map->bbm)\n\t\tnb -= nb % map->sbs_per_mb;\n', ''),
    ('bbm_target_not_rounded', PASS,
     '\tif (!ctl->lo.bbm || req % mb_size == 0)', '\tif (1)'),
    ('reap_keeps_empty_blocks', PASS,
     '\t*again = pvmem_remove_empty(ctl) != PVMEM_RES_DONE;',
     '\t*again = false;'),
    ('emptying_chases_what_migrated', PASS,
     '\t\tif (round) {\n\t\t\tdone += pvmem_unplug_kind(ctl, mb, false, res);',
     '\t\tif (0) {\n\t\t\tdone += pvmem_unplug_kind(ctl, mb, false, res);'),
    ('big_block_never_emptied', PASS,
     '\tif (map->bbm)\n\t\treturn true;', '\tif (map->bbm)\n\t\treturn false;'),
    ('pieces_taken_only_once', PASS,
     '\t\tif (!pvmem_remove_locked(ctl, mb)) {\n\t\t\tpvmem_count(ctl, PVMEM_STAT_EMPTIED);\n\t\t\treturn true;\n\t\t}\n\t}',
     '\t\tif (!pvmem_remove_locked(ctl, mb)) {\n\t\t\tpvmem_count(ctl, PVMEM_STAT_EMPTIED);\n\t\t\treturn true;\n\t\t}\n\t\tbreak;\n\t}'),
    ('pieces_kept_when_block_stays', PASS,
     '\tctl->ops->put_taken(ctl->be, mb);\n\treturn false;', '\treturn false;'),
    ('failed_pieces_not_whole', PASS,
     '\t\tif (*res != PVMEM_RES_DONE) {\n\t\t\tdone = 0;\n\t\t\tgoto out;\n\t\t}',
     '\t\tdone = 0;\n\t\tgoto out;'),
    ('hotplug_while_linux_offlines', PASS,
     '\treturn ctl->map->offlining == PVMEM_NO_MB;', '\treturn true;'),
    ('removal_while_linux_offlines', PASS,
     '\t\thotplug = pvmem_may_hotplug(ctl);\n\t\tif (found && hotplug)',
     '\t\thotplug = true;\n\t\tif (found && hotplug)'),
    ('hot_add_while_linux_offlines', PASS,
     '\t\thotplug = pvmem_may_hotplug(ctl);\n\t\tnew_mb =',
     '\t\thotplug = true;\n\t\tnew_mb ='),
    ('hole_of_offlining_block_plugged', CORE,
     '\t\t    map->nr_plugged[mb] == map->sbs_per_mb ||\n\t\t    pvmem_mb_offlining(map, mb))',
     '\t\t    map->nr_plugged[mb] == map->sbs_per_mb)'),
    ('offlining_block_unplugged', PASS,
     '\tif (pvmem_mb_offlining(ctl->map, run->mb))\n\t\treturn pvmem_retry(ctl, PVMEM_WHY_OFFLINING);\n\tif (online) {',
     '\tif (online) {'),
]


def ksrc():
    """The unpacked kernel source parts of the main tree, so no copy
    unpacks them again."""
    return subprocess.check_output([os.path.join(ROOT, 'scripts', 'ksrc')], text=True).strip()


def scratch_tree(dst):
    """The sources the unit tests build from, copied."""
    for d in ('drivers', 'include', 'tools/testing/pvmem'):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns('pvmem_test', 'pvmem_fuzz', '*.o',
                                                      'crash-*', '*.ko', '.*.cmd'))
    os.makedirs(os.path.join(dst, 'scripts'))
    shutil.copy(os.path.join(ROOT, 'scripts', 'ksrc'), os.path.join(dst, 'scripts'))


def run_one(name, path, old, new, ks, base):
    """Apply one mutation in a scratch tree; True if the unit tests fail
    (they are stopped at the first failure)."""
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix='pvmem-mutant-')
    try:
        scratch_tree(tmp)
        src = os.path.join(tmp, path)
        with open(src) as f:
            text = f.read()
        if text.count(old) != 1:
            print('ERROR %s: its text occurs %d times in %s' % (name, text.count(old), path))
            return False
        with open(src, 'w') as f:
            f.write(text.replace(old, new))
        unit = os.path.join(tmp, 'tools', 'testing', 'pvmem')
        b = subprocess.run(['make', '-s', '-C', unit, 'mutant', 'KSRC=' + ks, 'BASE=' + base,
                            'EXTRA_CFLAGS=' + MUTANT_CFLAGS],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if b.returncode:
            print('ERROR %s: the mutant does not build:\n%s' % (name, b.stdout[-1500:]))
            return False
        caught, fails = first_failure(unit)
        print('%s %s (%.0f s)%s' % ('caught ' if caught else 'MISSED ', name,
                                   time.time() - t0, (': ' + fails) if fails else ''),
              flush=True)
        return caught
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def first_failure(unit):
    """Run @unit's pvmem_test until its first failing test: (whether one
    failed, which)."""
    p = subprocess.Popen(['./pvmem_test'], cwd=unit, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, ASAN_OPTIONS='detect_leaks=1'))
    timer = threading.Timer(TEST_TIMEOUT, p.kill)
    timer.start()
    try:
        for line in p.stdout:
            if line.startswith('not ok'):
                p.kill()
                return True, line.strip()
        rc = p.wait()
        if not timer.is_alive():
            return True, 'timeout'
        return rc != 0, ''
    finally:
        timer.cancel()
        p.stdout.close()
        p.wait()


def main():
    only = sys.argv[1:]
    ks = ksrc()
    todo = [m for m in MUTANTS if not only or m[0] in only]
    start = time.time()
    for name, path, _, _ in todo:
        if path not in (CORE, PASS):
            print('ERROR %s: only %s and %s may be mutated (see mutant-base)' % (name, CORE, PASS))
            return 1
    base = tempfile.mkdtemp(prefix='pvmem-mutant-base-')
    try:
        subprocess.check_call(['make', '-s', '-C', os.path.join(ROOT, 'tools', 'testing', 'pvmem'),
                               'mutant-base', 'KSRC=' + ks, 'BASE=' + base,
                               'EXTRA_CFLAGS=' + MUTANT_CFLAGS])
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            caught = sum(pool.map(lambda m: run_one(*m, ks, base), todo))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print('(%.0f s)' % (time.time() - start))
    print('%d of %d mutations caught' % (caught, len(todo)))
    return 0 if caught == len(todo) else 1


if __name__ == '__main__':
    sys.exit(main())
