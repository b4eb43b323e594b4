# Shared by the plot scripts: terminal, CSV input, fault-window shading, and the data check.
# Expects: fmt ('png' or 'svg'), out (output path without extension), width, height.
if (fmt eq 'svg') {
  set terminal svg size width,height dynamic enhanced font 'sans,11' background rgb 'white'
} else {
  set terminal pngcairo size width,height enhanced font 'sans,10' background rgb 'white'
}
set output out.'.'.fmt
set datafile separator ','
set datafile columnheaders
set grid lc rgb '#dddddd'
set key top right font ',9' samplen 2 opaque box lc rgb '#cccccc'

# that no plotted series is empty.

# shade_faults(file): a translucent band for every fault window in faults.csv (type, nodes,
# start_s, end_s, via), labelled "type@nodes" at the top of the panel it precedes.
nfaults = 0
if (exists('faults_file')) {
  undefine STATS_*
  stats faults_file using 3 nooutput
  nfaults = exists('STATS_records') ? STATS_records : 0
  do for [i=0:nfaults-1] {
    stats faults_file every ::i::i using 3 nooutput
    fs_ = STATS_min
    stats faults_file every ::i::i using 4 nooutput
    fe_ = STATS_min
    if (fe_ <= fs_) { fe_ = fs_ + 0.05 }  # a crash: a thin mark
    set object (100 + i) rect from fs_, graph 0 to fe_, graph 1 behind fc rgb '#e8a33d' fs transparent solid 0.25 noborder
  }
}
