# Fig 5-6: the group-set experiment (qsm-harness groupsets). Left: regions per node (mean, and max
# dashed) against the number of nodes, one line per number of groups, over the paper's 4-14 band.
# Right: the share of a node's traffic in its k busiest regions (mean over nodes) for the largest
# size, under both traffic models, with the paper's "95% in 2 regions" marked.
# Parameters: table1 (groupsets.csv), table2 (traffic-concentration.csv), out, fmt, dir_plots.
# needs: groupsets.csv nodes groups regions_per_node_mean regions_per_node_max
# needs: traffic-concentration.csv k share_equal share_by_size nodes groups
set datafile separator ','
set datafile columnheaders
undefine STATS_*
stats table1 using (column('groups')) nooutput
rows = exists('STATS_records') ? STATS_records : 0
print sprintf('series regions-per-node %d', rows)
undefine STATS_*
stats table2 using (column('k')) nooutput
print sprintf('series traffic-concentration %d', exists('STATS_records') ? STATS_records : 0)
# The distinct group counts, in the order they appear.
glist = ''
do for [i=0:rows-1] {
  stats table1 every ::i::i using (column('groups')) nooutput
  g = sprintf('%d', STATS_min)
  if (strstrt(' '.glist.' ', ' '.g.' ') == 0) { glist = glist.' '.g }
}
stats table2 every ::0::0 using (column('nodes')) nooutput
big_nodes = STATS_min
stats table2 every ::0::0 using (column('groups')) nooutput
big_groups = STATS_min
width = 1200; height = 460
load dir_plots.'/common.gp'
set multiplot layout 1,2 title 'Group sets on the paper''s workload (Fig 5-6)' font ',13'
set logscale y
set yrange [1:*]
set xlabel 'nodes'
set ylabel 'regions per node'
set key top left
set object 1 rect from graph 0, first 4 to graph 1, first 14 behind fc rgb '#9ecae1' fs transparent solid 0.3 noborder
set label 1 'paper: 4-14' at graph 0.02, first 9 font ',9' tc rgb '#3182bd'
ng = words(glist)
plot for [i=1:ng] table1 using (column('groups') == int(word(glist, i)) ? column('nodes') : 1/0):(column('regions_per_node_mean')) \
       with linespoints pt 7 ps 0.8 lw 2 lc i title word(glist, i).' groups: mean, max dashed', \
     for [i=1:ng] table1 using (column('groups') == int(word(glist, i)) ? column('nodes') : 1/0):(column('regions_per_node_max')) \
       with lines dt 2 lw 1 lc i notitle
unset object 1
unset label 1
unset logscale y
set autoscale y
set xlabel 'k (busiest regions of a node)'
set ylabel 'share of the node''s traffic'
set yrange [0:1.05]
set xrange [0.5:*]
set key bottom right
set arrow 1 from 2, graph 0 to 2, graph 1 nohead dt 3 lc rgb '#888888'
set label 2 'paper: 95% in 2' at 2.2, 0.985 font ',9' tc rgb '#3182bd'
set title sprintf('%d nodes, %d groups', big_nodes, big_groups) font ',10'
plot 0.95 with lines dt 3 lc rgb '#3182bd' notitle, \
     table2 using (column('k')):(column('share_equal')) with linespoints pt 7 ps 0.7 lw 2 title 'every group at the same rate', \
     table2 using (column('k')):(column('share_by_size')) with linespoints pt 5 ps 0.7 lw 2 title 'rate grows with group size'
unset multiplot
