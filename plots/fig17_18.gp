# Fig 17-18: a slower token means a longer token RTT and more pending-ACK memory.
# needs: sweep-*.csv x token_rtt_region_p50_ms peak_pending_bytes throughput_min
fig_title = 'Token RTT and pending-ACK memory vs token rate (Fig 17-18)'
x_label = 'token rounds per second'; x_log = 1; np = 3
c1 = 'token_rtt_region_p50_ms'; l1 = 'token RTT p50 ms'; s1 = 1; g1 = 1
c2 = 'peak_pending_bytes'; l2 = 'peak pending-ACK MB'; s2 = 1e-6; g2 = 0
c3 = 'throughput_min'; l3 = 'msgs/s (slowest receiver)'; s3 = 1; g3 = 0
load dir_plots.'/sweep.gp'
