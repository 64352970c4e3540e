#!/bin/bash
# usage: cpu_per_step.sh PEPR_A PEPR_B PYTHON arch size [arch size ...]   (PYTHON: one with torch and timm)
# CPU seconds (user+sys) per training step, from two runs with different step counts (12 and 2 timed
# steps, same set-up), so process start, imports, model building and warm-up cancel out: for pepr
# binaries A and B and for PyTorch (OMP_WAIT_POLICY=passive so idle OpenMP threads sleep instead of
# spinning). Robust to other processes' load (it counts CPU work, not wall time), not to cache contention.
# Needs GNU time (/usr/bin/time) and python3; nothing in pepr's build or tests uses this script.
A=$1; B=$2; PY=$3; shift 3
PEER=$(dirname "$0")/torch_train.py
cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1+$2}'; }
while [ $# -gt 0 ]; do
  a=$1; s=$2; shift 2
  l0=$(cut -d' ' -f1 /proc/loadavg)
  a12=$(cpu $A bench train --arch $a --size $s --threads 2 --steps 12)
  b12=$(cpu $B bench train --arch $a --size $s --threads 2 --steps 12)
  t12=$(OMP_WAIT_POLICY=passive cpu $PY $PEER --models $a --sizes $s --threads 2 --steps 12)
  a2=$(cpu $A bench train --arch $a --size $s --threads 2 --steps 2)
  b2=$(cpu $B bench train --arch $a --size $s --threads 2 --steps 2)
  t2=$(OMP_WAIT_POLICY=passive cpu $PY $PEER --models $a --sizes $s --threads 2 --steps 2)
  l1=$(cut -d' ' -f1 /proc/loadavg)
  python3 -c "a=($a12-$a2)/10; b=($b12-$b2)/10; t=($t12-$t2)/10; print('$a@$s cpu s/step A %.3f B %.3f torch %.3f  A/B %.2f torch/B %.2f torch/A %.2f (raw A $a12 $a2 B $b12 $b2 T $t12 $t2) load $l0-$l1' % (a, b, t, a/b, t/b, t/a))"
done
