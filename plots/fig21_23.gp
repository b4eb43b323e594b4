# Fig 21-23: throughput and token RTT vs size, undisturbed and under the sleep and loss
# needs: sweep-*.csv x throughput_min token_rtt_region_p99_ms
# perturbations (one line per sweep).
fig_title = 'Throughput and token RTT vs size under perturbations (Fig 21-23)'
x_step = 1; x_label = 'nodes'; x_log = 0; np = 2
c1 = 'throughput_min'; l1 = 'msgs/s (slowest receiver)'; s1 = 1; g1 = 0
c2 = 'token_rtt_region_p99_ms'; l2 = 'token RTT p99 ms'; s2 = 1; g2 = 1
load dir_plots.'/sweep.gp'
