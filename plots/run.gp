# One run over time: throughput per receiver, pending-ACK bytes, cache bytes, token RTT and
# delivery latency quantiles, with every fault window shaded (faults.csv) and labelled.
# Usage: gnuplot -e "dir='RUN'; out='RUN/plots/timeseries'; fmt='png'; nodes=4; title='NAME'; token=1" plots/run.gp
# token=0: the engine has no token ring (engine.kind norm or udp); its panel says so.
# needs: timeseries.csv t_s node delivered_per_s pending_bytes cache_bytes latency_p50_ms latency_p99_ms
# needs: cluster.csv t_s token_rtt_p50_ms token_rtt_p99_ms
# needs: faults.csv type nodes start_s end_s
width = 1100; height = 1350
faults_file = dir.'/faults.csv'
load dir_plots.'/common.gp'
ts = dir.'/timeseries.csv'
cl = dir.'/cluster.csv'

undefine STATS_*
stats ts using (column('delivered_per_s')) nooutput
print sprintf('series throughput %d', exists('STATS_records') ? STATS_records : 0)
if (!exists('token')) token = 1
if (token) {
  undefine STATS_*
  stats cl using (column('token_rtt_p99_ms') > 0 ? column('token_rtt_p99_ms') : 1/0) nooutput
  print sprintf('series token_rtt %d', exists('STATS_records') ? STATS_records : 0)
}

set multiplot layout 5,1 title title font ',13'
set lmargin 12
set xlabel ''
set format x ''
set ylabel 'delivered msgs/s'
set yrange [0:*]
if (nfaults > 0) {
  set y2range [0:1]
  plot for [n=1:nodes] ts using 1:(column('node') == n ? column('delivered_per_s') : 1/0) with linespoints pt 7 ps 0.4 lw 1.5 title sprintf('node %d', n), \
       faults_file using (column('start_s')):(0.93):(sprintf('%s@%s', strcol('type'), strcol('nodes'))) axes x1y2 with labels left noenhanced font ',8' tc rgb '#9a5b00' notitle
} else {
  plot for [n=1:nodes] ts using 1:(column('node') == n ? column('delivered_per_s') : 1/0) with linespoints pt 7 ps 0.4 lw 1.5 title sprintf('node %d', n)
}
set ylabel 'pending-ACK MB'
plot for [n=1:nodes] ts using 1:(column('node') == n ? column('pending_bytes') / 1e6 : 1/0) with lines lw 1.5 title sprintf('node %d', n)
set ylabel 'cache MB'
plot for [n=1:nodes] ts using 1:(column('node') == n ? column('cache_bytes') / 1e6 : 1/0) with lines lw 1.5 title sprintf('node %d', n)
set ylabel 'token RTT ms'
if (token) {
  set logscale y
  set yrange [*:*]
  plot cl using 1:(column('token_rtt_p50_ms') > 0 ? column('token_rtt_p50_ms') : 1/0) with linespoints pt 7 ps 0.4 lw 1.5 title 'p50', \
       cl using 1:(column('token_rtt_p99_ms') > 0 ? column('token_rtt_p99_ms') : 1/0) with linespoints pt 7 ps 0.4 lw 1.5 title 'p99'
} else {
  set yrange [0:1]
  set label 1 'no token ring in this engine' at graph 0.5, 0.5 center
  plot cl using 1:(2) with lines notitle  # off the scale: the time axis only
  unset label 1
  set yrange [*:*]
  set logscale y
}
set ylabel 'latency ms'
set xlabel 'seconds since the start'
set format x '%g'
plot for [n=1:nodes] ts using 1:(column('node') == n && column('latency_p99_ms') > 0 ? column('latency_p99_ms') : 1/0) with lines lw 1.5 title sprintf('p99 node %d', n), \
     ts using 1:(column('latency_p50_ms') > 0 ? column('latency_p50_ms') : 1/0) with points pt 7 ps 0.3 lc rgb '#888888' title 'p50 (all nodes)'
unset multiplot
