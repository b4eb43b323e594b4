# Fig 24-26: a rising send rate grows pending data, CPU and latency; timers fire late.
# needs: sweep-*.csv x peak_pending_bytes sender_cpu_pct latency_p99_ms timer_lateness_p99_ms
fig_title = 'Pending-ACK, CPU, latency and timer lateness vs send rate (Fig 24-26)'
x_label = 'send rate, msgs/s'; x_log = 0; np = 4
c1 = 'peak_pending_bytes'; l1 = 'peak pending-ACK MB'; s1 = 1e-6; g1 = 0
c2 = 'sender_cpu_pct'; l2 = 'sender CPU %'; s2 = 1; g2 = 0
c3 = 'latency_p99_ms'; l3 = 'latency p99 ms'; s3 = 1; g3 = 1
c4 = 'timer_lateness_p99_ms'; l4 = 'timer lateness p99 ms'; s4 = 1; g4 = 1
load dir_plots.'/sweep.gp'
