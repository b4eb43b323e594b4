# Fig 14-15: throughput and CPU vs the number of nodes (1 sender; the others receive).
# needs: sweep-*.csv x throughput_min sender_cpu_pct receiver_cpu_pct
fig_title = 'Throughput and CPU vs number of nodes (Fig 14-15)'
x_step = 1; x_label = 'nodes'; x_log = 0; np = 3
c1 = 'throughput_min'; l1 = 'msgs/s (slowest receiver)'; s1 = 1; g1 = 0
c2 = 'sender_cpu_pct'; l2 = 'sender CPU %'; s2 = 1; g2 = 0
c3 = 'receiver_cpu_pct'; l3 = 'receiver CPU % (mean)'; s3 = 1; g3 = 0
load dir_plots.'/sweep.gp'
