# Several runs over time, overlaid: mean delivered msgs/s per receiver, the slowest receiver, and
# the region's token RTT p99; the fault windows of the last run listed are shaded.
# Usage: gnuplot -e "runs='BASELINE PERTURBED'; titles='baseline sleep'; out='PREFIX'; fmt='png'; dir_plots='plots'" plots/overlay.gp
# needs: cluster.csv t_s delivered_per_s_mean delivered_per_s_min token_rtt_p99_ms
# needs: faults.csv type nodes start_s end_s
width = 1100; height = 800
n = words(runs)
faults_file = word(runs, n).'/faults.csv'
load dir_plots.'/common.gp'
token_points = 0  # token RTT points over all runs: 0 when no run's engine has a token ring
do for [i=1:n] {
  undefine STATS_*
  stats word(runs, i).'/cluster.csv' using (column('delivered_per_s_mean')) nooutput
  print sprintf('series %s %d', word(titles, i), exists('STATS_records') ? STATS_records : 0)
  undefine STATS_*
  stats word(runs, i).'/cluster.csv' using (column('token_rtt_p99_ms') > 0 ? column('token_rtt_p99_ms') : 1/0) nooutput
  token_points = token_points + (exists('STATS_records') ? STATS_records : 0)
}
set multiplot layout 2,1 title sprintf('%s over %s', word(titles, n), word(titles, 1)) noenhanced font ',13'
set lmargin 12
set format x ''
set ylabel 'delivered msgs/s per receiver'
set yrange [0:*]
plot for [i=1:n] word(runs, i).'/cluster.csv' using 1:(column('delivered_per_s_mean')) with lines lw 2 title word(titles, i).' (mean)' noenhanced, \
     for [i=1:n] word(runs, i).'/cluster.csv' using 1:(column('delivered_per_s_min')) with lines dt 2 lw 1 title word(titles, i).' (slowest)' noenhanced
set format x '%g'
set xlabel 'seconds since the start'
set ylabel 'token RTT p99 ms'
if (token_points > 0) {
  set logscale y
  set yrange [*:*]
  plot for [i=1:n] word(runs, i).'/cluster.csv' using 1:(column('token_rtt_p99_ms') > 0 ? column('token_rtt_p99_ms') : 1/0) with linespoints pt 7 ps 0.4 lw 2 title word(titles, i) noenhanced
} else {
  set yrange [0:1]
  set label 1 'no token ring in these engines' at graph 0.5, 0.5 center
  plot word(runs, 1).'/cluster.csv' using 1:(2) with lines notitle  # off the scale: the time axis only
}
unset multiplot
