# Fig 27-29: memory, throughput and token RTT vs the number of groups in one region.
# needs: sweep-*.csv x max_rss_bytes throughput_min token_rtt_region_p50_ms
fig_title = 'Memory, throughput and token RTT vs number of groups (Fig 27-29)'
x_label = 'groups'; x_log = 1; np = 3
c1 = 'max_rss_bytes'; l1 = 'peak memory per node MB'; s1 = 1e-6; g1 = 0
c2 = 'throughput_min'; l2 = 'msgs/s (slowest receiver)'; s2 = 1; g2 = 0
c3 = 'token_rtt_region_p50_ms'; l3 = 'token RTT p50 ms'; s3 = 1; g3 = 1
load dir_plots.'/sweep.gp'
