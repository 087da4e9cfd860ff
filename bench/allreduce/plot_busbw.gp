# gnuplot -e "dat='busbw.dat'; out='docs/allreduce_busbw_4ranks.png'; ranks=4" bench/allreduce/plot_busbw.gp
# Columns of allreduce_bench --dat (medians over --repeat): bytes shm tcp mpi-default
# mpi-alg1..6 mpi-tcp mpi-best
set terminal pngcairo size 900,560 noenhanced
set output out
set title sprintf("all-reduce busbw, %d ranks on one host (fp32 average, median of repeats)", ranks)
set logscale x 2
set logscale y 10
set xlabel "message size (bytes)"
set ylabel "busbw (GB/s)"
set key top left
set grid
set xtics ("4B" 4, "64B" 64, "1KiB" 1024, "16KiB" 16384, "256KiB" 262144, "4MiB" 4194304, "64MiB" 67108864)
set format y "%g"
plot dat using 1:2 with linespoints lw 2 title "Ringleader shm", \
     dat using 1:3 with linespoints lw 2 title "Ringleader tcp ring", \
     dat using 1:4 with linespoints title "Open MPI default", \
     dat using 1:11 with linespoints title "Open MPI over TCP (--mca btl tcp,self)", \
     dat using 1:12 with linespoints title "Open MPI best of default, tuned algorithms 1-6 and TCP (per size)"
