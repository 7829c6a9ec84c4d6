# "started", then the content of $DIR/$HOSTNAME-say-1, -say-2, ... as each file appears, touching
# $DIR/$HOSTNAME-said-N once the line is written; exits with the number in $DIR/$HOSTNAME-exit
# once that file appears. The test creates the files; polling here is the program's own loop,
# not the test's synchronisation.
echo "started"
n=1
while :; do
  if [ -e "$DIR/$HOSTNAME-say-$n" ]; then
    cat "$DIR/$HOSTNAME-say-$n" && touch "$DIR/$HOSTNAME-said-$n"
    n=$((n + 1))
  elif [ -e "$DIR/$HOSTNAME-exit" ]; then
    code=$(cat "$DIR/$HOSTNAME-exit")
    rm -f "$DIR/$HOSTNAME-exit"
    exit "$code"
  else
    sleep 0.05
  fi
done
