# Step against time around the kill of one rank (recovery_bench --timeline FILE):
#   gnuplot -e "data='timeline.dat'; out='docs/recovery.png'" bench/recovery/plot_recovery.gp
if (!exists("data")) data = 'timeline.dat'
if (!exists("out")) out = 'recovery.png'
set terminal pngcairo size 900,480 font ",11"
set output out
set title "One of 4 ranks SIGKILLed at t = 0 (checkpoint every 50 steps)"
set xlabel "seconds since the kill"
set ylabel "training step (gang)"
set key left top
set grid
set xrange [-1:8]
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb "red"
plot data index 0 using 1:2 with points pt 7 ps 0.3 lc rgb "#1f77b4" title "in place (ringleader-worker launch)", \
     data index 1 using 1:2 with points pt 7 ps 0.3 lc rgb "#ff7f0e" title "whole-gang process restart (ringleader run)"
