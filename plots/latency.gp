# The delivery latency percentile spectrum of one run or several, on a "nines" axis
# (50, 90, 99, 99.9, ...), latency on a log scale.
# Usage: gnuplot -e "runs='RUN1 RUN2'; titles='baseline sleep'; out='PREFIX'; fmt='png'; dir_plots='plots'" plots/latency.gp
# needs: latency_percentiles.csv percentile nines latency_ms
width = 900; height = 560
load dir_plots.'/common.gp'
n = words(runs)
do for [i=1:n] {
  undefine STATS_*
  stats word(runs, i).'/latency_percentiles.csv' using (column('latency_ms')) nooutput
  print sprintf('series %s %d', word(titles, i), exists('STATS_records') ? STATS_records : 0)
}
set title 'delivery latency by percentile (from the intended send time)'
set xlabel 'percentile'
set ylabel 'latency ms'
set logscale y
set xtics ('0' 0, '50' log10(2), '90' 1, '99' 2, '99.9' 3, '99.99' 4, '99.999' 5, '99.9999' 6)
set xrange [0:*]
set key top left
plot for [i=1:n] word(runs, i).'/latency_percentiles.csv' using (column('nines')):(column('latency_ms') > 0 ? column('latency_ms') : 1/0) \
     with linespoints pt 7 ps 0.6 lw 2 title word(titles, i) noenhanced
