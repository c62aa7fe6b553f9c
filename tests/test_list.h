/* Every test, in one place. `runner NAME` runs one; CMake registers each
 * with ctest (tests/CMakeLists.txt reads this file). */
#include "test.h"
/* clang-format off */ /* (tables laid out by hand) */

#define TEST_LIST(XX)                                                          \
  XX(varint_roundtrip)                                                         \
  XX(varint_rejects)                                                           \
  XX(zigzag)                                                                   \
  XX(crc32c)                                                                   \
  XX(event_decode)                                                             \
  XX(api_errors)                                                               \
  XX(api_restart_and_flush)                                                    \
  XX(api_fork)                                                                 \
  XX(clock_skew_falls_back)                                                    \
  XX(clock_tracks_monotonic)                                                   \
  XX(roundtrip)                                                                \
  XX(sample_pipeline)                                                          \
  XX(stress_threads)                                                           \
  XX(stress_signals)                                                           \
  XX(drops_counted)                                                            \
  XX(drops_chunkless_thread)                                                   \
  XX(killed_process)                                                           \
  XX(corrupt_truncated)                                                        \
  XX(corrupt_bitflips)                                                         \
  XX(corrupt_no_crc)                                                           \
  XX(corrupt_problem_kinds)                                                    \
  XX(cli_golden_files)                                                         \
  XX(cli_usage)                                                                \
  XX(cli_ctf_module)                                                           \
  XX(run_errors)                                                               \
  XX(run_transparent)                                                          \
  XX(run_leaves_nothing)                                                       \
  XX(run_replaces_old_trace)                                                   \
  XX(run_contended_mutex)                                                      \
  XX(run_sleeper_offcpu)                                                       \
  XX(run_heap_counts)                                                          \
  XX(run_fork_exec_files)                                                      \
  XX(run_shell_children)                                                       \
  XX(run_syscalls_vs_strace)                                                   \
  XX(run_workpool_items)                                                       \
  XX(perf_switches)                                                            \
  XX(perf_syscalls)                                                            \
  XX(perf_unprivileged_message)                                                \
  XX(perf_filter)                                                              \
  XX(perf_pending_cap)                                                         \
  XX(perf_ring_wrap)                                                           \
  XX(perf_open_pid)                                                            \
  XX(cpu_samples_stacks) XX(cpu_samples_partial) XX(cpu_samples_self)         \
  XX(cpu_samples_unprivileged)                                                 \
  XX(lttng_native_equal)                                                       \
  XX(lttng_only)                                                               \
  XX(lttng_run_preloaded)                                                      \
  XX(lttng_ctf_errors)                                                         \
  XX(lttng_processes_discards)                                                 \
  XX(lttng_ust_wrappers)                                                       \
  XX(lttng_late_start)                                                         \
  XX(stats_known_answers)                                                      \
  XX(stats_window_thread)                                                      \
  XX(stats_cli_json)                                                           \
  XX(analyses_synth_trace) XX(analyses_regions) XX(analyses_tasks) XX(analyses_items) XX(analyses_mmu) XX(analyses_heap) XX(analyses_window) XX(analyses_thread) XX(analyses_json) XX(analyses_processes) XX(analyses_task_regions) \
  XX(stats_cli_errors)                                                         \
  XX(diff_tests_known_answers) XX(diff_synth_flags_slow_only)                  \
  XX(diff_synth_metric_threshold) XX(diff_cli_errors) XX(diff_recorded_runs)   \
  XX(diff_synth_estimated)                                                     \
  XX(quantile_sketch_error) XX(quantile_sketch_merge)                          \
  XX(quantile_dist_exact_then_estimated) XX(stats_percentiles_estimated)      \
  XX(symbols_pie) XX(symbols_nopie) XX(symbols_unknown) XX(symbols_build_id)   \
  XX(symbols_debug_dirs) XX(symbols_mappings_overlap) XX(symbols_speed)        \
  XX(cpu_profile_top) XX(cpu_profile_go_pprof) XX(cpu_profile_region)         \
  XX(cpu_profile_diff)                                                         \
  XX(cpu_profile_flight)                                                       \
  XX(cpu_profile_kernel) XX(cpu_profile_kernel_hidden) XX(symbols_kernel)      \
  XX(cpu_profile_vs_perf)                                                      \
  XX(cpu_profile_record_pid) XX(record_pid_cpu_errors)                        \
  XX(view_pid_pprof) XX(view_pid_trace) XX(view_pid_errors)                    \
  XX(grow_synth_pieces) XX(grow_own_trace_bursts) XX(grow_files_added)        \
  XX(perf_attach_threads_once)                                                 \
  XX(cpu_profile_api)                                                          \
  XX(cpu_profile_source_api) XX(cpu_symbols_shared)                            \
  XX(cpu_profile_export)                                                       \
  XX(heap_run_every) XX(heap_run_sampled) XX(heap_run_pprof) XX(heap_run_leaks) \
  XX(heap_run_estimates) XX(heap_run_api) XX(heap_api_synth)                  \
  XX(heap_profile_synth)                                                       \
  XX(why_lock_holder) XX(why_chain_of_three) XX(why_missing_edge)              \
  XX(why_cpu_contention) XX(why_task_flow) XX(why_cli) XX(run_why_chain)       \
  XX(run_why_contention)                                                       \
  XX(compare_aligned_index) XX(compare_view_errors)                            \
  XX(scale_windows)                                                            \
  XX(scale_index_file)                                                         \
  XX(scale_bad_trace)                                                          \
  XX(scale_routes)                                                             \
  XX(scale_stats)                                                              \
  XX(scale_cli)                                                                \
  XX(scale_live)                                                               \
  XX(scale_states)                                                             \
  XX(scale_search_exact) XX(scale_search_continue) XX(scale_search_flows)     \
  XX(scale_search_arrow_kinds)                                                 \
  XX(scale_counter_windows) XX(scale_counter_file) XX(scale_counter_routes)   \
  XX(scale_analyses_synth) XX(scale_analyses_cli) XX(run_scale_analyses)        \
  XX(cpu_self_api) XX(cpu_self_env) XX(cpu_self_no_module)                     \
  XX(cpu_self_old_options) XX(run_cpu_self_launcher)                           \
  XX(cpu_self_sigprof) XX(cpu_self_sigprof_taken) XX(run_cpu_sigprof)          \
  XX(stress_signals_sigprof)                                                   \
  XX(export_samples_recorded) XX(export_samples_no_namer)                      \
  XX(profile_recorded_trace)                                                   \
  XX(samples_timeline_api)                                                     \
  XX(pyramid_windows) XX(pyramid_trace) XX(pyramid_counters)                 \
  XX(pprof_known_answers)                                                      \
  XX(pprof_cli_decode)                                                         \
  XX(pprof_cli_errors)                                                         \
  XX(pprof_sched)                                                              \
  XX(flight_dump_window)                                                       \
  XX(flight_signal)                                                            \
  XX(flight_byte_cap)                                                          \
  XX(flight_crash_segv)                                                        \
  XX(flight_crash_abort)                                                       \
  XX(flight_crash_overflow)                                                    \
  XX(flight_crash_thread)                                                      \
  XX(flight_crash_stuck_writer)                                                \
  XX(flight_fork)                                                              \
  XX(flight_api)                                                               \
  XX(flight_settings)                                                          \
  XX(run_flight)                                                              \
  XX(control_record) XX(control_errors) XX(control_preload) XX(control_peer)   \
  XX(control_socket_files) XX(control_dump)                                   \
  XX(stacks_threads)                                                           \
  XX(stacks_preload)                                                           \
  XX(stacks_errors)                                                            \
  XX(json_read_events) XX(json_read_typed) XX(json_read_errors) XX(json_read_export)

/* clang-format on */
TEST_LIST(TEST_DECLARE)
