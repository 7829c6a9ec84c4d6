# Runs until SIGTERM, then writes "<after-hook|no-hook> <time in ns>" to $DIR/$HOSTNAME-term:
# whether $DIR/$HOSTNAME-hook (what its preStop hook creates) existed when the signal came.
# Renamed into place, so a reader that sees the file sees all of it.
trap 'if [ -e "$DIR/$HOSTNAME-hook" ]; then r=after-hook; else r=no-hook; fi
      echo "$r $(date +%s%N)" > "$DIR/$HOSTNAME-term.tmp"
      mv "$DIR/$HOSTNAME-term.tmp" "$DIR/$HOSTNAME-term"; exit 0' TERM
echo waiting
while :; do sleep 0.05; done
