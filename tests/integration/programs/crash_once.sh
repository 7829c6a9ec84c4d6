# Counts its runs in a file: the first run prints "run 1" and fails, later runs print their
# number and stay up, so the restarted container has a previous run to show.
n=$(cat runs 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > runs
echo "run $n"
if [ "$n" -eq 1 ]; then exit 1; fi
exec sleep 3600
