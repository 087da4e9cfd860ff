# gnuplot -e "dat='busbw.dat'; out='docs/allreduce_busbw_4ranks.png'; ranks=4" bench/allreduce/plot_busbw.gp
# Columns of allreduce_bench --dat: bytes shm tcp mpi-default mpi-alg1..6 mpi-best
set terminal pngcairo size 900,560 noenhanced
set output out
set title sprintf("all-reduce busbw, %d ranks on one host (fp32 average)", ranks)
set logscale x 2
set logscale y 10
set xlabel "message size (bytes)"
set ylabel "busbw (GB/s)"
set key top left
set grid
set format x "%.0s%cB"
plot dat using 1:2 with linespoints lw 2 title "Ringleader shm", \
     dat using 1:3 with linespoints lw 2 title "Ringleader tcp ring", \
     dat using 1:4 with linespoints title "Open MPI default", \
     dat using 1:11 with linespoints title "Open MPI best tuned (per size)"
