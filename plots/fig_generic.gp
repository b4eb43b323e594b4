# Any other sweep: throughput, token RTT and pending-ACK against the swept value.
# needs: sweep-*.csv x throughput_min token_rtt_region_p50_ms peak_pending_bytes
fig_title = 'Throughput, token RTT and pending-ACK vs the swept value'
x_label = 'swept value'; x_log = 0; np = 3
c1 = 'throughput_min'; l1 = 'msgs/s (slowest receiver)'; s1 = 1; g1 = 0
c2 = 'token_rtt_region_p50_ms'; l2 = 'token RTT p50 ms'; s2 = 1; g2 = 1
c3 = 'peak_pending_bytes'; l3 = 'peak pending-ACK MB'; s3 = 1e-6; g3 = 0
load dir_plots.'/sweep.gp'
