# One figure from sweep tables (sweep-NAME.csv): np panels stacked, each a column against the
# swept value x, one line per table. The figure scripts (fig*.gp) set the panels and load this.
# Parameters: files, titles (space separated), out, fmt, dir_plots; from the figure script:
# fig_title, x_label, x_log, np, and for k = 1..np: c<k> (column), l<k> (label), s<k> (scale),
# g<k> (1: log scale).
# A panel whose column has no data in any table (CPU in simulation) is left out; a figure with
# no panel left is reported as empty.
set datafile separator ','  # common.gp sets these too, but it is loaded once the size is known
set datafile columnheaders
n = words(files)
shown = ''
do for [k=1:np] {
  points = 0
  do for [i=1:n] {
    undefine STATS_*
    stats word(files, i) using (column(value(sprintf('c%d', k))) >= 0 ? column(value(sprintf('c%d', k))) : 1/0) nooutput
    points = points + (exists('STATS_records') ? STATS_records : 0)
  }
  if (points > 0) { shown = shown.sprintf(' %d', k) }
}
print sprintf('series %s %d', fig_title, words(shown))
width = 1000; height = 300 * (words(shown) > 0 ? words(shown) : 1) + 80
load dir_plots.'/common.gp'
set multiplot layout words(shown),1 title fig_title noenhanced font ',13'
set lmargin 12
if (x_log) { set logscale x }
# Whole-number steps when the swept values are few and small (nodes 2..8), automatic otherwise.
undefine STATS_*
stats word(files, 1) using (column('x')) nooutput
if (exists('x_step') && exists('STATS_max') && STATS_max - STATS_min <= 12) { set xtics x_step }
set offsets graph 0.02, graph 0.02, graph 0.08, 0  # headroom: a flat line does not hide in the frame
do for [j=1:words(shown)] {
  k = int(word(shown, j))
  col = value(sprintf('c%d', k))
  scale = value(sprintf('s%d', k))
  set ylabel value(sprintf('l%d', k)) noenhanced
  if (value(sprintf('g%d', k))) { set logscale y; set yrange [*:*] } else { unset logscale y; set yrange [0:*] }
  if (j == words(shown)) { set xlabel x_label; set format x '%g' } else { set xlabel ''; set format x '' }
  plot for [i=1:n] word(files, i) using (column('x')):(column(col) >= 0 ? column(col) * scale : 1/0) \
       with linespoints pt 7 ps 0.8 lw 2 title word(titles, i) noenhanced
}
unset multiplot
